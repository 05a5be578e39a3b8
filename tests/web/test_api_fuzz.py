"""Schemathesis fuzzes the JSON API against its own OpenAPI document, over real HTTP, as an agent
holding an API token: no request may produce a server error, and every answer must match the
schema the API publishes. Bounded: a fixed number of examples per operation, derandomized."""
from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

# once, on PostgreSQL when configured: the fuzzer tests the API's validation and schema; each route's queries
# are tested on every backend in test_api_queue.py, test_actions.py and test_corrections.py
pytestmark = [pytest.mark.slow, pytest.mark.one_backend]
EXAMPLES = 15


@pytest.fixture
def api(server, hostile_data, users, db):
    from sqlalchemy import select

    from repwatch.web.users import create_token
    from storage.models import User

    with db.session() as s:
        _, token = create_token(s, s.scalar(select(User).where(User.name == "agent")), "fuzz")
    headers = {"Authorization": f"Bearer {token}"}
    spec = httpx.get(f"{server.url}/api/openapi.json", headers=headers).json()
    return server.url, headers, spec


def test_openapi_covers_tickets_incidents_mentions_and_actions(api):
    _, _, spec = api
    paths = set(spec["paths"])
    assert {"/api/tickets", "/api/tickets/{ticket_id}", "/api/incidents", "/api/incidents/{incident_id}",
            "/api/mentions", "/api/tickets/{ticket_id}/assign", "/api/tickets/{ticket_id}/move",
            "/api/tickets/{ticket_id}/notes", "/api/tickets/{ticket_id}/follow-up",
            "/api/tickets/{ticket_id}/silence"} <= paths
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_api_survives_fuzzing_against_its_own_schema(api):
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    base_url, headers, spec = api
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11

    statuses = set()
    for operation in operations:
        # valid requests (positive) and requests that break the schema on purpose (negative)
        for mode in schemathesis.GenerationMode:
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                response = case.call(base_url=base_url, headers=headers)
                statuses.add(response.status_code)
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

            fuzz()
    # the fuzzing reached real work (200), missing rows (404), refused actions (409) and bad input (422)
    assert {200, 404, 409, 422} <= statuses
