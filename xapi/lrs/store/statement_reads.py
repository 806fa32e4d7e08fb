"""Reading statements: one by id, a page of a filtered query walking the (key, seq) index,
a count for progress bars, their attachments and the canonical activity definitions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, func, select

from xapi.lrs import schema as t
from xapi.lrs.store.connection import StoreBase
from xapi.lrs.store.keys import ROLE_MAIN, hkey, key_hash


@dataclass
class StatementQuery:
    """Filters of GET /statements, as parsed from the request (or from a ``more`` token)."""

    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since_us: int | None = None
    until_us: int | None = None
    limit: int = 0
    ascending: bool = False
    format: str = "exact"
    attachments: bool = False
    mine: int | None = None
    after: int | None = None
    ceiling: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def filter_keys(self) -> list[tuple[int, int]]:
        """The index keys a matching statement has, with the roles one of them must have (0:
        any), most selective first (registration, agent, activity, verb): the first one drives
        the query, the others are checked per row."""
        keys: list[tuple[str, int]] = []
        if self.registration:
            keys.append(("r:" + self.registration, 0))
        if self.agent:
            keys.append(("g:" + self.agent, 0 if self.related_agents else ROLE_MAIN))
        if self.activity:
            keys.append(("a:" + self.activity, 0 if self.related_activities else ROLE_MAIN))
        if self.verb:
            keys.append(("v:" + self.verb, 0))
        return [(key_hash(k), roles) for k, roles in keys]


class StatementReads(StoreBase):
    """GET of statements, attachments and activities."""

    def get_statement(
        self, statement_id: str, *, voided: bool, mine: int | None = None
    ) -> tuple[str, bool] | None:
        """The stored JSON of one statement and whether it has attachments, or None."""
        sql = "SELECT body, has_attachments FROM lrs_statement WHERE id = ? AND voided = ?"
        params: tuple[Any, ...] = (statement_id.lower(), voided)
        if mine is not None:
            sql, params = sql + " AND credential_id = ?", (*params, mine)
        rows = self._raw_read(sql, params)
        return (rows[0][0], bool(rows[0][1])) if rows else None

    def max_seq(self) -> int:
        return int(self._raw_read("SELECT coalesce(max(seq), 0) FROM lrs_statement")[0][0])

    def query_statements(self, q: StatementQuery) -> tuple[list[tuple[int, str, bool]], bool]:
        """One page: (seq, body, has_attachments) rows and whether more follow."""
        s = t.statement.c
        limit = self.max_limit if q.limit <= 0 else min(q.limit, self.max_limit)
        keys = q.filter_keys()
        query = select(s.seq, s.body, s.has_attachments).where(s.voided.is_(False))
        order_seq = s.seq
        if keys:
            # Walk the (key, seq) index of the first filter in stored order: O(page), however
            # rare the value and however deep the page.
            query = _where_keys(query, keys)
            order_seq = t.statement_key.c.seq
        query = _where_statement_filters(query, q)
        # One bound per side, so both engines seek straight to the page: with two upper bounds
        # SQLite ranges on one and filters on the other (a scan that grows with depth).
        upper = q.ceiling + 1 if q.ceiling is not None else None
        if q.after is not None and not q.ascending:
            upper = q.after if upper is None else min(upper, q.after)
        if upper is not None:
            query = query.where(order_seq < upper)
        if q.after is not None and q.ascending:
            query = query.where(order_seq > q.after)
        query = query.order_by(order_seq.asc() if q.ascending else order_seq.desc())
        query = query.limit(limit + 1)
        with self.read() as conn:
            # The rows straight from the DBAPI cursor: SQLAlchemy's result rows cost more than
            # the query (reading pages of 500 from 1M stored on SQLite in-process, 7-12 µs per
            # statement against 3; docs/lrs.md "Performance").
            compiled = query.compile(dialect=conn.dialect)
            params: Any = compiled.params
            if compiled.positional:
                params = [params[name] for name in compiled.positiontup or ()]
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(str(compiled), params)
                rows = [(seq, body, bool(att)) for seq, body, att in cursor.fetchall()]
            finally:
                cursor.close()
        return rows[:limit], len(rows) > limit

    def count_statements(self, q: StatementQuery) -> int:
        """How many statements the query ``q`` matches over all its pages (for progress
        bars): the filters of :meth:`query_statements` without order, limit or position."""
        s = t.statement.c
        keys = q.filter_keys()
        query = select(func.count()).select_from(t.statement).where(s.voided.is_(False))
        if keys:
            query = _where_keys(query, keys)
        query = _where_statement_filters(query, q)
        if q.ceiling is not None:
            query = query.where(s.seq <= q.ceiling)
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    def get_attachments(self, sha2s: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        wanted = list(set(sha2s))
        if not wanted:
            return {}
        with self.read() as conn:
            rows = conn.execute(select(t.attachment).where(t.attachment.c.sha2.in_(wanted))).all()
        return {r.sha2: (r.content_type, bytes(r.content)) for r in rows}

    def get_activity(self, activity_id: str) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(
                select(t.activity.c.definition).where(t.activity.c.id_hash == hkey(activity_id))
            ).first()
        if row is None:
            return None
        result: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
        definition = json.loads(row.definition)
        if definition:
            result["definition"] = definition
        return result


def _where_statement_filters(query: Any, q: StatementQuery) -> Any:
    """The since/until/mine filters of a statement query (shared by a page and a count)."""
    s = t.statement.c
    if q.since_us is not None:
        query = query.where(s.stored_us > q.since_us)
    if q.until_us is not None:
        query = query.where(s.stored_us <= q.until_us)
    if q.mine is not None:
        query = query.where(s.credential_id == q.mine)
    return query


def _where_keys(query: Any, keys: list[tuple[int, int]]) -> Any:
    """Join the statements to the index rows of the first filter key and check the others per
    row (``keys`` as from :meth:`StatementQuery.filter_keys`)."""
    s, k = t.statement.c, t.statement_key.c
    first, roles = keys[0]
    query = query.join(t.statement_key, k.seq == s.seq).where(k.key == first)
    if roles:
        query = query.where(k.roles.op("&")(roles) != 0)
    for key, roles in keys[1:]:
        other = t.statement_key.alias()
        match = exists().where(other.c.key == key, other.c.seq == s.seq)
        if roles:
            match = match.where(other.c.roles.op("&")(roles) != 0)
        query = query.where(match)
    return query
