"""Communication 2.1 Statement Resource: PUT, POST, GET, HEAD, voiding, conflicts, queries."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from tests.lrs.conftest import Lrs, statement, unique_iri

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def voiding(target: str, **overrides: Any) -> dict[str, Any]:
    return statement(
        verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": target}, **overrides
    )


def test_put_stores_a_statement_under_the_given_id(lrs: Lrs) -> None:
    """Communication 2.1.1: PUT with statementId stores and answers 204 No Content."""
    statement_id = str(uuid.uuid4())
    response = lrs.request(
        "PUT", "statements", params={"statementId": statement_id}, json_body=statement()
    )
    assert response.status_code == 204
    assert lrs.get(params={"statementId": statement_id}).json()["id"] == statement_id


def test_put_needs_statement_id_and_it_must_match(lrs: Lrs) -> None:
    """Communication 2.1.1: statementId is required; a differing id in the body is 400."""
    assert lrs.request("PUT", "statements", json_body=statement()).status_code == 400
    body = statement(id=str(uuid.uuid4()))
    response = lrs.request(
        "PUT", "statements", params={"statementId": str(uuid.uuid4())}, json_body=body
    )
    assert response.status_code == 400


def test_same_id_same_content_is_a_no_op_different_content_is_409(lrs: Lrs) -> None:
    """Communication 2.1.1/2.1.2: an existing id with matching content is accepted without change
    (PUT 204; a POST that stores nothing new 204); different content is 409 and changes nothing."""
    body = statement(id=str(uuid.uuid4()))
    params = {"statementId": body["id"]}
    assert lrs.request("PUT", "statements", params=params, json_body=body).status_code == 204
    assert lrs.request("PUT", "statements", params=params, json_body=body).status_code == 204
    assert lrs.post(body).status_code == 204
    changed = {**body, "result": {"response": "other"}}
    assert lrs.request("PUT", "statements", params=params, json_body=changed).status_code == 409
    assert lrs.post(changed).status_code == 409
    assert "result" not in lrs.get(params={"statementId": body["id"]}).json()
    fresh = statement()
    mixed = lrs.post([body, fresh])
    assert mixed.status_code == 200 and mixed.json()[0] == body["id"]


def test_post_returns_ids_in_order_and_assigns_missing_ids(lrs: Lrs) -> None:
    """Communication 2.1.2: POST returns the array of statement ids, in order; the LRS sets missing ids."""
    given = str(uuid.uuid4())
    response = lrs.post([statement(id=given), statement()])
    assert response.status_code == 200
    ids = response.json()
    assert ids[0] == given and uuid.UUID(ids[1])


def test_duplicate_ids_in_one_batch_are_refused(lrs: Lrs) -> None:
    """Communication 2.1.2: one batch cannot carry two statements with one id."""
    same = str(uuid.uuid4())
    assert lrs.post([statement(id=same), statement(id=same)]).status_code == 400


def test_lrs_sets_stored_authority_version_and_timestamp(lrs: Lrs) -> None:
    """Data 2.4.7-2.4.10: stored and authority are set by the LRS (overriding the client's),
    version defaults to 1.0.0, timestamp to stored when absent."""
    body = statement(stored="2000-01-01T00:00:00Z", authority={"mbox": "mailto:fake@example.org"})
    (statement_id,) = lrs.post(body, auth="tool").json()
    stored = lrs.get(params={"statementId": statement_id}).json()
    assert stored["stored"] != "2000-01-01T00:00:00Z"
    assert stored["authority"]["account"]["name"] == lrs.creds["tool"][0]
    assert stored["version"] == "1.0.0"
    assert stored["timestamp"] == stored["stored"]
    kept = statement(timestamp="2027-03-16T10:12:00+01:00", version="1.0.3")
    (kept_id,) = lrs.post(kept).json()
    again = lrs.get(params={"statementId": kept_id}).json()
    assert again["timestamp"] == "2027-03-16T10:12:00+01:00" and again["version"] == "1.0.3"


def test_get_single_statement_headers(lrs: Lrs) -> None:
    """Communication 2.1.3: responses carry X-Experience-API-Consistent-Through; Last-Modified on a
    single statement; HEAD answers like GET without a body."""
    (statement_id,) = lrs.post(statement()).json()
    response = lrs.get(params={"statementId": statement_id})
    assert response.status_code == 200
    assert "X-Experience-API-Consistent-Through" in response.headers
    assert "Last-Modified" in response.headers
    head = lrs.request("HEAD", "statements", params={"statementId": statement_id})
    assert head.status_code == 200 and head.content == b""
    assert (
        lrs.request("HEAD", "statements", params={"statementId": str(uuid.uuid4())}).status_code
        == 404
    )


def test_consistent_through_is_on_every_statement_response(lrs: Lrs) -> None:
    """Communication 2.1.3: X-Experience-API-Consistent-Through on every statement GET response,
    errors included, as an ISO 8601 time not before any returned `stored`."""
    ok = lrs.get(params={"limit": 5})
    through = ok.headers["X-Experience-API-Consistent-Through"]
    assert all(s["stored"] <= through for s in ok.json()["statements"])
    assert "X-Experience-API-Consistent-Through" in lrs.get(version=False).headers


def test_single_statement_parameters_exclude_others(lrs: Lrs) -> None:
    """Communication 2.1.3: with statementId/voidedStatementId only attachments and format; not both."""
    sid = str(uuid.uuid4())
    assert lrs.get(params={"statementId": sid, "verb": VOIDED}).status_code == 400
    assert lrs.get(params={"statementId": sid, "voidedStatementId": sid}).status_code == 400
    assert lrs.get(params={"statementId": "nope"}).status_code == 400
    assert lrs.get(params={"unknown": "1"}).status_code == 400


def test_voiding_hides_the_statement_but_keeps_it_retrievable(lrs: Lrs) -> None:
    """Data 2.3.2 / Communication 2.1.4: a voided statement is 404 by statementId, returned by
    voidedStatementId, and left out of queries; the voiding statement is returned."""
    activity = unique_iri()
    (target,) = lrs.post(statement(object={"id": activity})).json()
    (voider,) = lrs.post(voiding(target)).json()
    assert lrs.get(params={"statementId": target}).status_code == 404
    assert lrs.get(params={"voidedStatementId": target}).json()["id"] == target
    assert lrs.get(params={"voidedStatementId": voider}).status_code == 404
    ids = [s["id"] for s in lrs.get(params={"activity": activity}).json()["statements"]]
    assert ids == [voider]


def test_a_voiding_statement_cannot_be_voided(lrs: Lrs) -> None:
    """Data 2.3.2: "an LRS MUST consider a Statement it contains voided if and only if the Statement
    is not itself a voiding Statement". Nothing allows rejecting such a statement (ADL suite
    XAPI-00016 expects it accepted), so it is stored and the voiding statement it targets stays
    retrievable by statementId; it also voids nothing when it arrives before its target."""
    (target,) = lrs.post(statement()).json()
    (voider,) = lrs.post(voiding(target)).json()
    assert lrs.post(voiding(voider)).status_code == 200
    assert lrs.get(params={"statementId": voider}).status_code == 200
    assert lrs.get(params={"voidedStatementId": voider}).status_code == 404
    early = str(uuid.uuid4())
    assert lrs.post(voiding(early)).status_code == 200
    assert lrs.post(voiding(str(uuid.uuid4()), id=early)).status_code == 200
    assert lrs.get(params={"statementId": early}).status_code == 200
    pair = [voiding(str(uuid.uuid4()), id=str(uuid.uuid4()))]
    pair.append(voiding(pair[0]["id"]))
    assert lrs.post(pair).status_code == 200
    assert lrs.get(params={"statementId": pair[0]["id"]}).status_code == 200


def test_voiding_before_the_target_arrives(lrs: Lrs) -> None:
    """Data 2.3.2: a voiding statement may arrive first; the target is then stored voided."""
    target = str(uuid.uuid4())
    assert lrs.post(voiding(target)).status_code == 200
    assert lrs.post(statement(id=target)).status_code == 200
    assert lrs.get(params={"statementId": target}).status_code == 404
    assert lrs.get(params={"voidedStatementId": target}).status_code == 200


def _ids(lrs: Lrs, **params: Any) -> list[str]:
    response = lrs.get(params=params)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["statements"]]


def test_filters_agent_verb_activity_registration(lrs: Lrs) -> None:
    """Communication 2.1.3: agent (actor or object), verb, activity (object), registration filters."""
    agent = {
        "objectType": "Agent",
        "account": {"homePage": "https://steun.example.nl", "name": uuid.uuid4().hex},
    }
    activity, verb, registration = unique_iri(), unique_iri("verb"), str(uuid.uuid4())
    a = lrs.post(statement(actor=agent, object={"id": activity})).json()[0]
    b = lrs.post(statement(object=agent, verb={"id": verb})).json()[0]
    c = lrs.post(statement(context={"registration": registration}, object={"id": activity})).json()[
        0
    ]
    assert _ids(lrs, agent=agent) == [b, a]
    assert _ids(lrs, verb=verb) == [b]
    assert _ids(lrs, activity=activity) == [c, a]
    assert _ids(lrs, registration=registration) == [c]
    assert _ids(lrs, agent=agent, activity=activity) == [a]
    other_type = {**agent, "objectType": "Group"}
    assert _ids(lrs, agent=other_type) == []


def test_related_agents_and_activities(lrs: Lrs) -> None:
    """Communication 2.1.3: related_agents adds authority, instructor, team and SubStatement agents;
    related_activities adds context activities and SubStatement activities."""
    instructor = {"mbox": f"mailto:{uuid.uuid4().hex}@example.org"}
    parent = unique_iri()
    sub_activity = unique_iri()
    a = lrs.post(
        statement(
            context={"instructor": instructor, "contextActivities": {"grouping": [{"id": parent}]}}
        )
    ).json()[0]
    sub = {
        "objectType": "SubStatement",
        "actor": instructor,
        "verb": {"id": "http://example.org/verbs/planned"},
        "object": {"id": sub_activity},
    }
    b = lrs.post(statement(object=sub)).json()[0]
    assert _ids(lrs, agent=instructor) == []
    assert _ids(lrs, agent=instructor, related_agents="true") == [b, a]
    assert _ids(lrs, activity=parent) == []
    assert _ids(lrs, activity=parent, related_activities="true") == [a]
    assert _ids(lrs, activity=sub_activity, related_activities="true") == [b]
    tool = {
        "objectType": "Agent",
        "account": {"homePage": "urn:steun:lrs:credential", "name": lrs.creds["all"][0]},
    }
    assert a in _ids(lrs, agent=tool, related_agents="true", limit=500)


def test_statement_refs_match_the_filters_of_their_target(lrs: Lrs) -> None:
    """Communication 2.1.3 (filter conditions for StatementRefs): a statement referring to a matching
    statement matches too, recursively."""
    activity = unique_iri()
    a = lrs.post(statement(object={"id": activity})).json()[0]
    b = lrs.post(statement(object={"objectType": "StatementRef", "id": a})).json()[0]
    c = lrs.post(statement(object={"objectType": "StatementRef", "id": b})).json()[0]
    assert _ids(lrs, activity=activity) == [c, b, a]


def test_since_until_ascending_and_limit(lrs: Lrs) -> None:
    """Communication 2.1.3: since (exclusive), until (inclusive), ascending, limit."""
    registration = str(uuid.uuid4())
    ids, stored = [], []
    for _ in range(3):
        (sid,) = lrs.post(statement(context={"registration": registration})).json()
        ids.append(sid)
        stored.append(lrs.get(params={"statementId": sid}).json()["stored"])
        time.sleep(0.002)  # distinct millisecond stored values, not synchronisation
    assert _ids(lrs, registration=registration) == ids[::-1]
    assert _ids(lrs, registration=registration, ascending="true") == ids
    assert _ids(lrs, registration=registration, since=stored[0]) == ids[:0:-1]
    assert _ids(lrs, registration=registration, until=stored[1]) == ids[1::-1]
    assert _ids(lrs, registration=registration, limit=1) == [ids[2]]
    assert lrs.get(params={"since": "not a time"}).status_code == 400
    assert lrs.get(params={"limit": "-1"}).status_code == 400
    assert lrs.get(params={"ascending": "maybe"}).status_code == 400


def test_more_pages_through_everything_once_and_is_stable(lrs: Lrs) -> None:
    """Communication 2.1.3 / Data 2.5 StatementResult: `more` is a relative IRL; following it
    yields every statement exactly once even when statements arrive in between."""
    registration = str(uuid.uuid4())
    posted = lrs.post([statement(context={"registration": registration}) for _ in range(7)]).json()
    seen: list[str] = []
    page = lrs.get(params={"registration": registration, "limit": 3, "ascending": "true"}).json()
    while True:
        seen += [s["id"] for s in page["statements"]]
        lrs.post(statement(context={"registration": registration}))  # arrives during paging
        if not page["more"]:
            break
        more = page["more"]
        assert more.startswith("/xapi/statements?") and "://" not in more
        response = lrs.get(params=dict([urlsplit(more).query.split("=", 1)]))
        assert response.status_code == 200
        page = response.json()
    assert seen == posted
    assert lrs.get(params={"more": "garbage!"}).status_code == 400


def test_format_ids_and_canonical(lrs: Lrs) -> None:
    """Communication 2.1.3 format: ids keeps "only the minimum information necessary ... to identify"
    (an Activity is its id alone: objectType Activity is the default; the ADL suite, XAPI-00171,
    counts exactly one key); canonical keeps one language per map chosen by Accept-Language."""
    body = statement(
        actor={"mbox": "mailto:t@example.org", "name": "Teacher"},
        object={
            "id": unique_iri(),
            "definition": {"name": {"nl-NL": "Vraag", "en-US": "Question"}},
        },
    )
    (sid,) = lrs.post(body).json()
    ids = lrs.get(params={"statementId": sid, "format": "ids"}).json()
    assert ids["actor"] == {"objectType": "Agent", "mbox": "mailto:t@example.org"}
    assert ids["verb"] == {"id": body["verb"]["id"]}
    assert ids["object"] == {"id": body["object"]["id"]}
    canonical = lrs.get(
        params={"statementId": sid, "format": "canonical"}, headers={"Accept-Language": "en-US"}
    ).json()
    assert canonical["object"]["definition"]["name"] == {"en-US": "Question"}
    assert canonical["verb"]["display"] == {"en-US": "answered"}
    listed = lrs.get(params={"activity": body["object"]["id"], "format": "ids"}).json()
    assert listed["statements"][0]["actor"] == ids["actor"]
    assert lrs.get(params={"format": "full"}).status_code == 400


def test_activities_resource_returns_merged_canonical_definition(lrs: Lrs) -> None:
    """Communication 2.5 Activities Resource: the LRS's canonical definition of an activity."""
    activity = unique_iri()
    lrs.post(statement(object={"id": activity, "definition": {"name": {"nl-NL": "Vraag"}}}))
    lrs.post(
        statement(
            object={
                "id": activity,
                "definition": {"name": {"en-US": "Question"}, "type": "http://example.org/t"},
            }
        )
    )
    found = lrs.get("activities", params={"activityId": activity}).json()
    assert found["id"] == activity
    assert found["definition"]["name"] == {"nl-NL": "Vraag", "en-US": "Question"}
    assert found["definition"]["type"] == "http://example.org/t"
    assert lrs.get("activities").status_code == 400


def test_agents_resource_returns_a_person(lrs: Lrs) -> None:
    """Communication 2.6 Agents Resource: a Person object with arrays of identifiers."""
    agent = {"mbox": "mailto:p@example.org", "name": "P"}
    person = lrs.get("agents", params={"agent": agent}).json()
    assert person["objectType"] == "Person"
    assert person["mbox"] == ["mailto:p@example.org"] and person["name"] == ["P"]
    assert lrs.get("agents", params={"agent": "{bad"}).status_code == 400
