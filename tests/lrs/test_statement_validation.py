"""Data 2.4 (Statement properties): invalid statements are refused with 400, valid forms accepted."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from tests.lrs.conftest import Lrs, statement

ACTOR = {"objectType": "Agent", "mbox": "mailto:teacher@example.org"}
VERB = {"id": "http://adlnet.gov/expapi/verbs/answered"}
ACTIVITY = {"objectType": "Activity", "id": "http://example.org/activity/1"}


def make(**changes: Any) -> dict[str, Any]:
    base = {
        "actor": copy.deepcopy(ACTOR),
        "verb": copy.deepcopy(VERB),
        "object": copy.deepcopy(ACTIVITY),
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


INVALID = {
    # Data 2.4: required properties
    "no actor": make(actor=None),
    "no verb": make(verb=None),
    "no object": make(object=None),
    # Data 2.2: no additional properties, no nulls outside extensions
    "unknown top-level property": {**make(), "foo": 1},
    "null value": {**make(), "result": None},
    "statement is an array inside an array": [[make()]],
    # Data 2.4.1 id
    "id not a UUID": make(id="not-a-uuid"),
    # Data 2.4.2 actor
    "agent with two IFIs": make(
        actor={"mbox": "mailto:a@example.org", "openid": "http://example.org/me"}
    ),
    "agent without IFI": make(actor={"objectType": "Agent", "name": "x"}),
    "mbox without mailto": make(actor={"mbox": "a@example.org"}),
    "mbox_sha1sum not hex": make(actor={"mbox_sha1sum": "xyz"}),
    "openid not IRI": make(actor={"openid": "not an iri"}),
    "account without name": make(actor={"account": {"homePage": "http://example.org"}}),
    "account homePage not IRL": make(actor={"account": {"homePage": "example", "name": "x"}}),
    "unknown objectType of actor": make(
        actor={"objectType": "Person", "mbox": "mailto:a@example.org"}
    ),
    "anonymous group without members": make(actor={"objectType": "Group"}),
    "group member is a group": make(
        actor={
            "objectType": "Group",
            "member": [{"objectType": "Group", "mbox": "mailto:g@example.org"}],
        }
    ),
    "group with two IFIs": make(
        actor={
            "objectType": "Group",
            "mbox": "mailto:g@example.org",
            "openid": "http://example.org/g",
        }
    ),
    "agent name not a string": make(actor={"mbox": "mailto:a@example.org", "name": 5}),
    # Data 2.4.3 verb
    "verb without id": make(verb={"display": {"en-US": "did"}}),
    "verb id not IRI": make(verb={"id": "answered"}),
    "verb display bad language tag": make(verb={"id": VERB["id"], "display": {"not a tag": "x"}}),
    "empty language map": make(verb={"id": VERB["id"], "display": {}}),
    "language tag with a repeated extension": make(
        verb={"id": VERB["id"], "display": {"zh-z-aaa-z-bbb-c-ccc": "x"}}
    ),
    "language tag a12345": make(verb={"id": VERB["id"], "display": {"a12345": "x"}}),
    "verb display value not string": make(verb={"id": VERB["id"], "display": {"en-US": 1}}),
    # Data 2.4.4 object
    "activity without id": make(object={"objectType": "Activity"}),
    "activity id not IRI": make(object={"id": "activity 1"}),
    "unknown object type": make(object={"objectType": "Thing", "id": "http://example.org/a"}),
    "bad interaction type": make(
        object={"id": "http://example.org/a", "definition": {"interactionType": "essay"}}
    ),
    "components without interactionType": make(
        object={"id": "http://example.org/a", "definition": {"choices": [{"id": "a"}]}}
    ),
    "correctResponsesPattern not strings": make(
        object={
            "id": "http://example.org/a",
            "definition": {"interactionType": "choice", "correctResponsesPattern": [1]},
        }
    ),
    "definition type not IRI": make(
        object={"id": "http://example.org/a", "definition": {"type": "x"}}
    ),
    "extension key not IRI": make(
        object={"id": "http://example.org/a", "definition": {"extensions": {"color": "red"}}}
    ),
    "statementref without id": make(object={"objectType": "StatementRef"}),
    "statementref id not UUID": make(object={"objectType": "StatementRef", "id": "x"}),
    "agent object without objectType is an activity without IRI": make(
        object={"mbox": "mailto:a@example.org"}
    ),
    "substatement with id": make(
        object={
            "objectType": "SubStatement",
            "id": str(uuid.uuid4()),
            "actor": ACTOR,
            "verb": VERB,
            "object": ACTIVITY,
        }
    ),
    "nested substatement": make(
        object={
            "objectType": "SubStatement",
            "actor": ACTOR,
            "verb": VERB,
            "object": {
                "objectType": "SubStatement",
                "actor": ACTOR,
                "verb": VERB,
                "object": ACTIVITY,
            },
        }
    ),
    "substatement with stored": make(
        object={
            "objectType": "SubStatement",
            "actor": ACTOR,
            "verb": VERB,
            "object": ACTIVITY,
            "stored": "2020-01-01T00:00:00Z",
        }
    ),
    # Data 2.4.5 result
    "scaled above 1": make(result={"score": {"scaled": 1.5}}),
    "raw below min": make(result={"score": {"raw": 1, "min": 2, "max": 5}}),
    "raw above max": make(result={"score": {"raw": 6, "min": 2, "max": 5}}),
    "min above max": make(result={"score": {"min": 6, "max": 5}}),
    "success not boolean": make(result={"success": "yes"}),
    "duration not ISO 8601": make(result={"duration": "10 minutes"}),
    "response not string": make(result={"response": 4}),
    # Data 2.4.6 context
    "registration not UUID": make(context={"registration": "abc"}),
    "team is an agent": make(context={"team": {"mbox": "mailto:a@example.org"}}),
    "revision with agent object": make(
        object={"objectType": "Agent", "mbox": "mailto:b@example.org"}, context={"revision": "1"}
    ),
    "platform with group object": make(
        object={"objectType": "Group", "mbox": "mailto:g@example.org"}, context={"platform": "x"}
    ),
    "unknown contextActivities key": make(context={"contextActivities": {"sibling": [ACTIVITY]}}),
    "context statement not a StatementRef": make(context={"statement": {"id": str(uuid.uuid4())}}),
    "context language not a tag": make(context={"language": "dutch language"}),
    # Data 2.4.7 timestamp
    "timestamp not ISO 8601": make(timestamp="yesterday"),
    "timestamp with -00:00": make(timestamp="2024-01-01T10:00:00-00:00"),
    "timestamp impossible date": make(timestamp="2024-13-45T10:00:00Z"),
    # Data 2.4.9 authority, 2.4.10 version
    "authority without IFI": make(authority={"objectType": "Agent", "name": "x"}),
    "authority group with an identifier": make(
        authority={
            "objectType": "Group",
            "mbox": "mailto:g@example.org",
            "member": [ACTOR, {"openid": "http://example.org/a"}],
        }
    ),
    "authority group with three members": make(
        authority={
            "objectType": "Group",
            "member": [
                ACTOR,
                {"openid": "http://example.org/a"},
                {"openid": "http://example.org/b"},
            ],
        }
    ),
    "version 2.0.0": make(version="2.0.0"),
    # Data 2.4.11 attachments
    "attachment without sha2": make(
        attachments=[
            {
                "usageType": "http://example.org/u",
                "display": {"en-US": "x"},
                "contentType": "text/plain",
                "length": 1,
            }
        ]
    ),
    "attachment length not integer": make(
        attachments=[
            {
                "usageType": "http://example.org/u",
                "display": {"en-US": "x"},
                "contentType": "text/plain",
                "length": "1",
                "sha2": "a" * 64,
                "fileUrl": "http://example.org/f",
            }
        ]
    ),
    # Data 2.4.4.1 voiding: the object MUST be a StatementRef
    "voiding an activity": make(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}),
}


@pytest.mark.parametrize("body", list(INVALID.values()), ids=list(INVALID))
def test_invalid_statement_is_rejected_with_400(lrs: Lrs, body: Any) -> None:
    """Data 2.4 and Communication 2.1: the LRS MUST reject invalid statements with 400."""
    response = lrs.post(body)
    assert response.status_code == 400, response.text
    assert "message" in response.json()


def test_invalid_statement_in_a_batch_rejects_the_whole_batch(lrs: Lrs) -> None:
    """Communication 2.1.2: a batch is stored entirely or not at all."""
    good = statement()
    response = lrs.post([good, make(verb=None)])
    assert response.status_code == 400
    found = lrs.get(params={"activity": good["object"]["id"]}).json()["statements"]
    assert found == []


def test_error_message_names_the_property(lrs: Lrs) -> None:
    """Bad input gets a clear error that says what and where."""
    response = lrs.post(make(result={"score": {"scaled": 2}}))
    assert "statement.result.score.scaled" in response.json()["message"]


def test_non_json_body_is_400(lrs: Lrs) -> None:
    response = lrs.request(
        "POST", "statements", data="{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


VALID = {
    "every IFI: mbox_sha1sum": make(actor={"mbox_sha1sum": "a" * 40}),
    "every IFI: openid": make(actor={"openid": "http://example.org/me"}),
    "every IFI: account": make(
        actor={"account": {"homePage": "https://steun.example.nl", "name": "p-1"}}
    ),
    "identified group with members": make(
        actor={
            "objectType": "Group",
            "name": "team",
            "mbox": "mailto:g@example.org",
            "member": [ACTOR],
        }
    ),
    "anonymous group": make(
        actor={"objectType": "Group", "member": [ACTOR, {"openid": "http://example.org/o"}]}
    ),
    "agent as object": make(object={"objectType": "Agent", "mbox": "mailto:b@example.org"}),
    "statement ref as object": make(object={"objectType": "StatementRef", "id": str(uuid.uuid4())}),
    "substatement": make(
        object={
            "objectType": "SubStatement",
            "actor": ACTOR,
            "verb": VERB,
            "object": ACTIVITY,
            "result": {"success": True},
            "context": {"contextActivities": {"parent": ACTIVITY}},
            "timestamp": "2024-01-01T00:00:00Z",
        }
    ),
    "likert interaction without correct responses": make(
        object={
            "id": "http://example.org/q7",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "interactionType": "likert",
                "name": {"nl-NL": "Vraag 7", "en-US": "Question 7"},
                "scale": [
                    {"id": "1", "description": {"nl-NL": "nooit"}},
                    {"id": "5", "description": {"nl-NL": "altijd"}},
                ],
            },
        },
        result={"response": "4"},
    ),
    "full result": make(
        result={
            "score": {"scaled": -0.5, "raw": 2, "min": 0, "max": 10},
            "success": False,
            "completion": True,
            "response": "",
            "duration": "PT1H30M5.25S",
            "extensions": {"http://example.org/ext": {"nested": [1, None]}},
        }
    ),
    "full context": make(
        context={
            "registration": str(uuid.uuid4()),
            "instructor": {"mbox": "mailto:i@example.org"},
            "team": {"objectType": "Group", "member": [ACTOR]},
            "contextActivities": {
                "parent": [ACTIVITY],
                "grouping": ACTIVITY,
                "category": [ACTIVITY],
                "other": [],
            },
            "revision": "2",
            "platform": "Steun",
            "language": "nl-NL",
            "statement": {"objectType": "StatementRef", "id": str(uuid.uuid4())},
            "extensions": {"https://steun.example.nl/xapi/ext/child-code": "B"},
        }
    ),
    "timestamp with offset": make(timestamp="2027-03-16T10:12:00+01:00"),
    "timestamp with fraction": make(timestamp="2027-03-16T10:12:00.123456789Z"),
    "version 1.0.3": make(version="1.0.3"),
    "OAuth authority pair": make(
        authority={
            "objectType": "Group",
            "member": [{"account": {"homePage": "http://example.org/oauth", "name": "app"}}, ACTOR],
        }
    ),
    "floats keep their precision": make(
        result={"score": {"min": 0.12123434, "raw": 12.125, "max": 45.45}}
    ),
    "language tags of many shapes": make(
        verb={
            "id": VERB["id"],
            "display": {
                "zh-Hant-TW": "x",
                "und": "y",
                "sr-Latn-RS": "z",
                "es-419": "w",
                "cmn": "v",
            },
        }
    ),
    "duration in weeks and days": make(result={"duration": "P1W"}),
    "attachment with fileUrl": make(
        attachments=[
            {
                "usageType": "http://example.org/u",
                "display": {"en-US": "file"},
                "contentType": "application/pdf",
                "length": 10,
                "sha2": "b" * 64,
                "fileUrl": "http://example.org/file.pdf",
            }
        ]
    ),
}


@pytest.mark.parametrize("body", list(VALID.values()), ids=list(VALID))
def test_every_valid_form_is_accepted(lrs: Lrs, body: Any) -> None:
    """Data 2.4: every valid form is stored and returned."""
    response = lrs.post(body)
    assert response.status_code == 200, response.text
    (statement_id,) = response.json()
    stored = lrs.get(params={"statementId": statement_id}).json()
    assert stored["verb"]["id"] == body["verb"]["id"]


def test_single_context_activity_is_returned_as_an_array(lrs: Lrs) -> None:
    """Data 2.4.6.2: a single contextActivities object is returned as an array of one."""
    (statement_id,) = lrs.post(make(context={"contextActivities": {"parent": ACTIVITY}})).json()
    stored = lrs.get(params={"statementId": statement_id}).json()
    assert stored["context"]["contextActivities"]["parent"] == [ACTIVITY]
