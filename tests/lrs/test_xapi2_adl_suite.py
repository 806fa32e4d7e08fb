"""xAPI 2.0 behaviour that ADL's LRS conformance suite (``test/v2_0``) checks and the other
``test_xapi2_*`` files did not yet pin under a 2.0 version header. Each test names the suite's
test file and the requirement; docs/lrs.md ("xAPI 2.0") records the suite run itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.lrs.conftest import Lrs, statement, unique_iri

V2 = {"X-Experience-API-Version": "2.0.0"}


def test_batch_with_one_id_twice_is_400_and_stores_nothing(lrs: Lrs) -> None:
    """4.1.6.1-Statement-Resource.js, XAPI-00142: "should reject a batch of two or more statements
    where the same ID is used more than once"; Communication 3.2 (XAPI-00326): a rejected batch
    leaves nothing behind."""
    shared = str(uuid.uuid4())
    response = lrs.post([statement(id=shared), statement(id=shared)], headers=V2)
    assert response.status_code == 400
    assert lrs.get(params={"statementId": shared}, headers=V2).status_code == 404


def test_iris_are_compared_as_given(lrs: Lrs) -> None:
    """4.2.7-Additional-Requirements-for-Data-Types.js: IRIs are stored and compared by simple
    string comparison or syntax-based normalisation (RFC 3987 5.3.1/5.3.2) only. Steun uses simple
    string comparison: an object id with ``..`` is kept as sent and found under exactly that id."""
    slug = uuid.uuid4().hex
    dotted = f"http://example.com/path/../{slug}"
    body = statement()
    body["object"] = {"objectType": "Activity", "id": dotted}
    assert lrs.post(body, headers=V2).status_code == 200
    found = lrs.get("activities", params={"activityId": dotted}, headers=V2)
    assert found.status_code == 200 and found.json()["id"] == dotted
    stored = lrs.get(params={"activity": dotted}, headers=V2).json()["statements"]
    assert [s["object"]["id"] for s in stored] == [dotted]


def test_unknown_activity_is_still_an_activity_object(lrs: Lrs) -> None:
    """4.1.6.4-Activity-Resource.js: "If an LRS does not have a canonical definition of the
    Activity to return, the LRS shall still return an Activity Object when queried" (200, with
    ``id`` and ``objectType``)."""
    iri = unique_iri()
    response = lrs.get("activities", params={"activityId": iri}, headers=V2)
    assert response.status_code == 200
    assert response.json() == {"objectType": "Activity", "id": iri}


def test_activity_definition_merges_language_maps(lrs: Lrs) -> None:
    """4.1.6.4-Activity-Resource.js, XAPI-00254: the Activity Object holds all available
    information from statements about the same activityId: two statements naming it in en-US and
    in fr-FR give both names."""
    iri = unique_iri()
    english, french = statement(), statement()
    english["object"] = {"id": iri, "definition": {"name": {"en-US": "example meeting"}}}
    french["object"] = {"id": iri, "definition": {"name": {"fr-FR": "réunion"}}}
    assert lrs.post([english, french], headers=V2).status_code == 200
    name = lrs.get("activities", params={"activityId": iri}, headers=V2).json()["definition"]
    assert name["name"] == {"en-US": "example meeting", "fr-FR": "réunion"}


def test_definition_with_interaction_parts_needs_interaction_type(lrs: Lrs) -> None:
    """4.2.2.3-Object-Requirements.js, XAPI-00064: an Activity Definition that uses
    correctResponsesPattern, choices, scale, source, target or steps without interactionType is
    400."""
    component = [{"id": "a", "description": {"en-US": "A"}}]
    for field, value in (
        ("correctResponsesPattern", ["a"]),
        ("choices", component),
        ("scale", component),
        ("source", component),
        ("target", component),
        ("steps", component),
    ):
        body = statement()
        body["object"] = {"id": unique_iri(), "definition": {field: value}}
        assert lrs.post(body, headers=V2).status_code == 400, field


def test_canonical_format_picks_the_accept_language(lrs: Lrs) -> None:
    """4.1.6.1-Statement-Resource.js, XAPI-00172: with ``format=canonical`` the Accept-Language
    header chooses one language per language map (verb display, context activity name and
    description); without ``format`` the statement comes back exact, every language kept."""
    body = statement(id=str(uuid.uuid4()))
    body["verb"]["display"] = {"en-GB": "attended", "en-US": "attended"}
    both = {"en-GB": "example meeting", "en-US": "example meeting"}
    body["context"] = {
        "contextActivities": {
            "category": [
                {"id": unique_iri(), "definition": {"name": dict(both), "description": dict(both)}}
            ]
        }
    }
    assert lrs.post(body, headers=V2).status_code == 200
    headers = {**V2, "Accept-Language": "en-GB"}
    canonical = lrs.get(
        params={"statementId": body["id"], "format": "canonical"}, headers=headers
    ).json()
    definition = canonical["context"]["contextActivities"]["category"][0]["definition"]
    assert canonical["verb"]["display"] == {"en-GB": "attended"}
    assert definition["name"] == {"en-GB": "example meeting"}
    assert definition["description"] == {"en-GB": "example meeting"}
    exact = lrs.get(params={"statementId": body["id"]}, headers=headers).json()
    assert set(exact["verb"]["display"]) == {"en-GB", "en-US"}


def test_timestamp_in_the_future_is_accepted(lrs: Lrs) -> None:
    """4.1.6.1-Statement-Resource.js (Data 2.4.7): an LRS should not reject a timestamp later than
    its own clock (clocks differ); five minutes ahead is stored as sent."""
    ahead = datetime.now(UTC) + timedelta(minutes=5)
    body = statement(id=str(uuid.uuid4()))
    body["timestamp"] = ahead.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert lrs.post(body, headers=V2).status_code == 200
    stored = lrs.get(params={"statementId": body["id"]}, headers=V2).json()
    assert stored["timestamp"] == body["timestamp"]


def test_consistent_through_on_a_refused_query(lrs: Lrs) -> None:
    """4.1.6.1-Statement-Resource.js, XAPI-00153: X-Experience-API-Consistent-Through comes with
    every GET of the Statement resource, "regardless of the code returned" (here 400 for an
    unknown parameter ``LIMIT``)."""
    refused = lrs.get(params={"LIMIT": "1"}, headers=V2)
    assert refused.status_code == 400
    assert refused.headers["X-Experience-API-Consistent-Through"]
