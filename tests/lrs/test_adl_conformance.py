"""Requirements that ADL's LRS conformance suite (xAPI 1.0.3) checks and the other files here
did not cover yet; each test cites the specification text it is derived from."""

from __future__ import annotations

import json

from tests.lrs.conftest import Lrs

AGENT = json.dumps({"mbox": "mailto:someone@example.com"})


def test_a_method_a_resource_does_not_have_is_405_before_authentication(lrs: Lrs) -> None:
    """Communication 3.2: "405 Method Not Allowed - Indicates that the request method is not
    supported by the resource". That holds whoever asks, so it comes before the 401 for missing
    credentials (ADL suite: DELETE on statements, activities and agents without credentials)."""
    cases = [
        ("DELETE", "statements", {"statementId": "2b9c3a6e-3c4f-4d5e-9f6a-7b8c9d0e1f2a"}),
        ("DELETE", "activities", {"activityId": "http://example.com/a"}),
        ("DELETE", "agents", {"agent": AGENT}),
        ("POST", "activities", {"activityId": "http://example.com/a"}),
        ("PUT", "agents", {"agent": AGENT}),
        ("POST", "about", {}),
    ]
    for method, resource, params in cases:
        for auth in (None, "all"):
            response = lrs.request(method, resource, params=params, auth=auth)
            assert response.status_code == 405, (method, resource, auth, response.text)
            assert response.headers["X-Experience-API-Version"] == "1.0.3"
