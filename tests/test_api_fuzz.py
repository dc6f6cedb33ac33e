"""Property-based API fuzzing from our own OpenAPI document (schemathesis): no 5xx, and every
response matches the spec. Writes use the real token, so link creation and deletion are exercised.
Derandomized so CI is reproducible; raise MAX_EXAMPLES locally to explore further.

Drives schemathesis through its Python API and hypothesis directly (its pytest plugin does not
support the locked pytest version)."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import AUTH

MAX_EXAMPLES = 60


def test_api_conforms_to_its_openapi(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(headers=AUTH, excluded_checks=_excluded(case))

        check()



def _excluded(case) -> list:
    """schemathesis 4.32 generates, in its positive mode, ticket ids and agents holding characters the
    spec's pattern excludes (control and format characters such as U+0083: the pattern is compiled and
    obeyed by hypothesis' from_regex, yet such values come through), and the API rightly refuses them
    with 400. Only for the two writes that take those fields, and only for a value that fails the spec's
    own pattern, is the "schema-valid data accepted" check left out; every other check still runs."""
    import re

    from schemathesis.specs.openapi.checks import positive_data_acceptance

    from search.service.openapi import AGENT, TICKET_ID

    body = case.body if isinstance(case.body, dict) else {}
    values = [(body.get("ticket_id"), TICKET_ID), (body.get("agent"), AGENT)]
    against = any(isinstance(v, str) and not re.search(schema["pattern"], v) for v, schema in values)
    return [positive_data_acceptance] if against else []
