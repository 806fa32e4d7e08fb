"""Hard deletes: an agent's statements and documents (a withdrawal), statements by id with
everything that refers to them, and the attachments nothing uses any more.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from xapi.lrs import schema as t
from xapi.lrs.exceptions import BadRequest
from xapi.lrs.store.clock import now_us
from xapi.lrs.store.connection import StoreBase
from xapi.lrs.store.keys import (
    ROLE_MAIN,
    ROLE_PERSON,
    agent_identity,
    hkey,
    key_hash,
    statement_keys,
    unpack_keys,
)

log = logging.getLogger("xapi.lrs")


class Deletes(StoreBase):
    """Hard deletes; the admin log records counts, never who or which ids."""

    def delete_agent(self, agent: dict[str, Any], *, by: str) -> dict[str, int]:
        """Hard-delete every statement about this agent and its State and Agent Profile documents.

        Statements referring to deleted ones (voiding statements, StatementRefs) inherit their
        keys and go too. The log records counts only, never who.
        """
        identity = agent_identity(agent)
        if identity is None:
            raise BadRequest("The agent must carry an inverse functional identifier.")
        k = t.statement_key.c
        with self.write() as conn:
            seqs = select(k.seq).where(
                k.key == key_hash("g:" + identity), k.roles.op("&")(ROLE_PERSON) != 0
            )
            rows = _statement_rows(conn, t.statement.c.seq, list(conn.execute(seqs).scalars()))
            statements = len(rows)
            attachments = _purge_statements(conn, rows)  # and attachments nothing else uses
            documents = conn.execute(
                delete(t.document).where(t.document.c.agent_hash == hkey(identity))
            ).rowcount
            counts = {"statements": statements, "documents": documents}
            conn.execute(
                insert(t.admin_log).values(
                    at_us=now_us(),
                    action="delete-agent",
                    by=by,
                    detail=json.dumps({**counts, "attachments": attachments}),
                )
            )
        log.info(
            "delete-agent by %s: %d statements, %d documents removed", by, statements, documents
        )
        return counts

    def delete_statements(self, statement_ids: Iterable[str], *, by: str) -> dict[str, int]:
        """Hard-delete statements by id (voided or not), with everything that refers to them.

        Statements whose object is a StatementRef to a deleted one (voiding statements first
        of all) go too, transitively: they inherited the deleted statement's filter keys, so
        leaving them would leave the withdrawn registration or agent findable. Attachments no
        other statement uses are deleted. Ids the LRS does not hold are counted, not an error,
        so a withdrawal can be run again. The log records counts only, never ids.
        """
        wanted = sorted({str(i).lower() for i in statement_ids})
        with self.write() as conn:
            found = _statement_rows(conn, t.statement.c.id, wanted)
            targets = {r.seq: r for r in found}
            doomed: dict[int, Any] = dict(targets)
            frontier = list(targets.values())
            also: list[str] = wanted  # voiding statements of ids the LRS never got go too
            for _depth in range(20):  # chains of references are short; this bounds a cycle
                referring = _referring_statements(conn, frontier, set(doomed), also)
                also = []
                if not referring:
                    break
                doomed.update((r.seq, r) for r in referring)
                frontier = referring
            counts = {
                "statements": len(doomed),
                "referring": len(doomed) - len(targets),
                "not_found": len(wanted) - len(targets),
                "attachments": _purge_statements(conn, list(doomed.values())),
            }
            conn.execute(
                insert(t.admin_log).values(
                    at_us=now_us(), action="delete-statements", by=by, detail=json.dumps(counts)
                )
            )
        log.info(
            "delete-statements by %s: %d statements (%d referring), %d attachments removed",
            by,
            counts["statements"],
            counts["referring"],
            counts["attachments"],
        )
        return counts


_ROW_COLUMNS = (
    t.statement.c.seq,
    t.statement.c.id,
    t.statement.c.body,
    t.statement.c.has_attachments,
)


def _statement_rows(conn: Connection, column: Any, values: list[Any]) -> list[Any]:
    rows: list[Any] = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        rows += conn.execute(select(*_ROW_COLUMNS).where(column.in_(chunk))).all()
    return rows


_KEY_PREFERENCE = ("r:", "g:", "a:", "v:")


def _referring_statements(
    conn: Connection, rows: list[Any], known: set[int], also: list[str]
) -> list[Any]:
    """Statements (not in ``known``) whose object is a StatementRef to one of ``rows``.

    Voiding statements are found through the ``voids`` index. Other StatementRefs carry every
    filter key of their target (inherited when stored), so they are among the statements
    sharing the target's most selective key; only those mentioning a StatementRef are read.
    """
    ids = {r.id for r in rows} | set(also)
    found = {
        r.seq: r
        for r in _statement_rows(conn, t.statement.c.voids, sorted(ids))
        if r.seq not in known
    }
    probe_keys: set[int] = set()
    for row in rows:
        keys = statement_keys(json.loads(row.body))
        for prefix in _KEY_PREFERENCE:
            # An agent as actor or object: not the authority, which every statement of its
            # credential carries; the object activity, not a context activity.
            chosen = sorted(
                k
                for k, roles in keys.items()
                if k.startswith(prefix) and (prefix in ("r:", "v:") or roles & ROLE_MAIN)
            )
            if chosen:
                probe_keys.add(key_hash(chosen[0]))
                break
    s, k = t.statement.c, t.statement_key.c
    for key in sorted(probe_keys):
        candidates = conn.execute(
            select(*_ROW_COLUMNS)
            .join(t.statement_key, k.seq == s.seq)
            .where(
                k.key == key,
                s.voids.is_(None),
                s.body.like('%"objectType":"StatementRef"%'),
            )
        ).all()
        for row in candidates:
            if row.seq in known or row.seq in found:
                continue
            obj = json.loads(row.body).get("object") or {}
            if obj.get("objectType") == "StatementRef" and str(obj.get("id", "")).lower() in ids:
                found[row.seq] = row
    return list(found.values())


def _purge_statements(conn: Connection, rows: list[Any]) -> int:
    """Delete these statements and their key rows, then attachments nothing uses any more;
    returns how many attachments went."""
    delete_statement_rows(conn, [r.seq for r in rows])
    sha2s = {
        a["sha2"]
        for r in rows
        if r.has_attachments
        for a in json.loads(r.body).get("attachments") or []
        if isinstance(a, dict) and a.get("sha2")
    }
    removed = 0
    for sha2 in sorted(sha2s):
        still_used = conn.execute(
            select(t.statement.c.seq)
            .where(t.statement.c.has_attachments.is_(True), t.statement.c.body.contains(sha2))
            .limit(1)
        ).first()
        if still_used is None:
            removed += conn.execute(
                delete(t.attachment).where(t.attachment.c.sha2 == sha2)
            ).rowcount
    return removed


def delete_statement_rows(conn: Connection, seqs: list[int]) -> int:
    """Hard-delete these statements and their index rows; returns how many were deleted."""
    deleted = 0
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        rows = conn.execute(
            select(t.statement.c.seq, t.statement.c.index_keys).where(t.statement.c.seq.in_(chunk))
        ).all()
        pairs = [{"k": key, "s": row.seq} for row in rows for key in unpack_keys(row.index_keys)]
        if pairs:
            conn.execute(
                delete(t.statement_key).where(
                    t.statement_key.c.key == bindparam("k"), t.statement_key.c.seq == bindparam("s")
                ),
                pairs,
            )
        deleted += conn.execute(delete(t.statement).where(t.statement.c.seq.in_(chunk))).rowcount
    return deleted
