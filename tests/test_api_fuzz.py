"""Property-based API fuzzing from our own OpenAPI document (schemathesis): no 5xx, and every
response matches the spec. Writes use the real token, so link creation and deletion are exercised.
Derandomized so CI is reproducible; raise max_examples locally to explore further."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import AUTH


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case):
    case.call_and_validate(headers=AUTH)
