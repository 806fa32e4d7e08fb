"""xAPI 2.0 (IEEE 9274.1.1) statement rules, selected by ``X-Experience-API-Version: 2.0.0``.

Section numbers are those of the 2.0 text as ADL's 2.0 conformance suite cites them (Data 2.4.6
Context, 2.4.10 Version, 4.5 Timestamps, 4.6 Durations; Communication 2.1.3 GET Statements).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.lrs.conftest import Lrs, statement, unique_iri

V2 = {"X-Experience-API-Version": "2.0.0"}


def post2(lrs: Lrs, body: Any, **kwargs: Any) -> Any:
    return lrs.post(body, headers=V2, **kwargs)


def get2(lrs: Lrs, statement_id: str) -> dict[str, Any]:
    response = lrs.get(params={"statementId": statement_id}, headers=V2)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def agent(name: str | None = None) -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": "https://steun.example.nl", "name": name or uuid.uuid4().hex},
    }


def context_agents(who: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "objectType": "contextAgent",
            "agent": who or agent(),
            "relevantTypes": ["https://steun.example.nl/xapi/role/teacher"],
        },
        {"objectType": "contextAgent", "agent": {"mbox": "mailto:coach@example.org"}},
    ]


def context_groups() -> list[dict[str, Any]]:
    return [
        {
            "objectType": "contextGroup",
            "group": {
                "objectType": "Group",
                "account": {"homePage": "https://steun.example.nl", "name": "school-7"},
                "member": [agent(), agent()],
            },
            "relevantTypes": ["https://steun.example.nl/xapi/role/school"],
        },
        {"objectType": "contextGroup", "group": {"objectType": "Group", "member": [agent()]}},
    ]


def substatement(context: dict[str, Any]) -> dict[str, Any]:
    return {
        "objectType": "SubStatement",
        "actor": agent(),
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": unique_iri()},
        "context": context,
    }


# -- Data 2.4.10 Version ---------------------------------------------------------------------


def test_statement_without_version_is_stored_as_2_0_0(lrs: Lrs) -> None:
    """Data 2.4.10 (2.0): a statement sent without version gets 2.0.0; over 1.0.3 it stays 1.0.0."""
    two, one = statement(id=str(uuid.uuid4())), statement(id=str(uuid.uuid4()))
    assert post2(lrs, two).status_code == 200
    assert lrs.post(one).status_code == 200
    assert get2(lrs, two["id"])["version"] == "2.0.0"
    assert get2(lrs, one["id"])["version"] == "1.0.0"


def test_statement_keeps_the_version_it_was_accepted_with(lrs: Lrs) -> None:
    """Data 2.4.10 (2.0, XAPI-00332): statements keep the version they were accepted with, 1.0.x
    included; other versions are refused (400)."""
    for version in ("2.0.0", "1.0.3", "1.0.0"):
        body = statement(id=str(uuid.uuid4()), version=version)
        assert post2(lrs, body).status_code == 200
        assert get2(lrs, body["id"])["version"] == version
    for bad in ("3.0.0", "2.1.0", "0.95", 2):
        assert post2(lrs, statement(version=bad)).status_code == 400


def test_version_2_statement_over_1_0_3_is_refused(lrs: Lrs) -> None:
    """Data 2.4.10 (1.0.3): a 1.0.3 request may only carry statements of version 1.0.x."""
    assert lrs.post(statement(version="2.0.0")).status_code == 400


# -- Data 2.4.6 Context: contextAgents and contextGroups -------------------------------------


def test_context_agents_and_groups_are_accepted_and_returned_unchanged(lrs: Lrs) -> None:
    """Data 2.4.6 (2.0): contextAgents and contextGroups, in a statement and in a SubStatement."""
    context = {"contextAgents": context_agents(), "contextGroups": context_groups()}
    body = statement(id=str(uuid.uuid4()), context=context)
    assert post2(lrs, body).status_code == 200, post2(lrs, body).text
    stored = get2(lrs, body["id"])
    assert stored["context"] == context
    nested = statement(id=str(uuid.uuid4()), object=substatement(context))
    assert post2(lrs, nested).status_code == 200
    assert get2(lrs, nested["id"])["object"]["context"] == context


INVALID_CONTEXT_AGENTS: dict[str, Any] = {
    "not an array": {"objectType": "contextAgent", "agent": {"mbox": "mailto:a@example.org"}},
    "objectType other than contextAgent": [
        {"objectType": "Should fail", "agent": {"mbox": "mailto:a@example.org"}}
    ],
    "objectType missing": [{"agent": {"mbox": "mailto:a@example.org"}}],
    "agent missing": [{"objectType": "contextAgent"}],
    "agent invalid": [{"objectType": "contextAgent", "agent": {"key": "Should fail"}}],
    "agent is a Group": [
        {"objectType": "contextAgent", "agent": {"objectType": "Group", "member": [agent()]}}
    ],
    "relevantTypes empty": [{"objectType": "contextAgent", "agent": agent(), "relevantTypes": []}],
    "relevantTypes not IRIs": [
        {"objectType": "contextAgent", "agent": agent(), "relevantTypes": ["abc"]}
    ],
    "unknown property": [{"objectType": "contextAgent", "agent": agent(), "role": "teacher"}],
}
INVALID_CONTEXT_GROUPS: dict[str, Any] = {
    "objectType other than contextGroup": [
        {
            "objectType": "Should fail",
            "group": {"objectType": "Group", "mbox": "mailto:team@example.org"},
        }
    ],
    "group invalid": [{"objectType": "contextGroup", "group": {"key": "Should fail"}}],
    "group is an Agent": [{"objectType": "contextGroup", "group": agent()}],
    "anonymous group without members": [
        {"objectType": "contextGroup", "group": {"objectType": "Group"}}
    ],
    "relevantTypes empty": [
        {
            "objectType": "contextGroup",
            "group": {"objectType": "Group", "mbox": "mailto:team@example.org"},
            "relevantTypes": [],
        }
    ],
    "relevantTypes not IRIs": [
        {
            "objectType": "contextGroup",
            "group": {"objectType": "Group", "mbox": "mailto:team@example.org"},
            "relevantTypes": ["abc"],
        }
    ],
}


@pytest.mark.parametrize("case", sorted(INVALID_CONTEXT_AGENTS))
def test_invalid_context_agents_are_refused(lrs: Lrs, case: str) -> None:
    """Data 2.4.6 (2.0): a Context Agent has objectType "contextAgent", an Agent, and optional
    relevantTypes of one or more IRIs; anything else is 400, in a SubStatement too."""
    context = {"contextAgents": INVALID_CONTEXT_AGENTS[case]}
    response = post2(lrs, statement(context=context))
    assert response.status_code == 400
    assert "contextAgents" in response.json()["message"]
    assert post2(lrs, statement(object=substatement(context))).status_code == 400


@pytest.mark.parametrize("case", sorted(INVALID_CONTEXT_GROUPS))
def test_invalid_context_groups_are_refused(lrs: Lrs, case: str) -> None:
    """Data 2.4.6 (2.0): a Context Group has objectType "contextGroup", a Group, and optional
    relevantTypes of one or more IRIs; anything else is 400, in a SubStatement too."""
    context = {"contextGroups": INVALID_CONTEXT_GROUPS[case]}
    response = post2(lrs, statement(context=context))
    assert response.status_code == 400
    assert "contextGroups" in response.json()["message"]
    assert post2(lrs, statement(object=substatement(context))).status_code == 400


def test_context_agents_over_1_0_3_are_refused(lrs: Lrs) -> None:
    """Data 2.4.6 (1.0.3): Context has no contextAgents/contextGroups; a 1.0.3 request with them
    is 400 (unknown property)."""
    assert lrs.post(statement(context={"contextAgents": context_agents()})).status_code == 400
    assert lrs.post(statement(context={"contextGroups": context_groups()})).status_code == 400


def test_1_0_3_client_gets_2_0_statements_unchanged(lrs: Lrs) -> None:
    """Communication 3.3: an LRS does not convert statements between versions; a 1.0.3 client
    reading a statement stored over 2.0 gets it as stored (version 2.0.0, contextAgents)."""
    body = statement(id=str(uuid.uuid4()), context={"contextAgents": context_agents()})
    assert post2(lrs, body).status_code == 200
    seen = lrs.get(params={"statementId": body["id"]}).json()
    assert seen["version"] == "2.0.0" and seen["context"] == body["context"]


def test_related_agents_matches_context_agents_and_group_members(lrs: Lrs) -> None:
    """Communication 2.1.3 (2.0): related_agents also matches Context Agents and Context Groups
    (and their members); the plain agent filter matches only actor and object."""
    teacher, member = agent(), agent()
    groups = [{"objectType": "contextGroup", "group": {"objectType": "Group", "member": [member]}}]
    body = statement(
        id=str(uuid.uuid4()),
        context={"contextAgents": context_agents(teacher), "contextGroups": groups},
    )
    assert post2(lrs, body).status_code == 200
    for who in (teacher, member):
        related = lrs.get(params={"agent": who, "related_agents": "true"}, headers=V2).json()
        assert [s["id"] for s in related["statements"]] == [body["id"]]
        assert lrs.get(params={"agent": who}, headers=V2).json()["statements"] == []


def test_ids_format_reduces_context_agents_to_identifiers(lrs: Lrs) -> None:
    """Communication 2.1.3 format=ids: Agents and Groups carry only their identifiers, those of
    Context Agents and Context Groups included."""
    named = {**agent(), "name": "Juf Anna"}
    body = statement(id=str(uuid.uuid4()), context={"contextAgents": context_agents(named)})
    assert post2(lrs, body).status_code == 200
    response = lrs.get(params={"statementId": body["id"], "format": "ids"}, headers=V2)
    first = response.json()["context"]["contextAgents"][0]
    assert "name" not in first["agent"] and first["agent"]["account"] == named["account"]
    assert first["relevantTypes"] == ["https://steun.example.nl/xapi/role/teacher"]


def test_withdrawal_reaches_context_agents(lrs: Lrs) -> None:
    """Steun's agent delete (privacy): statements naming the person as a Context Agent go too."""
    teacher = agent()
    body = statement(id=str(uuid.uuid4()), context={"contextAgents": context_agents(teacher)})
    assert post2(lrs, body).status_code == 200
    deleted = lrs.request("DELETE", "extensions/agent", params={"agent": teacher}, auth="admin")
    assert deleted.status_code == 200 and deleted.json()["statements"] == 1
    assert lrs.get(params={"statementId": body["id"]}, headers=V2).status_code == 404


# -- Data 4.5 Timestamps (RFC 3339) ----------------------------------------------------------

VALID_TIMESTAMPS = [
    "2008-09-15T15:53:00.601Z",
    "2008-09-15 15:53:00.601+00:00",
    "2008-09-15T15:53:00+01:00",
    "2008-09-15t15:53:00.1234567z",
]
INVALID_TIMESTAMPS = [
    "should fail",
    "01/011/2015",
    "2008-09-15T15:53:00.601-00",
    "2008-09-15T15:53:00.601-0000",
    "2008-09-15T15:53:00.601-00:00",
    "2008-09-15T15:53:00",  # no offset
    "2008-09-15T15:53Z",  # no seconds
    "2008-09-15T15:53:00+0100",  # offset without colon
    "2008-02-30T15:53:00Z",  # no such day
    "2008-09-15",
]


@pytest.mark.parametrize("timestamp", VALID_TIMESTAMPS)
def test_rfc3339_timestamps_are_accepted(lrs: Lrs, timestamp: str) -> None:
    """Data 4.5 (2.0): timestamps are RFC 3339 date-times (a space may stand for T)."""
    body = statement(id=str(uuid.uuid4()), timestamp=timestamp)
    assert post2(lrs, body).status_code == 200
    assert get2(lrs, body["id"])["timestamp"] == timestamp


@pytest.mark.parametrize("timestamp", INVALID_TIMESTAMPS)
def test_non_rfc3339_timestamps_are_refused(lrs: Lrs, timestamp: str) -> None:
    """Data 4.5 (2.0): anything but an RFC 3339 date-time with an offset (not -00:00) is 400, in
    the statement and in a SubStatement."""
    assert post2(lrs, statement(timestamp=timestamp)).status_code == 400
    nested = substatement({})
    nested["timestamp"] = timestamp
    assert post2(lrs, statement(object=nested)).status_code == 400


def test_timestamp_without_offset_is_still_1_0_3(lrs: Lrs) -> None:
    """Data 4.5 (1.0.3): a timestamp SHOULD carry an offset; 1.0.3 requests keep accepting one
    without (taken as UTC)."""
    assert lrs.post(statement(timestamp="2008-09-15T15:53:00")).status_code == 200


def test_stored_is_an_rfc3339_timestamp_in_milliseconds(lrs: Lrs) -> None:
    """Data 2.4.8 (2.0): the LRS sets stored (a sent value is replaced), precise to milliseconds."""
    body = statement(id=str(uuid.uuid4()), stored="2011-07-15T00:00:00.000Z")
    assert post2(lrs, body).status_code == 200
    stored = get2(lrs, body["id"])["stored"]
    assert stored != body["stored"]
    assert len(stored) == len("2026-11-25T16:00:00.123Z") and stored.endswith("Z")


# -- Data 4.6 Durations ----------------------------------------------------------------------

VALID_DURATIONS = [
    "PT1H0M0.1S",
    "PT4H35M59.14S",
    "PT16559.14S",
    "P3Y1M29DT4H35M59.14S",
    "P3Y",
    "P4W",
]
INVALID_DURATIONS: list[Any] = [
    "PA1H0M0S",
    "should fail",
    12345,
    {"key": "invalid"},
    "P4W1D",  # weeks stand alone
    "PT1.5H30M",  # only the smallest unit may have a fraction
    "P",
    "PT",
    "P2008-09-15T15:53:00",  # the alternative format (ISO 8601 4.4.3.3) MUST NOT be used
]


@pytest.mark.parametrize("duration", VALID_DURATIONS)
def test_iso8601_durations_are_accepted(lrs: Lrs, duration: str) -> None:
    """Data 4.6 (2.0, XAPI-00124): durations in the ISO 8601:2004 4.4.3.2 format."""
    assert post2(lrs, statement(result={"duration": duration})).status_code == 200


@pytest.mark.parametrize("duration", INVALID_DURATIONS, ids=str)
def test_other_durations_are_refused(lrs: Lrs, duration: Any) -> None:
    """Data 4.6 (2.0, XAPI-00124): any other duration is 400, in a SubStatement too."""
    assert post2(lrs, statement(result={"duration": duration})).status_code == 400
    nested = substatement({})
    nested["result"] = {"duration": duration}
    assert post2(lrs, statement(object=nested)).status_code == 400


def test_put_follows_the_2_0_rules_too(lrs: Lrs) -> None:
    """Communication 2.1.1 with Data 2.4.6/2.4.10 (2.0): PUT validates and stores like POST."""
    statement_id = str(uuid.uuid4())
    body = statement(context={"contextAgents": context_agents()})
    params = {"statementId": statement_id}
    put = lrs.request("PUT", "statements", params=params, json_body=body, headers=V2)
    assert put.status_code == 204
    stored = get2(lrs, statement_id)
    assert stored["version"] == "2.0.0" and stored["context"] == body["context"]
    bad = statement(context={"contextAgents": INVALID_CONTEXT_AGENTS["relevantTypes empty"]})
    params = {"statementId": str(uuid.uuid4())}
    assert (
        lrs.request("PUT", "statements", params=params, json_body=bad, headers=V2).status_code
        == 400
    )


def test_signed_statement_with_context_agents_over_2_0(lrs: Lrs) -> None:
    """Data 2.4.11 / 2.6 (2.0, unchanged from 1.0.3): attachments travel as multipart/mixed; a
    signed statement's JWS payload is compared with the statement, 2.0 properties included."""
    import hashlib
    import json

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.lrs.test_alternate_and_attachments import attachment_meta, multipart_body

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = statement(id=str(uuid.uuid4()), context={"contextAgents": context_agents()})

    def send(statement_body: dict[str, Any], jws: str) -> Any:
        content = jws.encode()
        meta = attachment_meta(
            content,
            usage="http://adlnet.gov/expapi/attachments/signature",
            content_type="application/octet-stream",
        )
        full = {**statement_body, "attachments": [meta]}
        part_headers = {
            "Content-Type": "application/octet-stream",
            "Content-Transfer-Encoding": "binary",
            "X-Experience-API-Hash": hashlib.sha256(content).hexdigest(),
        }
        content_type, data = multipart_body(
            [
                ({"Content-Type": "application/json"}, json.dumps(full).encode()),
                (part_headers, content),
            ]
        )
        return lrs.request(
            "POST", "statements", data=data, headers={**V2, "Content-Type": content_type}
        )

    assert send(body, jwt.encode(body, key, algorithm="RS256")).status_code == 200
    assert get2(lrs, body["id"])["context"]["contextAgents"] == body["context"]["contextAgents"]
    other = statement(id=str(uuid.uuid4()), context={"contextAgents": context_agents()})
    tampered = {**other, "context": {"contextAgents": context_agents()}}
    assert send(other, jwt.encode(tampered, key, algorithm="RS256")).status_code == 400
