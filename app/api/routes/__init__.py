"""One router per resource; each route parses, calls a service, returns a view."""
