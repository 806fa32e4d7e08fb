"""xAPI 2.0 (IEEE 9274.1.1) communication rules, selected by ``X-Experience-API-Version: 2.0.0``:
versioning (Communication 3.3), About (2.8), the alternate request syntax (1.3, gone in 2.0),
GET Statements headers (2.1.3), documents and concurrency (2.2, 3.1), Agents (2.4)."""

from __future__ import annotations

import base64
import email.utils
import json
import uuid
from datetime import datetime
from typing import Any

import requests

from tests.lrs.conftest import Lrs, statement, unique_iri

V2 = {"X-Experience-API-Version": "2.0.0"}


def agent() -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": "https://steun.example.nl", "name": uuid.uuid4().hex},
    }


def basic(creds: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


# -- Communication 3.3 Versioning, 2.8 About -------------------------------------------------


def test_each_request_is_answered_in_the_version_it_asked_for(lrs: Lrs) -> None:
    """Communication 3.3 (XAPI-00333): the response's X-Experience-API-Version names the version
    the request was handled by: 2.0.0 for 2.0.x requests, 1.0.3 for 1.0.x requests."""
    for asked, answered in (
        ("2.0.0", "2.0.0"),
        ("2.0", "2.0.0"),
        ("1.0.3", "1.0.3"),
        ("1.0", "1.0.3"),
    ):
        headers = {"X-Experience-API-Version": asked}
        for response in (
            lrs.get(headers=headers),
            lrs.post(statement(), headers=headers),
            lrs.get("nope", headers=headers),
            lrs.get("activities", params={"activityId": unique_iri()}, headers=headers),
        ):
            assert response.headers["X-Experience-API-Version"] == answered, (asked, response)


def test_missing_or_unknown_version_is_400_naming_1_0_3(lrs: Lrs) -> None:
    """Communication 3.3 (XAPI-00331): without a supported version header every resource but About
    answers 400. The response names 1.0.3, as ADL's 1.0.3 suite requires (XAPI-00321); its 2.0
    suite wants 2.0.0 and no LRS can answer both (decision 0010)."""
    for headers in (
        {},
        {"X-Experience-API-Version": "3.0.0"},
        {"X-Experience-API-Version": "0.95"},
    ):
        for resource in ("statements", "activities", "agents", "activities/state"):
            response = lrs.get(resource, version=False, headers=headers)
            assert response.status_code == 400
            assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_about_lists_2_0_0_and_1_0_3(lrs: Lrs) -> None:
    """Communication 2.8 (XAPI-00316/00317): About lists the versions the LRS speaks, 2.0.0 and
    1.0.3 among them, and nothing outside 0.9, 0.95, 1.0.x, 2.0.0."""
    about = requests.get(lrs.endpoint + "about", headers=V2, timeout=10)
    assert about.status_code == 200
    assert about.headers["X-Experience-API-Version"] == "2.0.0"
    versions = about.json()["version"]
    assert {"2.0.0", "1.0.3"} <= set(versions)
    assert set(versions) <= {"0.9", "0.95", "1.0.0", "1.0.1", "1.0.2", "1.0.3", "2.0.0"}


# -- Communication 1.3 Alternate request syntax (not in 2.0) ---------------------------------


def test_alternate_request_syntax_is_refused_in_2_0(lrs: Lrs) -> None:
    """Communication 1.3 (2.0): the alternate request syntax was removed; a 2.0 request using it is
    4xx (400 here), whether the version comes as a header or as a form field."""
    statement_id = str(uuid.uuid4())
    form = {
        "statementId": statement_id,
        "content": json.dumps(statement()),
        "Authorization": basic(lrs.creds["all"]),
        "X-Experience-API-Version": "2.0.0",
    }
    as_form = requests.post(
        lrs.endpoint + "statements",
        params={"method": "PUT"},
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert as_form.status_code == 400
    as_header = lrs.request(
        "POST",
        "statements",
        params={"method": "GET"},
        data="",
        headers={**V2, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert as_header.status_code == 400
    assert lrs.get(params={"statementId": statement_id}).status_code == 404


# -- Communication 2.1.3 GET Statements ------------------------------------------------------


def _http_seconds(value: str) -> int:
    return int(email.utils.parsedate_to_datetime(value).timestamp())


def _iso_seconds(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def test_statement_get_has_last_modified_of_stored(lrs: Lrs) -> None:
    """Communication 2.1.3 (2.0): a single statement's Last-Modified matches its stored (to the
    second); a statement query's is the latest stored it returns. Consistent-Through is on both;
    ``more`` pages on under 2.0 like under 1.0.3."""
    first, second = statement(id=str(uuid.uuid4())), statement(id=str(uuid.uuid4()))
    verb = unique_iri("verb")
    for body in (first, second):
        body["verb"] = {"id": verb}
        assert lrs.post(body, headers=V2).status_code == 200
    single = lrs.get(params={"statementId": first["id"]}, headers=V2)
    assert _http_seconds(single.headers["Last-Modified"]) == _iso_seconds(single.json()["stored"])
    assert "X-Experience-API-Consistent-Through" in single.headers
    query = lrs.get(params={"verb": verb}, headers=V2)
    stored = max(s["stored"] for s in query.json()["statements"])
    assert _http_seconds(query.headers["Last-Modified"]) == _iso_seconds(stored)
    assert "X-Experience-API-Consistent-Through" in query.headers
    paged = lrs.get(params={"verb": verb, "limit": 1}, headers=V2).json()
    assert paged["more"].startswith("/xapi/statements?more=")
    token = paged["more"].split("more=", 1)[1]
    rest = lrs.get(params={"more": token}, headers=V2)
    assert rest.status_code == 200 and rest.headers["X-Experience-API-Version"] == "2.0.0"
    seen = [paged["statements"][0]["id"], *(s["id"] for s in rest.json()["statements"])]
    assert sorted(seen) == sorted([first["id"], second["id"]])


# -- Communication 2.2 Documents, 3.1 Concurrency --------------------------------------------


def state_params() -> dict[str, Any]:
    return {"activityId": unique_iri(), "agent": agent(), "stateId": "bookmark"}


def test_state_put_over_existing_document_needs_a_precondition_in_2_0(lrs: Lrs) -> None:
    """Communication 3.1 (2.0): the State resource joins the profiles: a PUT over an existing
    document without If-Match or If-None-Match is 409 and changes nothing; with a matching
    If-Match it replaces (204); a stale one is 412; If-None-Match: * on an existing one is 412.
    Over 1.0.3 the State resource keeps accepting a plain PUT."""
    params = state_params()
    put = lrs.request("PUT", "activities/state", params=params, json_body={"p": 1}, headers=V2)
    assert put.status_code == 204
    conflict = lrs.request("PUT", "activities/state", params=params, json_body={"p": 2}, headers=V2)
    assert conflict.status_code == 409 and conflict.json()["message"]
    got = lrs.get("activities/state", params=params, headers=V2)
    assert got.json() == {"p": 1}
    etag = got.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 42
    stale = lrs.request(
        "PUT",
        "activities/state",
        params=params,
        json_body={"p": 3},
        headers={**V2, "If-Match": '"' + "1" * 40 + '"'},
    )
    assert stale.status_code == 412
    exists = lrs.request(
        "PUT",
        "activities/state",
        params=params,
        json_body={"p": 3},
        headers={**V2, "If-None-Match": "*"},
    )
    assert exists.status_code == 412
    matched = lrs.request(
        "PUT",
        "activities/state",
        params=params,
        json_body={"p": 4},
        headers={**V2, "If-Match": etag},
    )
    assert matched.status_code == 204
    assert lrs.get("activities/state", params=params, headers=V2).json() == {"p": 4}
    assert (
        lrs.request("PUT", "activities/state", params=params, json_body={"p": 5}).status_code == 204
    )


def test_post_and_delete_honour_if_match_in_2_0(lrs: Lrs) -> None:
    """Communication 3.1 (2.0): POST and DELETE handle If-Match: a wrong ETag is 412 and changes
    nothing; the right one succeeds. A POST without a precondition still merges."""
    for resource, params in (
        ("activities/state", state_params()),
        ("activities/profile", {"activityId": unique_iri(), "profileId": "p"}),
        ("agents/profile", {"agent": agent(), "profileId": "p"}),
    ):
        assert (
            lrs.request("POST", resource, params=params, json_body={"a": 1}, headers=V2).status_code
            == 204
        )
        wrong = {**V2, "If-Match": '"1234"'}
        assert (
            lrs.request(
                "POST", resource, params=params, json_body={"b": 2}, headers=wrong
            ).status_code
            == 412
        )
        assert lrs.request("DELETE", resource, params=params, headers=wrong).status_code == 412
        assert lrs.get(resource, params=params, headers=V2).json() == {"a": 1}
        etag = lrs.get(resource, params=params, headers=V2).headers["ETag"]
        right = {**V2, "If-Match": etag}
        assert (
            lrs.request(
                "POST", resource, params=params, json_body={"b": 2}, headers=right
            ).status_code
            == 204
        )
        assert lrs.get(resource, params=params, headers=V2).json() == {"a": 1, "b": 2}
        etag = lrs.get(resource, params=params, headers=V2).headers["ETag"]
        deleted = lrs.request("DELETE", resource, params=params, headers={**V2, "If-Match": etag})
        assert deleted.status_code == 204
        assert lrs.get(resource, params=params, headers=V2).status_code == 404


def test_post_of_a_non_json_document_is_400_in_2_0(lrs: Lrs) -> None:
    """Communication 2.2 (2.0): POST merges JSON objects; a posted document that is not
    application/json or not a JSON object is 400, also when no document exists yet."""
    params = state_params()
    text = lrs.request(
        "POST",
        "activities/state",
        params=params,
        data=b"page 3",
        headers={**V2, "Content-Type": "text/plain"},
    )
    assert text.status_code == 400
    array = lrs.request("POST", "activities/state", params=params, json_body=[1], headers=V2)
    assert array.status_code == 400
    assert lrs.get("activities/state", params=params, headers=V2).status_code == 404


def test_document_get_has_last_modified_and_etag(lrs: Lrs) -> None:
    """Communication 2.2 (2.0): a document GET carries Last-Modified and a quoted SHA-1 ETag."""
    params = {"activityId": unique_iri(), "profileId": "settings"}
    created = lrs.request(
        "PUT",
        "activities/profile",
        params=params,
        json_body={"x": 1},
        headers={**V2, "If-None-Match": "*"},
    )
    assert created.status_code == 204
    got = lrs.get("activities/profile", params=params, headers=V2)
    assert got.headers["Last-Modified"] and email.utils.parsedate_to_datetime(
        got.headers["Last-Modified"]
    )
    assert len(got.headers["ETag"].strip('"')) == 40


# -- Communication 2.4 Agents ----------------------------------------------------------------


def test_agents_resource_returns_a_person_object(lrs: Lrs) -> None:
    """Communication 2.4 (1.0.3 and 2.0): GET agents returns a Person: objectType "Person" and an
    array for each property; Steun merges no identities, so the Person holds what was asked."""
    who = {"objectType": "Agent", "name": "P-17", "mbox_sha1sum": "a" * 40}
    for headers in (V2, {}):
        response = lrs.get("agents", params={"agent": who}, headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "objectType": "Person",
            "name": ["P-17"],
            "mbox_sha1sum": ["a" * 40],
        }
    account = {"account": {"homePage": "https://steun.example.nl", "name": "x"}}
    person = lrs.get("agents", params={"agent": account}, headers=V2).json()
    assert person == {"objectType": "Person", "account": [account["account"]]}
    assert lrs.get("agents", params={"agent": {"name": "no id"}}, headers=V2).status_code == 400
    assert lrs.get("agents", headers=V2).status_code == 400
