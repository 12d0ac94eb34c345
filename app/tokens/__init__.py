"""API tokens: created once, stored hashed, checked on every request."""
