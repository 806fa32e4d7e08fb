"""Storing statements: one transaction per batch with batch INSERTs (unnest on PostgreSQL,
executemany on SQLite), voiding, inherited StatementRef keys, attachments and the
canonical activity definitions they carry.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from xapi.lrs.comparison import for_comparison
from xapi.lrs.exceptions import BadRequest, Conflict
from xapi.lrs.limits import has_long_digit_run
from xapi.lrs.store.clock import format_us, now_us
from xapi.lrs.store.connection import ConnectionLost, Raw, StoreBase
from xapi.lrs.store.credentials import Credential
from xapi.lrs.store.keys import (
    compact_json,
    core_json,
    hashed_keys,
    hkey,
    legacy_fingerprint,
    pack_keys,
    unpack_keys,
)
from xapi.lrs.validation import VOIDED


@dataclass
class _Prepared:
    """One statement of a write, prepared outside the transaction."""

    received: dict[str, Any]
    fingerprint: str
    # The fingerprint of the exact text when durations were truncated for ``fingerprint``: rows
    # stored before durations compared to 0.01 s carry that one.
    exact_fingerprint: str
    keys: dict[int, int]
    voids: str | None
    ref: str | None
    body: str


class StatementWrites(StoreBase):
    """POST and PUT of statements."""

    def store_statements(
        self,
        statements: list[dict[str, Any]],
        credential: Credential,
        attachments: dict[str, tuple[str, bytes]] | None = None,
    ) -> tuple[list[str], int]:
        """Store validated statements atomically; return their ids (in the order given) and
        how many were new (the others were stored before with the same content)."""
        # Two workers storing the same new id (or activity) at once on PostgreSQL: the loser
        # retries and then sees the winner's row.
        # A dead pooled connection: retry on a fresh one (if it died while committing, the
        # retry finds the statements stored and changes nothing).
        retry = (self.engine.dialect.loaded_dbapi.IntegrityError, ConnectionLost)
        for attempt in range(3):
            try:
                return self._store_statements(statements, credential, attachments or {})
            except retry:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store_statements(
        self,
        statements: list[dict[str, Any]],
        credential: Credential,
        attachments: dict[str, tuple[str, bytes]],
    ) -> tuple[list[str], int]:
        # Everything that needs no database happens before the write lock is taken (SQLite
        # has one writer at a time): ids, canonical JSON, fingerprints, bodies, index keys.
        stored_us = now_us()
        stored = format_us(stored_us)
        authority = credential.authority
        ids: list[str] = []
        prepared: dict[str, _Prepared] = {}
        for received in statements:
            if "id" not in received:
                received["id"] = str(uuid.uuid4())
            sid = received["id"].lower()
            if sid in prepared:
                raise BadRequest(f"Statement id {received['id']} occurs twice in this request.")
            ids.append(received["id"])
            core = core_json(received)
            # A copy: a retried transaction must see the statements as received.
            stmt = {**received, "stored": stored, "authority": authority}
            stmt.setdefault("timestamp", stored)
            stmt.setdefault("version", "1.0.0")
            obj = received["object"]
            exact = hashlib.sha256(core.encode()).hexdigest()
            comparable = for_comparison(received)
            prepared[sid] = _Prepared(
                received=received,
                fingerprint=(
                    exact
                    if comparable is received
                    else hashlib.sha256(core_json(comparable).encode()).hexdigest()
                ),
                exact_fingerprint=exact,
                keys=hashed_keys(stmt),
                voids=obj["id"].lower() if received["verb"]["id"] == VOIDED else None,
                ref=obj["id"].lower() if obj.get("objectType") == "StatementRef" else None,
                body=_body_json(stmt, received, core),
            )
        with self._raw_write() as db:
            # One query: which ids are stored already (and with what content), and which
            # are voided already by a stored voiding statement (that arrived first).
            existing: dict[str, str] = {}
            voided_before: set[str] = set()
            every_id = list(prepared)
            for start in range(0, len(every_id), 5000):  # SQLite may take only 32,766 parameters
                chunk = every_id[start : start + 5000]
                by_id, ids_params = db.in_("id", chunk)
                by_voids, voids_params = db.in_("voids", chunk)
                for sid, fingerprint, is_voiding in db.rows(
                    # The fragments hold placeholders only; the values go as parameters.
                    f"SELECT id, fingerprint, 0 FROM lrs_statement WHERE{by_id} UNION ALL"  # noqa: S608
                    f" SELECT voids, NULL, 1 FROM lrs_statement WHERE{by_voids}",
                    first=[*ids_params, *voids_params],
                ):
                    if is_voiding:
                        voided_before.add(sid)
                    else:
                        existing[sid] = fingerprint
            new: dict[str, _Prepared] = {}
            for sid, p in prepared.items():
                old = existing.get(sid)
                if old is None:
                    new[sid] = p
                elif old not in (p.fingerprint, p.exact_fingerprint) and old not in (
                    # Stored before fingerprints were orjson's text (floats below 1e-4 differ).
                    legacy_fingerprint(p.received),
                    legacy_fingerprint(for_comparison(p.received)),
                ):
                    raise Conflict(
                        f"Statement {p.received['id']} exists already with different content."
                    )
            if not new:
                return ids, 0
            # Voiding statements. One that targets another voiding statement is accepted but
            # voids nothing: a statement is voided only if it is not itself a voiding statement
            # (Data 2.3.2; the specification does not allow rejecting it).
            targets = {p.voids for p in new.values() if p.voids}
            # StatementRef targets pass their filter keys on (Communication 2.1.3, filter rules).
            refs = {p.ref for p in new.values() if p.ref}
            keys = {sid: p.keys for sid, p in new.items()}
            if refs:
                stored_keys = {
                    sid: unpack_keys(blob)
                    for sid, blob in db.rows(
                        "SELECT id, index_keys FROM lrs_statement WHERE", db.in_("id", refs)
                    )
                }
                for sid, p in new.items():
                    if p.ref is None:
                        continue
                    inherited = stored_keys.get(p.ref) or (
                        new[p.ref].keys if p.ref in new and p.ref != sid else {}
                    )
                    merged = dict(p.keys)
                    for key, roles in inherited.items():
                        merged[key] = merged.get(key, 0) | roles
                    keys[sid] = merged
            # Statements that arrive after the statement voiding them are stored voided.
            late_voided = voided_before | (targets & set(new))
            rows = [
                (
                    sid,
                    sid in late_voided and p.voids is None,
                    p.voids,
                    p.fingerprint,
                    bool(p.received.get("attachments")),
                    pack_keys(keys[sid]),
                    p.body,
                )
                for sid, p in new.items()
            ]
            _insert_statements(db, rows, keys, stored_us, credential.id)
            if targets:
                db.run(
                    "UPDATE lrs_statement SET voided = ? WHERE voids IS NULL AND",
                    db.in_("id", targets),
                    first=[True],
                )
            _store_attachments(db, attachments)
            _merge_activities(db, [p.received for p in new.values()])
        return ids, len(new)


def _insert_statements(
    db: Raw,
    rows: list[tuple[Any, ...]],
    keys: dict[str, dict[int, int]],
    stored_us: int,
    credential_id: int,
) -> None:
    """Insert statement rows (id, voided, voids, fingerprint, has_attachments, index_keys,
    body) and their index rows (``keys`` by id)."""
    if db.postgres:
        # One round trip: the statements, then their index rows joined to the new seqs.
        key_ids, key_values, key_roles = [], [], []
        for sid, statement_keys in keys.items():
            for key, roles in statement_keys.items():
                key_ids.append(sid)
                key_values.append(key)
                key_roles.append(roles)
        db.cursor.execute(
            "WITH s AS (INSERT INTO lrs_statement (id, stored_us, voided, voids, credential_id,"
            " fingerprint, has_attachments, index_keys, body)"
            " SELECT u.id, %s, u.voided, u.voids, %s, u.fp, u.att, u.keys, u.body"
            # %b: arrays go in binary (no quoting of the JSON text, ten times cheaper).
            " FROM unnest(%b::varchar[], %b::boolean[], %b::varchar[], %b::varchar[],"
            " %b::boolean[], %b::bytea[], %b::text[])"
            " WITH ORDINALITY AS u(id, voided, voids, fp, att, keys, body, n)"
            " ORDER BY u.n RETURNING seq, id)"
            " INSERT INTO lrs_statement_key (key, seq, roles)"
            " SELECT k.key, s.seq, k.roles"
            " FROM unnest(%b::varchar[], %b::bigint[], %b::smallint[]) AS k(id, key, roles)"
            " JOIN s ON s.id = k.id ORDER BY k.key, s.seq",
            (
                stored_us,
                credential_id,
                *[list(c) for c in zip(*rows, strict=True)],
                key_ids,
                key_values,
                key_roles,
            ),
        )
        return
    # SQLite: this transaction holds the write lock, so the next seqs are known.
    ((top,),) = db.rows("SELECT coalesce(max(seq), 0) FROM lrs_statement")
    first = int(top) + 1
    db.many(
        "INSERT INTO lrs_statement (seq, id, stored_us, voided, voids, credential_id,"
        " fingerprint, has_attachments, index_keys, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (first + i, sid, stored_us, voided, voids, credential_id, fp, att, blob, body)
            for i, (sid, voided, voids, fp, att, blob, body) in enumerate(rows)
        ],
    )
    seqs = {row[0]: first + i for i, row in enumerate(rows)}
    insert_keys(db, sorted((k, seqs[sid], r) for sid, ks in keys.items() for k, r in ks.items()))


def insert_keys(db: Raw, rows: list[tuple[int, int, int]]) -> None:
    """Insert (key, seq, roles) index rows, best in key order (fewer B-tree page switches)."""
    if not rows:
        return
    if db.postgres:
        keys, seqs, roles = (list(c) for c in zip(*rows, strict=True))
        db.cursor.execute(
            "INSERT INTO lrs_statement_key (key, seq, roles)"
            " SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::smallint[])",
            (keys, seqs, roles),
        )
        return
    db.many("INSERT INTO lrs_statement_key (key, seq, roles) VALUES (?, ?, ?)", rows)


def _store_attachments(db: Raw, attachments: dict[str, tuple[str, bytes]]) -> None:
    if not attachments:
        return
    have = {
        sha2
        for (sha2,) in db.rows("SELECT sha2 FROM lrs_attachment WHERE", db.in_("sha2", attachments))
    }
    rows = [
        (sha2, ctype, content) for sha2, (ctype, content) in attachments.items() if sha2 not in have
    ]
    if rows:
        db.many("INSERT INTO lrs_attachment (sha2, content_type, content) VALUES (?, ?, ?)", rows)


def _merge_activities(db: Raw, statements: list[dict[str, Any]]) -> None:
    """Keep one canonical definition per activity: later definitions refine earlier ones."""
    definitions: dict[str, dict[str, Any]] = {}
    for stmt in statements:
        for act in _activities_with_definitions(stmt):
            merged = definitions.setdefault(act["id"], {})
            _merge_definition(merged, act["definition"])
    if not definitions:
        return
    hashes = {hkey(i): i for i in definitions}
    current = dict(
        db.rows("SELECT id_hash, definition FROM lrs_activity WHERE", db.in_("id_hash", hashes))
    )
    updates, inserts = [], []
    for h, activity_id in hashes.items():
        if h in current:
            before = _stored_json(current[h])
            merged = dict(before)  # merging replaces top-level values, never edits them
            _merge_definition(merged, definitions[activity_id])
            if merged != before:
                updates.append((json.dumps(merged), h))
        else:
            inserts.append((h, activity_id, json.dumps(definitions[activity_id])))
    if updates:
        db.many("UPDATE lrs_activity SET definition = ? WHERE id_hash = ?", updates)
    if inserts:
        db.many(
            "INSERT INTO lrs_activity (id_hash, activity_id, definition) VALUES (?, ?, ?)", inserts
        )


def _stored_json(text: str) -> Any:
    """Stored JSON read back: orjson, or json where orjson would differ or refuses (integers
    beyond 64 bits; NaN or Infinity, which an older version wrote into some definitions)."""
    data = text.encode()
    if not has_long_digit_run(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _body_json(stmt: dict[str, Any], received: dict[str, Any], core: str) -> str:
    """The stored JSON: what the LRS sets, then the statement as received (``core``)."""
    head = {k: stmt[k] for k in ("id", "version", "stored", "authority")}
    if "timestamp" not in received:
        head["timestamp"] = stmt["timestamp"]
    return compact_json(head)[:-1] + "," + core[1:]


def _activities_with_definitions(stmt: dict[str, Any]) -> Iterator[dict[str, Any]]:
    parts = [stmt]
    if stmt["object"].get("objectType") == "SubStatement":
        parts.append(stmt["object"])
    for part in parts:
        obj = part["object"]
        if obj.get("objectType", "Activity") == "Activity" and obj.get("definition"):
            yield obj
        for items in ((part.get("context") or {}).get("contextActivities") or {}).values():
            for item in items:
                if item.get("definition"):
                    yield item


def _merge_definition(target: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if key in ("name", "description", "extensions") and isinstance(target.get(key), dict):
            target[key] = {**target[key], **value}
        else:
            target[key] = value
