"""Collections of films and their statistics."""
