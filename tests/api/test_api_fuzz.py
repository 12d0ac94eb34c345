"""A property-based run over the OpenAPI schema (schemathesis): whatever it sends, with a
read-write token, the API answers without a server error."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from app.core.config import Settings
from app.core.db import session_scope
from app.main import create_app
from tests.app.factories import make_analysis, make_film
from tests.service_harness import Tokens

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


# The schema does not depend on settings: read it from an app that is never served; the
# cases are sent to the test's own app (PostgreSQL, Redis) below.
# Only the fuzzing phase (random valid and invalid cases): the boundary-value coverage phase
# sends hundreds of cases per operation, minutes of run time for little more.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(Settings()),
    config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}}),
)


@pytest.fixture
def seeded(service_env: Settings) -> None:
    # A little stored data, so some generated ids find something.
    with session_scope(service_env.sqlalchemy_url) as session:
        for number in range(3):
            make_analysis(session, film_id=make_film(session, title=f"fuzz {number}"))


@schema.parametrize()
@settings(
    # A handful per operation keeps the run short; derandomized, so a failure reproduces.
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_answers_with_a_server_error(
    case: schemathesis.Case, client: TestClient, tokens: Tokens, seeded: None
) -> None:
    case.call_and_validate(app=client.app, headers=tokens.header(), checks=[not_a_server_error])
