"""Frame embeddings: storing them with an analysis, and look-alike search over them."""
