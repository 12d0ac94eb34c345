"""Films: registration by sha256, uploader metadata, and queries across the archive."""
