"""Schemathesis against the app's OpenAPI schema, in-process: no generated request may get a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from crossmargin.web.app import create_app

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app()).exclude(path="/api/monitor/stream")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    response = case.call()
    assert response.status_code < 500, response.text
