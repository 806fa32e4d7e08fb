"""A store made by an earlier Steun (schema 1) is rebuilt on start: queries, withdrawal and new
statements work on the statements it held."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)

from tests.lrs.conftest import statement, unique_iri
from xapi.lrs import schema as t
from xapi.lrs.store import Credential, StatementQuery, Store, hashed_keys, key_hash

# The tables of schema 1 that changed, as Steun created them then.
V1 = MetaData()
SeqType = BigInteger().with_variant(Integer(), "sqlite")
Table("lrs_schema", V1, Column("version", Integer, primary_key=True, autoincrement=False))
V1_STATEMENT = Table(
    "lrs_statement",
    V1,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("stored_us", BigInteger, nullable=False, index=True),
    Column("voided", Boolean, nullable=False, default=False),
    Column("voids", String(36), nullable=True),
    Column("credential_id", Integer, nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("has_attachments", Boolean, nullable=False, default=False),
    Column("body", Text, nullable=False),
    Index("ix_lrs_statement_voids", "voids"),
)
Table(
    "lrs_statement_key",
    V1,
    Column("key", String(32), nullable=False),
    Column("seq", SeqType, nullable=False),
    PrimaryKeyConstraint("key", "seq", name="pk_lrs_statement_key"),
    Index("ix_lrs_statement_key_seq", "seq"),
)

AUTHORITY = Credential(1, "old", frozenset({"all"}), "old").authority


def agent() -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": "https://x.example", "name": uuid.uuid4().hex},
    }


def stored(stmt: dict[str, Any], seq: int) -> dict[str, Any]:
    body = {"id": str(uuid.uuid4()), "version": "1.0.0", "authority": AUTHORITY, **stmt}
    body["stored"] = body["timestamp"] = "2026-01-01T00:00:00.000Z"
    return {
        "id": body["id"],
        "stored_us": 1_767_225_600_000_000 + seq,
        "voided": False,
        "voids": None,
        "credential_id": 1,
        "fingerprint": "0" * 64,
        "has_attachments": False,
        "body": json.dumps(body),
    }


def test_a_schema_1_store_is_rebuilt(database_url: str) -> None:
    who, other = agent(), agent()
    activity, registration = unique_iri(), str(uuid.uuid4())
    rows = [
        stored(statement(actor=who, object={"id": activity}), 1),
        stored(statement(actor=other, context={"registration": registration}), 2),
        stored(statement(actor=other, context={"instructor": who}), 3),
    ]
    rows.append(
        stored(
            statement(actor=other, object={"objectType": "StatementRef", "id": rows[0]["id"]}), 4
        )
    )
    store = Store(database_url)
    try:
        with store.write() as conn:
            V1.create_all(conn)
            conn.execute(insert(t.schema_version).values(version=1))
            for row in rows:  # in this order, so seq 1, 2, 3, 4
                conn.execute(insert(V1_STATEMENT), row)
        store.create_schema()
        store.create_schema()  # a second start finds the current version and does nothing

        with store.read() as conn:
            version = conn.execute(select(func.max(t.schema_version.c.version))).scalar()
            assert version == t.SCHEMA_VERSION == 3

        def ids(**query: Any) -> set[str]:
            found, _more = store.query_statements(StatementQuery(**query))
            return {json.loads(body)["id"] for _seq, body, _att in found}

        identity = f"Agent|account|https://x.example|{who['account']['name']}"
        by_id = [r["id"] for r in rows]
        # agent= matches the actor and, through the StatementRef, the statement referring to it.
        assert ids(agent=identity) == {by_id[0], by_id[3]}
        assert ids(agent=identity, related_agents=True) == {by_id[0], by_id[2], by_id[3]}
        assert ids(activity=activity) == {by_id[0], by_id[3]}
        assert ids(registration=registration) == {by_id[1]}
        # New statements go into the rebuilt index, and a withdrawal reaches the old ones.
        store.store_statements([statement(actor=who)], Credential(1, "old", frozenset(), "old"))
        assert len(ids(agent=identity)) == 3
        counts = store.delete_agent(who, by="test")
        assert counts["statements"] == 4
        assert ids() == {by_id[1]}
    finally:
        store.dispose()


def test_a_schema_2_store_gets_one_index_row_per_activity(database_url: str) -> None:
    """Schema 2 had an ``o:`` and an ``ra2:`` row for the object activity; the upgrade to 3
    rebuilds the index with one ``a:`` row per activity, and every activity query answers."""
    activity, parent = unique_iri(), unique_iri()
    store = Store(database_url)
    try:
        store.create_schema()
        credential = Credential(1, "k", frozenset({"all"}), "k")
        first = statement(
            object={"id": activity}, context={"contextActivities": {"parent": [{"id": parent}]}}
        )
        second = statement(object={"id": parent})
        ids, _new = store.store_statements([first, second], credential)
        with store.write() as conn:  # as a schema-2 store holds it: other keys, version 2
            conn.execute(t.statement_key.delete())
            conn.execute(
                insert(t.statement_key),
                [{"key": key_hash("o:" + activity), "seq": 1, "roles": 1}],
            )
            conn.execute(update(t.schema_version).values(version=2))
        store.create_schema()
        with store.read() as conn:
            assert conn.execute(select(func.max(t.schema_version.c.version))).scalar() == 3
            rows = conn.execute(select(func.count()).select_from(t.statement_key)).scalar()

        def found(**query: Any) -> set[str]:
            page, _more = store.query_statements(StatementQuery(**query))
            return {json.loads(body)["id"] for _seq, body, _att in page}

        assert found(activity=activity) == {ids[0]}
        assert found(activity=parent) == {ids[1]}
        assert found(activity=parent, related_activities=True) == set(ids)
        # Per statement: actor, verb, one row per activity, the authority (not o: and ra2:).
        assert rows == len(hashed_keys(first | {"authority": credential.authority})) + len(
            hashed_keys(second | {"authority": credential.authority})
        )
    finally:
        store.dispose()
