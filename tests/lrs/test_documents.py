"""Communication 2.3 State, 2.7 Activity Profile and Agent Profile resources; 3.1 concurrency."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.lrs.conftest import Lrs, unique_iri


def agent() -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": "https://steun.example.nl", "name": uuid.uuid4().hex},
    }


def test_state_put_get_delete_roundtrip(lrs: Lrs) -> None:
    """Communication 2.3: PUT stores a document (204), GET returns it with its Content-Type and
    ETag, DELETE removes it (204), GET then 404."""
    params = {"activityId": unique_iri(), "agent": agent(), "stateId": "bookmark"}
    put = lrs.request(
        "PUT",
        "activities/state",
        params=params,
        data=b"page 3",
        headers={"Content-Type": "text/plain"},
    )
    assert put.status_code == 204
    got = lrs.get("activities/state", params=params)
    assert got.status_code == 200 and got.content == b"page 3"
    assert got.headers["Content-Type"].startswith("text/plain")
    assert got.headers["ETag"].startswith('"') and "Last-Modified" in got.headers
    head = lrs.request("HEAD", "activities/state", params=params)
    assert head.status_code == 200 and head.content == b""
    assert lrs.request("DELETE", "activities/state", params=params).status_code == 204
    assert lrs.get("activities/state", params=params).status_code == 404


def test_state_registration_separates_documents(lrs: Lrs) -> None:
    """Communication 2.3: the registration is part of the state's key."""
    base = {"activityId": unique_iri(), "agent": agent(), "stateId": "s"}
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    lrs.request("PUT", "activities/state", params={**base, "registration": one}, json_body={"r": 1})
    lrs.request("PUT", "activities/state", params={**base, "registration": two}, json_body={"r": 2})
    assert lrs.get("activities/state", params={**base, "registration": one}).json() == {"r": 1}
    assert lrs.get("activities/state", params={**base, "registration": two}).json() == {"r": 2}
    assert lrs.get("activities/state", params=base).status_code == 404
    assert lrs.get("activities/state", params={**base, "registration": "x"}).status_code == 400


def test_state_post_merges_json_objects(lrs: Lrs) -> None:
    """Communication 2.2 (JSON procedure): POST merges top-level properties of JSON objects;
    non-JSON is refused with 400."""
    params = {"activityId": unique_iri(), "agent": agent(), "stateId": "answers"}
    assert (
        lrs.request(
            "POST", "activities/state", params=params, json_body={"q1": 3, "q2": 4}
        ).status_code
        == 204
    )
    assert (
        lrs.request(
            "POST", "activities/state", params=params, json_body={"q2": 5, "q3": 1}
        ).status_code
        == 204
    )
    assert lrs.get("activities/state", params=params).json() == {"q1": 3, "q2": 5, "q3": 1}
    bad = lrs.request(
        "POST",
        "activities/state",
        params=params,
        data=b"text",
        headers={"Content-Type": "text/plain"},
    )
    assert bad.status_code == 400
    assert (
        lrs.request("POST", "activities/state", params=params, json_body=[1, 2]).status_code == 400
    )


def test_state_ids_list_since_and_delete_all(lrs: Lrs) -> None:
    """Communication 2.3: GET without stateId lists ids (since filters by update time); DELETE
    without stateId removes all of that activity and agent."""
    base = {"activityId": unique_iri(), "agent": agent()}
    lrs.request("PUT", "activities/state", params={**base, "stateId": "a"}, json_body={})
    time.sleep(0.005)  # a distinct update time, not synchronisation
    now = time.time()
    marker = (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    )
    time.sleep(0.005)
    lrs.request("PUT", "activities/state", params={**base, "stateId": "b"}, json_body={})
    assert sorted(lrs.get("activities/state", params=base).json()) == ["a", "b"]
    assert lrs.get("activities/state", params={**base, "since": marker}).json() == ["b"]
    assert lrs.request("DELETE", "activities/state", params=base).status_code == 204
    assert lrs.get("activities/state", params=base).json() == []


def test_state_parameters_are_validated(lrs: Lrs) -> None:
    """Communication 2.3: activityId and agent are required and must be valid; PUT needs stateId."""
    assert lrs.get("activities/state", params={"agent": agent()}).status_code == 400
    assert lrs.get("activities/state", params={"activityId": unique_iri()}).status_code == 400
    bad_agent = {"activityId": unique_iri(), "agent": {"name": "no ifi"}}
    assert lrs.get("activities/state", params=bad_agent).status_code == 400
    no_id = {"activityId": unique_iri(), "agent": agent()}
    assert lrs.request("PUT", "activities/state", params=no_id, json_body={}).status_code == 400
    assert lrs.get("activities/state", params={**no_id, "bogus": "1"}).status_code == 400


def test_activity_profile_concurrency(lrs: Lrs) -> None:
    """Communication 3.1: If-None-Match: * creates only when absent; replacing an existing document
    without If-Match/If-None-Match is 409; a stale If-Match is 412; a matching one succeeds."""
    params = {"activityId": unique_iri(), "profileId": "settings"}
    created = lrs.request(
        "PUT",
        "activities/profile",
        params=params,
        json_body={"v": 1},
        headers={"If-None-Match": "*"},
    )
    assert created.status_code == 204
    etag = lrs.get("activities/profile", params=params).headers["ETag"]
    again = lrs.request(
        "PUT",
        "activities/profile",
        params=params,
        json_body={"v": 2},
        headers={"If-None-Match": "*"},
    )
    assert again.status_code == 412
    assert (
        lrs.request("PUT", "activities/profile", params=params, json_body={"v": 2}).status_code
        == 409
    )
    stale = lrs.request(
        "PUT",
        "activities/profile",
        params=params,
        json_body={"v": 2},
        headers={"If-Match": '"0000"'},
    )
    assert stale.status_code == 412
    ok = lrs.request(
        "PUT", "activities/profile", params=params, json_body={"v": 2}, headers={"If-Match": etag}
    )
    assert ok.status_code == 204
    assert lrs.get("activities/profile", params=params).json() == {"v": 2}
    assert (
        lrs.request(
            "DELETE", "activities/profile", params=params, headers={"If-Match": etag}
        ).status_code
        == 412
    )
    assert lrs.request("DELETE", "activities/profile", params=params).status_code == 204


def test_activity_profile_ids_and_required_profile_id(lrs: Lrs) -> None:
    """Communication 2.7: GET without profileId lists ids; DELETE needs a profileId."""
    activity = unique_iri()
    for name in ("x", "y"):
        lrs.request(
            "POST",
            "activities/profile",
            params={"activityId": activity, "profileId": name},
            json_body={"n": name},
        )
    assert sorted(lrs.get("activities/profile", params={"activityId": activity}).json()) == [
        "x",
        "y",
    ]
    assert (
        lrs.request("DELETE", "activities/profile", params={"activityId": activity}).status_code
        == 400
    )


def test_agent_profile_roundtrip_and_merge(lrs: Lrs) -> None:
    """Communication 2.7 Agent Profile: PUT/POST/GET/DELETE keyed by agent and profileId."""
    who = agent()
    params = {"agent": who, "profileId": "prefs"}
    create = {"If-None-Match": "*"}
    put = lrs.request("PUT", "agents/profile", params=params, json_body={"a": 1}, headers=create)
    assert put.status_code == 204
    assert (
        lrs.request("POST", "agents/profile", params=params, json_body={"b": 2}).status_code == 204
    )
    response = lrs.get("agents/profile", params=params)
    assert json.loads(response.content) == {"a": 1, "b": 2}
    assert lrs.get("agents/profile", params={"agent": who}).json() == ["prefs"]
    assert (
        lrs.get("agents/profile", params={"agent": agent(), "profileId": "prefs"}).status_code
        == 404
    )
    assert lrs.request("DELETE", "agents/profile", params=params).status_code == 204
