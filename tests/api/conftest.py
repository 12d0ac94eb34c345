"""Service fixtures (PostgreSQL, Redis, the API, Celery workers): see tests/service_harness.py."""

from tests.service_harness import (  # noqa: F401 - fixtures are found by name
    clean_db,
    client,
    service_db_url,
    service_env,
    service_redis_url,
    start_worker,
    tokens,
)
