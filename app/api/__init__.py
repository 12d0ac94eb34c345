"""The HTTP API: dependencies (``deps``), response views (``schemas``) and thin routers."""
