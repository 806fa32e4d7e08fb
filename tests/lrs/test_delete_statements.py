"""Steun's LRS extensions for withdrawal and exports: hard-deleting single statements (admin
only, with the statements that refer to them and unused attachments) and counting a query."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from tests.lrs.conftest import Lrs, statement, unique_iri
from tests.lrs.test_alternate_and_attachments import attachment_meta, send_multipart
from xapi.client import LrsClient
from xapi.lrs import schema

DELETE = "extensions/statements/delete"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def agent() -> dict[str, Any]:
    return {"account": {"homePage": "https://steun.example.nl", "name": uuid.uuid4().hex}}


def delete(lrs: Lrs, ids: Any, auth: str = "admin") -> Any:
    return lrs.request("POST", DELETE, json_body={"statementIds": ids}, auth=auth)


def exists(lrs: Lrs, sid: str) -> bool:
    found = lrs.get(params={"statementId": sid}).status_code == 200
    return found or lrs.get(params={"voidedStatementId": sid}).status_code == 200


def test_about_lists_the_extensions(lrs: Lrs) -> None:
    client = LrsClient(lrs.endpoint, *lrs.creds["admin"])
    assert client.extension_path("statements-delete") == DELETE
    assert client.extension_path("statements-count") == "extensions/statements/count"
    assert client.extension_path("agent-delete") == "extensions/agent"


def test_only_the_admin_scope_may_delete(lrs: Lrs) -> None:
    (sid,) = lrs.post(statement()).json()
    for auth in ("all", "write", "researcher", "tool"):
        assert delete(lrs, [sid], auth=auth).status_code == 403
    assert lrs.request("POST", DELETE, json_body=[sid], auth=("nobody", "x")).status_code == 401
    assert lrs.request("GET", DELETE, auth="admin").status_code == 405
    assert exists(lrs, sid)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"statementIds": []}, "statementIds"),
        ({"statementIds": ["not-a-uuid"]}, "statementIds[0]"),
        ({"statementIds": [7]}, "statementIds[0]"),
        ({"ids": ["x"]}, "statementIds"),
        ([str(uuid.uuid4())], "statementIds"),
        ({"statementIds": [str(uuid.uuid4()) for _ in range(1001)]}, "At most 1000"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(lrs: Lrs, body: Any, message: str) -> None:
    response = lrs.request("POST", DELETE, json_body=body, auth="admin")
    assert response.status_code == 400 and message in response.json()["message"]


def test_deletes_the_statements_and_what_refers_to_them(lrs: Lrs) -> None:
    """A child's statements go for good: voided or not, with their voiding statements, other
    StatementRefs to them (and references to those), and attachments nothing else uses.
    The teacher's other statements stay, and the admin log holds counts, never ids."""
    teacher, registration = agent(), str(uuid.uuid4())
    child = [
        statement(actor=teacher, context={"registration": registration}),
        statement(actor=teacher, context={"registration": registration}),
        statement(actor=teacher),  # no registration: found through the agent key
    ]
    ids = lrs.post(child).json()
    other = lrs.post(statement(actor=teacher, context={"registration": registration})).json()[0]
    (void,) = lrs.post(
        statement(actor=teacher, verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": ids[0]})
    ).json()  # fmt: skip
    someone = agent()
    (comment,) = lrs.post(
        statement(actor=someone, object={"objectType": "StatementRef", "id": ids[2]})
    ).json()
    (reply,) = lrs.post(
        statement(actor=agent(), object={"objectType": "StatementRef", "id": comment})
    ).json()
    (unrelated_ref,) = lrs.post(
        statement(actor=teacher, object={"objectType": "StatementRef", "id": other})
    ).json()
    assert lrs.get(params={"statementId": ids[0]}).status_code == 404  # voided

    never_sent = str(uuid.uuid4())
    (early_void,) = lrs.post(
        statement(actor=teacher, verb={"id": VOIDED}, object={"objectType": "StatementRef", "id": never_sent})
    ).json()  # fmt: skip

    response = delete(lrs, [*ids, never_sent, ids[1].upper()])
    assert response.status_code == 200, response.text
    assert response.json() == {"statements": 7, "referring": 4, "not_found": 1, "attachments": 0}
    for sid in [*ids, void, comment, reply, early_void]:
        assert not exists(lrs, sid), sid
    for sid in (other, unrelated_ref):
        assert exists(lrs, sid)
    found = lrs.get(params={"registration": registration}).json()["statements"]
    assert {s["id"] for s in found} == {other, unrelated_ref}
    assert [s["id"] for s in lrs.get(params={"agent": someone}).json()["statements"]] == []

    # Again: nothing left to delete, not an error.
    again = delete(lrs, ids)
    assert again.status_code == 200 and again.json()["not_found"] == 3

    engine = create_engine(lrs.database_url)
    try:
        with engine.connect() as conn:
            logged = conn.execute(
                select(schema.admin_log.c.detail, schema.admin_log.c.by).where(
                    schema.admin_log.c.action == "delete-statements"
                )
            ).all()
            keys_left = conn.execute(
                select(schema.statement_key.c.seq).where(
                    schema.statement_key.c.seq.not_in(select(schema.statement.c.seq))
                )
            ).all()
    finally:
        engine.dispose()
    assert keys_left == []
    assert any(json.loads(detail)["statements"] == 7 for detail, _ in logged)
    assert all(sid not in detail for detail, _ in logged for sid in ids)


def test_attachments_go_when_nothing_else_uses_them(lrs: Lrs) -> None:
    shared, own = b"shared attachment " + uuid.uuid4().bytes, b"own " + uuid.uuid4().bytes
    first = statement(attachments=[attachment_meta(shared), attachment_meta(own)])
    second = statement(attachments=[attachment_meta(shared)])
    (first_id,) = send_multipart(lrs, first, [shared, own]).json()
    (second_id,) = send_multipart(lrs, second, [shared]).json()
    response = delete(lrs, [first_id])
    assert response.json()["attachments"] == 1  # "own"; "shared" is still used by the second
    got = lrs.get(params={"statementId": second_id, "attachments": "true"})
    assert got.status_code == 200 and shared in got.content
    assert delete(lrs, [second_id]).json()["attachments"] == 1


def test_count_matches_what_paging_returns(lrs: Lrs) -> None:
    activity, who = unique_iri(), agent()
    lrs.post([statement(actor=who, object={"id": activity}) for _ in range(7)])
    lrs.post([statement(object={"id": activity}) for _ in range(3)])
    client = LrsClient(lrs.endpoint, *lrs.creds["researcher"])
    assert client.count_statements(activity=activity) == 10
    assert client.count_statements(activity=activity, agent=who) == 7
    assert len(list(client.iter_statements(activity=activity, agent=who, limit=2))) == 7
    assert client.count_statements(activity=unique_iri()) == 0
    refused = lrs.request("GET", "extensions/statements/count", auth="write")
    assert refused.status_code == 403


def test_deleting_an_agent_takes_its_attachments(lrs: Lrs) -> None:
    from xapi.lrs.admin import delete_agent_over_http

    who, content = agent(), b"notes about a child " + uuid.uuid4().bytes
    meta = attachment_meta(content)
    assert send_multipart(lrs, statement(actor=who, attachments=[meta]), [content]).ok
    delete_agent_over_http(lrs.endpoint, *lrs.creds["admin"], who)
    engine = create_engine(lrs.database_url)
    try:
        with engine.connect() as conn:
            left = conn.execute(
                select(schema.attachment.c.sha2).where(schema.attachment.c.sha2 == meta["sha2"])
            ).all()
    finally:
        engine.dispose()
    assert left == []
