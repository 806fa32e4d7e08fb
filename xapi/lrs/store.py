"""Storage of the LRS on SQLite (WAL) or PostgreSQL with SQLAlchemy Core.

Nothing here keeps state between requests except the engine, so any number of worker
processes can share one database. Writes on SQLite take the write lock up front
(``BEGIN IMMEDIATE``) so concurrent writers wait for each other instead of failing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError

from xapi.lrs import schema as t
from xapi.lrs.exceptions import BadRequest, Conflict, LrsError, NotFound, PreconditionFailed
from xapi.lrs.validation import IFIS, VOIDED

log = logging.getLogger("xapi.lrs")

SCOPES = (
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "state",
    "profile",
    "define",
    "all/read",
    "all",
    "admin",
)


def now_us() -> int:
    """Now in whole milliseconds, expressed in microseconds (``stored`` is precise to 1 ms)."""
    return (time.time_ns() // 1_000_000) * 1000


def format_us(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micro // 1000:03d}Z"


def hkey(text: str) -> str:
    """A 128-bit hex hash: compact, fixed-length index keys for IRIs of any length."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def agent_identity(agent: dict[str, Any]) -> str | None:
    """``objectType|ifi|value`` of an Agent or identified Group; None for an anonymous Group."""
    kind = agent.get("objectType", "Agent")
    for ifi in IFIS:
        if ifi in agent:
            value = agent[ifi]
            if ifi == "account":
                return f"{kind}|account|{value.get('homePage')}|{value.get('name')}"
            return f"{kind}|{ifi}|{value}"
    return None


def agent_hash(agent: dict[str, Any]) -> str:
    identity = agent_identity(agent)
    if identity is None:
        raise BadRequest("The agent must carry an inverse functional identifier.")
    return hkey(identity)


# -- statement index keys ------------------------------------------------------------------


def _agents_in(agent: dict[str, Any] | None) -> Iterator[str]:
    if not agent:
        return
    identity = agent_identity(agent)
    if identity:
        yield identity
    for member in agent.get("member", []) or []:
        member_identity = agent_identity(member)
        if member_identity:
            yield member_identity


def _context_activity_ids(context: dict[str, Any] | None) -> Iterator[str]:
    if not context:
        return
    for items in (context.get("contextActivities") or {}).values():
        for item in items:
            yield item["id"]


def _context_people(context: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The agents and groups of xAPI 2.0 ``contextAgents`` and ``contextGroups``: related_agents
    matches them (Communication 2.1.3, 2.0) and a withdrawal reaches them."""
    people: list[dict[str, Any] | None] = [
        item.get("agent") for item in context.get("contextAgents") or []
    ]
    people += [item.get("group") for item in context.get("contextGroups") or []]
    return people


def statement_keys(stmt: dict[str, Any]) -> set[str]:
    """The filter keys of one statement (before inheriting those of a StatementRef target)."""
    keys: set[str] = set()
    actor, obj, context = stmt["actor"], stmt["object"], stmt.get("context") or {}
    kind = obj.get("objectType", "Activity")
    # agent= matches the actor or the object (an Agent or identified Group).
    for identity in [
        agent_identity(actor),
        agent_identity(obj) if kind in ("Agent", "Group") else None,
    ]:
        if identity:
            keys.add("a:" + identity)
    keys.add("v:" + stmt["verb"]["id"])
    if kind == "Activity":
        keys.add("o:" + obj["id"])
    if context.get("registration"):
        keys.add("r:" + context["registration"].lower())
    # Everyone a withdrawal must reach: actor, object, instructor, team and group members,
    # also inside a SubStatement. related_agents adds the authority.
    people: list[dict[str, Any] | None] = [actor, context.get("instructor"), context.get("team")]
    people += _context_people(context)  # xAPI 2.0
    activities = list(_context_activity_ids(context))
    if kind in ("Agent", "Group"):
        people.append(obj)
    elif kind == "Activity":
        activities.append(obj["id"])
    elif kind == "SubStatement":
        sub_obj, sub_ctx = obj["object"], obj.get("context") or {}
        people += [obj["actor"], sub_ctx.get("instructor"), sub_ctx.get("team")]
        people += _context_people(sub_ctx)
        activities += list(_context_activity_ids(sub_ctx))
        sub_kind = sub_obj.get("objectType", "Activity")
        if sub_kind in ("Agent", "Group"):
            people.append(sub_obj)
        elif sub_kind == "Activity":
            activities.append(sub_obj["id"])
    # "w:" reaches everyone a withdrawal must reach; "ra:" (related_agents) adds the
    # authority, "ra2:" (related_activities) holds every activity. Supersets, so that every
    # filter is one key and a query walks one (key, seq) index range.
    for person in people:
        for identity in _agents_in(person):
            keys.add("w:" + identity)
            keys.add("ra:" + identity)
    for identity in _agents_in(stmt.get("authority")):
        keys.add("ra:" + identity)
    for activity_id in activities:
        keys.add("ra2:" + activity_id)
    return keys


LRS_SET = ("stored", "authority", "version", "id")


def core_json(stmt: dict[str, Any]) -> str:
    """The statement as received minus what the LRS sets, as canonical JSON (sorted keys).

    Its hash decides whether two statements with one id are 'the same'; the stored body is
    this text with id, version, stored and authority put in front (one JSON encoding)."""
    body = {k: v for k, v in stmt.items() if k not in LRS_SET}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(stmt: dict[str, Any]) -> str:
    return hashlib.sha256(core_json(stmt).encode()).hexdigest()


# -- engine -------------------------------------------------------------------------------


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Reading pages straight from the mapped file, and a larger page cache, halve the CPU
    # of deep paging; both are per connection and cost no disk.
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


# -- the store ----------------------------------------------------------------------------


@dataclass
class Credential:
    id: int
    key: str
    scopes: frozenset[str]
    label: str

    def allows(self, *needed: str) -> bool:
        return bool(self.scopes & set(needed))

    @property
    def authority(self) -> dict[str, Any]:
        return {
            "objectType": "Agent",
            "name": self.label,
            "account": {"homePage": "urn:steun:lrs:credential", "name": self.key},
        }


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

    def filter_keys(self) -> list[str]:
        """The index keys a matching statement has, most selective first (registration, agent,
        activity, verb): the first one drives the query, the others are checked per row."""
        keys: list[str] = []
        if self.registration:
            keys.append("r:" + self.registration)
        if self.agent:
            keys.append(("ra:" if self.related_agents else "a:") + self.agent)
        if self.activity:
            keys.append(("ra2:" if self.related_activities else "o:") + self.activity)
        if self.verb:
            keys.append("v:" + self.verb)
        return [hkey(k) for k in keys]


class Store:
    """All LRS data access; one per process, safe to share between threads."""

    def __init__(self, url: str, *, max_limit: int = 500) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.max_limit = max_limit

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # schema ------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create the tables if needed and check the recorded schema version."""
        with self.write() as conn:
            t.metadata.create_all(conn)
            version = conn.execute(select(func.max(t.schema_version.c.version))).scalar()
            if version is None:
                conn.execute(insert(t.schema_version).values(version=t.SCHEMA_VERSION))
            elif version > t.SCHEMA_VERSION:
                raise LrsError(
                    f"The LRS database has schema version {version}; this Steun knows "
                    f"{t.SCHEMA_VERSION}. Upgrade Steun."
                )

    # credentials -------------------------------------------------------------------------

    def add_credential(
        self, scopes: Iterable[str], label: str, key: str | None = None, secret: str | None = None
    ) -> tuple[str, str]:
        """Store a credential (secret salted and hashed) and return its key and secret."""
        scope_set = sorted(set(scopes))
        unknown = [s for s in scope_set if s not in SCOPES]
        if unknown or not scope_set:
            raise BadRequest(
                f"Unknown scope {', '.join(unknown) or '(none)'}; use {', '.join(SCOPES)}."
            )
        key = key or _cli_safe_token(16)
        secret = secret or _cli_safe_token(32)
        salt = secrets.token_hex(16)
        with self.write() as conn:
            if conn.execute(select(t.credential.c.id).where(t.credential.c.key == key)).first():
                raise Conflict(f"A credential with key '{key}' exists already.")
            conn.execute(
                insert(t.credential).values(
                    key=key,
                    salt=salt,
                    secret_hash=_hash_secret(salt, secret),
                    scopes=" ".join(scope_set),
                    label=label,
                    created_us=now_us(),
                    revoked=False,
                )
            )
        return key, secret

    def ensure_credential(self, key: str, secret: str, scopes: Iterable[str], label: str) -> None:
        """Make sure this exact credential exists and is active (provisioning on start)."""
        salt = secrets.token_hex(16)
        with self.write() as conn:
            row = conn.execute(select(t.credential.c.id).where(t.credential.c.key == key)).first()
            if row is not None:
                conn.execute(
                    update(t.credential)
                    .where(t.credential.c.id == row.id)
                    .values(
                        salt=salt,
                        secret_hash=_hash_secret(salt, secret),
                        scopes=" ".join(sorted(set(scopes))),
                        label=label,
                        revoked=False,
                    )
                )
                return
        with contextlib.suppress(Conflict):  # another worker provisioned it at the same moment
            self.add_credential(scopes, label, key=key, secret=secret)

    def list_credentials(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute(select(t.credential).order_by(t.credential.c.id)).all()
        return [
            {
                "key": r.key,
                "scopes": r.scopes.split(),
                "label": r.label,
                "created": format_us(r.created_us),
                "revoked": bool(r.revoked),
            }
            for r in rows
        ]

    def revoke_credential(self, key: str) -> None:
        with self.write() as conn:
            result = conn.execute(
                update(t.credential).where(t.credential.c.key == key).values(revoked=True)
            )
            if result.rowcount == 0:
                raise NotFound(f"No credential with key '{key}'.")

    def authenticate(self, key: str, secret: str) -> Credential | None:
        with self.read() as conn:
            row = conn.execute(
                select(t.credential).where(
                    t.credential.c.key == key, t.credential.c.revoked.is_(False)
                )
            ).first()
        if row is None or not secrets.compare_digest(
            _hash_secret(row.salt, secret), row.secret_hash
        ):
            return None
        return Credential(row.id, row.key, frozenset(row.scopes.split()), row.label)

    # statements: writing -----------------------------------------------------------------

    def store_statements(
        self,
        statements: list[dict[str, Any]],
        credential: Credential,
        attachments: dict[str, tuple[str, bytes]] | None = None,
    ) -> tuple[list[str], int]:
        """Store validated statements atomically; return their ids (in the order given) and
        how many were new (the others were stored before with the same content)."""
        for attempt in range(3):
            try:
                return self._store_statements(statements, credential, attachments or {})
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store_statements(
        self,
        statements: list[dict[str, Any]],
        credential: Credential,
        attachments: dict[str, tuple[str, bytes]],
    ) -> tuple[list[str], int]:
        stored_us = now_us()
        stored = format_us(stored_us)
        ids: list[str] = []
        seen: set[str] = set()
        for stmt in statements:
            if "id" not in stmt:
                stmt["id"] = str(uuid.uuid4())
            sid = stmt["id"].lower()
            if sid in seen:
                raise BadRequest(f"Statement id {stmt['id']} occurs twice in this request.")
            seen.add(sid)
            ids.append(stmt["id"])
        cores = [core_json(s) for s in statements]
        prints = [hashlib.sha256(c.encode()).hexdigest() for c in cores]
        core_of = {id(s): c for s, c in zip(statements, cores, strict=True)}
        with self.write() as conn:
            existing = {
                r.id: r.fingerprint
                for r in conn.execute(
                    select(t.statement.c.id, t.statement.c.fingerprint).where(
                        t.statement.c.id.in_(list(seen))
                    )
                )
            }
            new: list[tuple[dict[str, Any], str]] = []
            for stmt, fp in zip(statements, prints, strict=True):
                old = existing.get(stmt["id"].lower())
                if old is None:
                    new.append((stmt, fp))
                elif old != fp:
                    raise Conflict(f"Statement {stmt['id']} exists already with different content.")
            if not new:
                return ids, 0
            batch_ids = {s["id"].lower(): s for s, _ in new}
            # Voiding statements. One that targets another voiding statement is accepted but
            # voids nothing: a statement is voided only if it is not itself a voiding statement
            # (Data 2.3.2; the specification does not allow rejecting it).
            targets = {s["object"]["id"].lower() for s, _ in new if s["verb"]["id"] == VOIDED}
            # StatementRef targets pass their filter keys on (Communication 2.1.3, filter rules).
            ref_ids = {
                s["object"]["id"].lower()
                for s, _ in new
                if s["object"].get("objectType") == "StatementRef"
            }
            inherited: dict[str, set[str]] = {}
            if ref_ids:
                rows = conn.execute(
                    select(t.statement.c.id, t.statement_key.c.key)
                    .join(t.statement_key, t.statement_key.c.seq == t.statement.c.seq)
                    .where(t.statement.c.id.in_(list(ref_ids)))
                ).all()
                for row in rows:
                    inherited.setdefault(row.id, set()).add(row.key)
            # Statements that arrive after the statement voiding them are stored voided.
            late_voided = {
                r.voids
                for r in conn.execute(
                    select(t.statement.c.voids).where(t.statement.c.voids.in_(list(batch_ids)))
                )
            } | (targets & set(batch_ids))
            rows_to_insert = []
            key_sets: list[set[str]] = []
            for received, fp in new:
                # A copy: a retried transaction must see the statements as received.
                stmt = {**received, "stored": stored, "authority": credential.authority}
                stmt.setdefault("timestamp", stored)
                stmt.setdefault("version", "1.0.0")
                sid = stmt["id"].lower()
                keys = {hkey(k) for k in statement_keys(stmt)}
                if stmt["object"].get("objectType") == "StatementRef":
                    target = stmt["object"]["id"].lower()
                    keys |= inherited.get(target, set())
                    if target in batch_ids and target != sid:
                        keys |= {hkey(k) for k in statement_keys(batch_ids[target])}
                key_sets.append(keys)
                rows_to_insert.append(
                    {
                        "id": sid,
                        "stored_us": stored_us,
                        "voided": sid in late_voided and stmt["verb"]["id"] != VOIDED,
                        "voids": stmt["object"]["id"].lower()
                        if stmt["verb"]["id"] == VOIDED
                        else None,
                        "credential_id": credential.id,
                        "fingerprint": fp,
                        "has_attachments": bool(stmt.get("attachments")),
                        "body": _body_json(stmt, received, core_of[id(received)]),
                    }
                )
            seqs = (
                conn.execute(
                    insert(t.statement).returning(t.statement.c.seq, sort_by_parameter_order=True),
                    rows_to_insert,
                )
                .scalars()
                .all()
            )
            key_rows = [
                {"key": key, "seq": seq}
                for seq, keys in zip(seqs, key_sets, strict=True)
                for key in keys
            ]
            conn.execute(insert(t.statement_key), key_rows)
            if targets:
                conn.execute(
                    update(t.statement)
                    .where(t.statement.c.id.in_(list(targets)), t.statement.c.voids.is_(None))
                    .values(voided=True)
                )
            self._store_attachments(conn, attachments)
            self._merge_activities(conn, [s for s, _ in new])
        return ids, len(new)

    def _store_attachments(
        self, conn: Connection, attachments: dict[str, tuple[str, bytes]]
    ) -> None:
        if not attachments:
            return
        have = set(
            conn.execute(
                select(t.attachment.c.sha2).where(t.attachment.c.sha2.in_(list(attachments)))
            ).scalars()
        )
        rows = [
            {"sha2": sha2, "content_type": ctype, "content": content}
            for sha2, (ctype, content) in attachments.items()
            if sha2 not in have
        ]
        if rows:
            conn.execute(insert(t.attachment), rows)

    def _merge_activities(self, conn: Connection, statements: list[dict[str, Any]]) -> None:
        """Keep one canonical definition per activity: later definitions refine earlier ones."""
        definitions: dict[str, dict[str, Any]] = {}
        for stmt in statements:
            for act in _activities_with_definitions(stmt):
                merged = definitions.setdefault(act["id"], {})
                _merge_definition(merged, act["definition"])
        if not definitions:
            return
        hashes = {hkey(i): i for i in definitions}
        current = {
            r.id_hash: json.loads(r.definition)
            for r in conn.execute(
                select(t.activity.c.id_hash, t.activity.c.definition).where(
                    t.activity.c.id_hash.in_(list(hashes))
                )
            )
        }
        for h, activity_id in hashes.items():
            if h in current:
                merged = current[h]
                before = json.dumps(merged, sort_keys=True)
                _merge_definition(merged, definitions[activity_id])
                if json.dumps(merged, sort_keys=True) != before:
                    conn.execute(
                        update(t.activity)
                        .where(t.activity.c.id_hash == h)
                        .values(definition=json.dumps(merged))
                    )
            else:
                conn.execute(
                    insert(t.activity).values(
                        id_hash=h,
                        activity_id=activity_id,
                        definition=json.dumps(definitions[activity_id]),
                    )
                )

    # statements: reading -----------------------------------------------------------------

    def get_statement(
        self, statement_id: str, *, voided: bool, mine: int | None = None
    ) -> tuple[str, bool] | None:
        """The stored JSON of one statement and whether it has attachments, or None."""
        query = select(t.statement.c.body, t.statement.c.has_attachments).where(
            t.statement.c.id == statement_id.lower(), t.statement.c.voided.is_(voided)
        )
        if mine is not None:
            query = query.where(t.statement.c.credential_id == mine)
        with self.read() as conn:
            row = conn.execute(query).first()
        return (row.body, bool(row.has_attachments)) if row else None

    def max_seq(self) -> int:
        with self.read() as conn:
            return int(
                conn.execute(select(func.coalesce(func.max(t.statement.c.seq), 0))).scalar_one()
            )

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
            k = t.statement_key.c
            query = query.join(t.statement_key, k.seq == s.seq).where(k.key == keys[0])
            order_seq = k.seq
            for key in keys[1:]:
                other = t.statement_key.alias()
                query = query.where(exists().where(other.c.key == key, other.c.seq == s.seq))
        if q.since_us is not None:
            query = query.where(s.stored_us > q.since_us)
        if q.until_us is not None:
            query = query.where(s.stored_us <= q.until_us)
        if q.mine is not None:
            query = query.where(s.credential_id == q.mine)
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
            rows = [(r.seq, r.body, bool(r.has_attachments)) for r in conn.execute(query)]
        return rows[:limit], len(rows) > limit

    def count_statements(self, q: StatementQuery) -> int:
        """How many statements the query ``q`` matches over all its pages (for progress
        bars): the filters of :meth:`query_statements` without order, limit or position."""
        s = t.statement.c
        keys = q.filter_keys()
        query = select(func.count()).select_from(t.statement).where(s.voided.is_(False))
        if keys:
            k = t.statement_key.c
            query = query.join(t.statement_key, k.seq == s.seq).where(k.key == keys[0])
            for key in keys[1:]:
                other = t.statement_key.alias()
                query = query.where(exists().where(other.c.key == key, other.c.seq == s.seq))
        if q.since_us is not None:
            query = query.where(s.stored_us > q.since_us)
        if q.until_us is not None:
            query = query.where(s.stored_us <= q.until_us)
        if q.mine is not None:
            query = query.where(s.credential_id == q.mine)
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

    # documents ---------------------------------------------------------------------------

    def get_document(self, kind: str, scope: str, doc_id: str) -> Any:
        d = t.document.c
        with self.read() as conn:
            return conn.execute(
                select(t.document).where(
                    d.kind == kind, d.scope == scope, d.doc_hash == hkey(doc_id)
                )
            ).first()

    def list_documents(
        self, kind: str, *, scope: str | None = None, owner: str | None = None, since_us: int | None
    ) -> list[str]:
        d = t.document.c
        query = select(d.doc_id).where(d.kind == kind)
        query = query.where(d.scope == scope) if scope else query.where(d.owner == owner)
        if since_us is not None:
            query = query.where(d.updated_us > since_us)
        with self.read() as conn:
            return list(conn.execute(query.order_by(d.doc_id)).scalars())

    def save_document(self, *args: Any, **kwargs: Any) -> str:
        """PUT (replace) or POST (merge JSON objects) one document; returns the new ETag.

        Two workers creating the same new document at once: the loser retries and then
        sees the winner's row (and its preconditions)."""
        try:
            return self._save_document(*args, **kwargs)
        except IntegrityError:
            return self._save_document(*args, **kwargs)

    def _save_document(
        self,
        kind: str,
        scope: str,
        doc_id: str,
        content: bytes,
        content_type: str,
        *,
        owner: str,
        agent_hash: str | None,
        merge: bool,
        if_match: str | None,
        if_none_match: str | None,
        require_precondition: bool,
    ) -> str:
        d = t.document.c
        with self.write() as conn:
            row = conn.execute(
                select(t.document)
                .where(d.kind == kind, d.scope == scope, d.doc_hash == hkey(doc_id))
                .with_for_update()
            ).first()
            check_preconditions(row, if_match, if_none_match)
            if (
                row is not None
                and require_precondition
                and not merge
                and not (if_match or if_none_match)
            ):
                raise Conflict(
                    "The document exists; send If-Match (its ETag) or If-None-Match to replace it."
                )
            if merge and row is not None:
                content, content_type = merge_json(
                    row.content, row.content_type, content, content_type
                )
            etag = hashlib.sha1(content).hexdigest()  # noqa: S324 - an ETag, not security
            values = {
                "content": content,
                "content_type": content_type,
                "etag": etag,
                "updated_us": now_us(),
            }
            if row is None:
                conn.execute(
                    insert(t.document).values(
                        kind=kind,
                        scope=scope,
                        doc_hash=hkey(doc_id),
                        doc_id=doc_id,
                        owner=owner,
                        agent_hash=agent_hash,
                        **values,
                    )
                )
            else:
                conn.execute(update(t.document).where(d.pk == row.pk).values(**values))
        return etag

    def delete_documents(
        self,
        kind: str,
        doc_id: str | None,
        *,
        scope: str | None = None,
        owner: str | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> None:
        d = t.document.c
        with self.write() as conn:
            query = delete(t.document).where(d.kind == kind)
            query = query.where(d.scope == scope) if scope else query.where(d.owner == owner)
            if doc_id is not None:
                row = conn.execute(
                    select(t.document).where(
                        d.kind == kind, d.scope == scope, d.doc_hash == hkey(doc_id)
                    )
                ).first()
                check_preconditions(row, if_match, if_none_match)
                query = query.where(d.doc_hash == hkey(doc_id))
            conn.execute(query)

    # withdrawal --------------------------------------------------------------------------

    def delete_agent(self, agent: dict[str, Any], *, by: str) -> dict[str, int]:
        """Hard-delete every statement about this agent and its State and Agent Profile documents.

        Statements referring to deleted ones (voiding statements, StatementRefs) inherit their
        keys and go too. The log records counts only, never who.
        """
        identity = agent_identity(agent)
        if identity is None:
            raise BadRequest("The agent must carry an inverse functional identifier.")
        key = hkey("w:" + identity)
        with self.write() as conn:
            seqs = select(t.statement_key.c.seq).where(t.statement_key.c.key == key)
            seq_list = list(conn.execute(seqs).scalars())
            rows = _statement_rows(conn, t.statement.c.seq, seq_list)
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


_KEY_PREFERENCE = ("r:", "a:", "w:", "o:", "v:")


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
    probe_keys: set[str] = set()
    for row in rows:
        keys = statement_keys(json.loads(row.body))
        for prefix in _KEY_PREFERENCE:
            chosen = sorted(k for k in keys if k.startswith(prefix))
            if chosen:
                probe_keys.add(hkey(chosen[0]))
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
    seqs = [r.seq for r in rows]
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        conn.execute(delete(t.statement_key).where(t.statement_key.c.seq.in_(chunk)))
        conn.execute(delete(t.statement).where(t.statement.c.seq.in_(chunk)))
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


def _body_json(stmt: dict[str, Any], received: dict[str, Any], core: str) -> str:
    """The stored JSON: what the LRS sets, then the statement as received (``core``)."""
    head = {k: stmt[k] for k in ("id", "version", "stored", "authority")}
    if "timestamp" not in received:
        head["timestamp"] = stmt["timestamp"]
    return json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1] + "," + core[1:]


def _cli_safe_token(nbytes: int) -> str:
    """A URL-safe random token not starting with "-" (it is given on command lines)."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value


def _hash_secret(salt: str, secret: str) -> str:
    # Secrets are generated (>= 128 bits of entropy), so one salted SHA-256 is enough and
    # keeps per-request authentication cheap (see docs/decisions/0006-lrs-storage.md).
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def state_owner(activity_id: str, agent: str) -> str:
    """The activity and agent a State document belongs to (across registrations)."""
    return hkey(f"state\n{activity_id}\n{agent}")


def state_scope(activity_id: str, agent: str, registration: str | None) -> str:
    return hkey(f"state\n{activity_id}\n{agent}\n{registration or ''}")


def check_preconditions(row: Any, if_match: str | None, if_none_match: str | None) -> None:
    if if_match is not None:
        tags = {tag.strip().strip('"') for tag in if_match.split(",")}
        if row is None or ("*" not in tags and row.etag not in tags):
            raise PreconditionFailed("If-Match does not match the document's current ETag.")
    if if_none_match is not None and row is not None:
        tags = {tag.strip().strip('"') for tag in if_none_match.split(",")}
        if "*" in tags or row.etag in tags:
            raise PreconditionFailed("If-None-Match: the document exists already.")


def _json_object(content: bytes, content_type: str) -> dict[str, Any]:
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise BadRequest("POST merges JSON documents only: Content-Type must be application/json.")
    try:
        value = json.loads(content)
    except ValueError:
        raise BadRequest("The document is not valid JSON.") from None
    if not isinstance(value, dict):
        raise BadRequest("POST merges JSON objects only.")
    return value


def merge_json(old: bytes, old_type: str, new: bytes, new_type: str) -> tuple[bytes, str]:
    """Communication 2.2.4 JSON Procedure with Requirements: merge top-level properties."""
    try:
        current = _json_object(old, old_type)
    except BadRequest:
        raise BadRequest("The stored document is not a JSON object; it cannot be merged.") from None
    current.update(_json_object(new, new_type))
    return json.dumps(current, separators=(",", ":")).encode(), "application/json"


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
