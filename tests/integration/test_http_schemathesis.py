"""Schemathesis against the API's own OpenAPI description (``/openapi.json``): requests
generated from it, sent with a token of every role and with none, never get a server
error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from application.access import ROLES
from infra.http.app import create_app
from infra.http.rules import TokenFailures
from infra.settings import Settings
from tests.integration.test_http_access import World


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("schemathesis")
    yield World(root, Settings(data_dir=root / "data"))


@pytest.fixture(scope="module")
def api_schema(world: World) -> Any:
    app = create_app(
        world.settings,
        releases=world.releases,
        token_failures=TokenFailures(allowed=10**9),  # here no caller guesses
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors_for_any_role(api_schema: Any, world: World) -> None:
    # Driven through hypothesis directly: schemathesis's pytest loader does not run on this
    # pytest.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Any) -> None:
            for role in (*ROLES, None):
                response = case.call(headers=world.headers(role))
                case.validate_response(response, checks=[not_a_server_error])

        no_server_error()
