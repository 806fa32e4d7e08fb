"""Communication 3 (HTTP headers, versioning), 4 (authentication and scopes), About, CORS."""

from __future__ import annotations

import requests

from tests.lrs.conftest import Lrs, statement


def test_about_lists_supported_versions_without_authentication(lrs: Lrs) -> None:
    """Communication 2.8 About: GET returns {version: [...]}, no authentication needed."""
    response = requests.get(lrs.endpoint + "about", timeout=10)
    assert response.status_code == 200
    assert {"1.0.3", "2.0.0"} <= set(response.json()["version"])
    assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_about_for_a_1_0_client_lists_1_0_versions_only(lrs: Lrs) -> None:
    """Communication 2.8 (1.0.3; ADL XAPI-00316): the version list holds 0.9, 0.95 or 1.0.x only."""
    response = requests.get(
        lrs.endpoint + "about", headers={"X-Experience-API-Version": "1.0.3"}, timeout=10
    )
    assert response.json()["version"] == ["1.0.3", "1.0.2", "1.0.1", "1.0.0"]


def test_version_header_is_required(lrs: Lrs) -> None:
    """Communication 3.3: the LRS MUST reject requests without X-Experience-API-Version (400)."""
    response = lrs.get("statements", version=False)
    assert response.status_code == 400
    # ADL XAPI-00321 (1.0.3 suite): the 400 names a 1.0.x version (decision 0010).
    assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_unsupported_version_is_refused(lrs: Lrs) -> None:
    """Communication 3.3: a version the LRS does not support is rejected with 400."""
    response = lrs.get("statements", version=False, headers={"X-Experience-API-Version": "0.95"})
    assert response.status_code == 400


def test_every_response_carries_the_version_header(lrs: Lrs) -> None:
    """Communication 3.3: the LRS MUST include X-Experience-API-Version in every response."""
    for response in (lrs.get("statements"), lrs.post(statement()), lrs.get("nope")):
        assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_missing_or_wrong_credentials_get_401(lrs: Lrs) -> None:
    """Communication 4: requests without (valid) credentials are refused with 401."""
    assert lrs.get("statements", auth=None).status_code == 401
    wrong = lrs.get("statements", auth=(lrs.creds["all"][0], "wrong"))
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")


def test_scopes_limit_what_a_credential_may_do(lrs: Lrs) -> None:
    """Communication 4.2 OAuth scopes (applied to Basic credentials): outside the scope is 403."""
    assert lrs.post(statement(), auth="tool").status_code == 200
    assert lrs.get("statements", auth="tool").status_code == 403
    assert lrs.post(statement(), auth="researcher").status_code == 403
    assert lrs.get("statements", auth="researcher").status_code == 200
    assert lrs.post(statement(), auth="read").status_code == 403
    params = {
        "activityId": "http://example.org/a",
        "agent": {"mbox": "mailto:a@example.org"},
        "stateId": "s",
    }
    assert (
        lrs.request("PUT", "activities/state", params=params, json_body={}, auth="tool").status_code
        == 204
    )
    assert (
        lrs.request(
            "PUT",
            "activities/profile",
            params={"activityId": "http://example.org/a", "profileId": "p"},
            json_body={},
            auth="tool",
        ).status_code
        == 403
    )


def test_read_mine_sees_only_own_statements(lrs: Lrs) -> None:
    """Communication 4.2: statements/read/mine reads only statements whose authority it is."""
    own = lrs.post(statement(), auth="mine").json()[0]
    other = lrs.post(statement(), auth="write").json()[0]
    assert lrs.get(params={"statementId": own}, auth="mine").status_code == 200
    assert lrs.get(params={"statementId": other}, auth="mine").status_code == 404
    ids = {s["id"] for s in lrs.get(params={"limit": 50}, auth="mine").json()["statements"]}
    assert own in ids and other not in ids


def test_cors_preflight_is_answered_without_credentials(lrs: Lrs) -> None:
    """Communication 1.3 (browser clients): OPTIONS preflight succeeds and allows xAPI headers."""
    response = requests.options(
        lrs.endpoint + "statements",
        headers={
            "Origin": "http://example.org",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,x-experience-api-version,content-type",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "x-experience-api-version" in allowed and "authorization" in allowed
    assert "etag" in response.headers["Access-Control-Expose-Headers"].lower()


def test_unknown_resource_is_404(lrs: Lrs) -> None:
    assert lrs.get("nothing-here").status_code == 404
