"""Alembic migrations: the only way hybridlens creates or changes its database schema.

Run them with ``app.core.db.upgrade_database`` (what the CLI and the tests do) or with
``alembic -c migrations/alembic.ini upgrade head`` against ``HYBRIDLENS_DATABASE_URL``.
"""
