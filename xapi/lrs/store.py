"""Storage of the LRS on SQLite (WAL) or PostgreSQL with SQLAlchemy Core.

Nothing here keeps state between requests except the engine, so any number of worker
processes can share one database. Writes on SQLite take the write lock up front
(``BEGIN IMMEDIATE``) so concurrent writers wait for each other instead of failing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import struct
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
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
from sqlalchemy.exc import DisconnectionError, IntegrityError

from xapi.lrs import schema as t
from xapi.lrs.exceptions import BadRequest, Conflict, LrsError, NotFound, PreconditionFailed
from xapi.lrs.validation import IFIS, VOIDED
from xapi.tokens import cli_safe_token

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


# Roles of a value in a statement, kept with its index row so that one row serves several
# filters: agent= (the actor or the object), a withdrawal (everyone it must reach) and
# related_agents (those and the authority).
ROLE_MAIN = 1
ROLE_PERSON = 2
ROLE_RELATED = 4
_KEY = struct.Struct(">qB")  # a key and its roles, packed into lrs_statement.index_keys


def key_hash(text: str) -> int:
    """The signed 64-bit index key of ``kind:value``.

    With a few million distinct values the chance that any two share a key is below 1e-6,
    and a query only goes wrong if its own value shares one: 64 bits keep the index compact."""
    return int.from_bytes(
        hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True
    )


def statement_keys(stmt: dict[str, Any]) -> dict[str, int]:
    """The filter keys (``kind:value``) of one statement and their roles, before inheriting those
    of a StatementRef target. Agents are ``g:``; verb ``v:``; registration ``r:``; the object
    activity ``o:`` and every activity (related_activities) ``ra2:``."""
    keys: dict[str, int] = {}

    def add(key: str, roles: int) -> None:
        keys[key] = keys.get(key, 0) | roles

    actor, obj, context = stmt["actor"], stmt["object"], stmt.get("context") or {}
    kind = obj.get("objectType", "Activity")
    # agent= matches the actor or the object (an Agent or identified Group).
    for identity in [
        agent_identity(actor),
        agent_identity(obj) if kind in ("Agent", "Group") else None,
    ]:
        if identity:
            add("g:" + identity, ROLE_MAIN | ROLE_RELATED)
    add("v:" + stmt["verb"]["id"], ROLE_MAIN)
    if kind == "Activity":
        add("o:" + obj["id"], ROLE_MAIN)
    if context.get("registration"):
        add("r:" + context["registration"].lower(), ROLE_MAIN)
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
    # Supersets, so that every filter is one key and a query walks one (key, seq) range.
    for person in people:
        for identity in _agents_in(person):
            add("g:" + identity, ROLE_PERSON | ROLE_RELATED)
    for identity in _agents_in(stmt.get("authority")):
        add("g:" + identity, ROLE_RELATED)
    for activity_id in activities:
        add("ra2:" + activity_id, ROLE_RELATED)
    return keys


def hashed_keys(stmt: dict[str, Any]) -> dict[int, int]:
    """:func:`statement_keys` as index keys."""
    result: dict[int, int] = {}
    for text, roles in statement_keys(stmt).items():
        key = key_hash(text)
        result[key] = result.get(key, 0) | roles
    return result


def pack_keys(keys: dict[int, int]) -> bytes:
    return b"".join(_KEY.pack(key, roles) for key, roles in keys.items())


def unpack_keys(blob: bytes | None) -> dict[int, int]:
    return dict(_KEY.iter_unpack(blob)) if blob else {}


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
    # The WAL is copied back into the database by a background thread (Checkpointer), not by
    # the request whose COMMIT crosses SQLite's threshold (4 MB): that stalled the request and
    # every writer queued behind it. The automatic checkpoint stays as a fallback at 200 MB.
    # Checkpointing seldom also copies a page that many transactions wrote (the tail of the
    # statement table, busy index pages) once, with fewer fsyncs: at 1M statements stored,
    # batch throughput in-process went from 2,000 to 5,600 per second (docs/lrs.md).
    cursor.execute("PRAGMA wal_autocheckpoint=50000")
    cursor.execute("PRAGMA journal_size_limit=67108864")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Checkpointer:
    """Copies the WAL of a SQLite database back into the database file from a background
    thread, every ``interval`` seconds, so that no request waits for it (one per process; a
    forked worker starts its own on its first write)."""

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="lrs-wal-checkpoint", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                dbapi = self.engine.raw_connection()
                try:
                    dbapi.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                finally:
                    dbapi.close()
            except Exception:  # never let the thread die; SQLite's fallback still applies
                log.warning("WAL checkpoint failed", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=5)
        self._thread = None


class WriteGate:
    """Writers of one SQLite database queue here, across threads and processes, before they
    take SQLite's write lock: an exclusive ``flock`` on ``<database>-writer.lock``.

    SQLite itself makes a writer that finds the lock taken poll, sleeping 1, 2, 5 ... up to
    100 ms between tries, so under load the lock often sits free while writers sleep. Waiting
    in the kernel instead hands the lock over the moment it is released."""

    def __init__(self, database: str | None) -> None:
        self.path = f"{database}-writer.lock" if database and database != ":memory:" else None
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.path is None:
            yield
            return
        with self._thread_lock:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


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
    engine = create_engine(url)
    event.listen(engine, "checkout", _check_connection)
    event.listen(engine, "checkin", _note_checkin)
    return engine


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _check_connection(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Test a pooled PostgreSQL connection before use if it sat idle for a while (the server
    may have restarted) or broke: one round trip less per request than ``pool_pre_ping``,
    which pings every time."""
    if dbapi_connection.broken or dbapi_connection.closed:
        raise DisconnectionError()
    if time.monotonic() - record.info.get("checked_in", 0.0) < 1.0:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as exc:
        raise DisconnectionError() from exc


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
            keys.append((("ra2:" if self.related_activities else "o:") + self.activity, 0))
        if self.verb:
            keys.append(("v:" + self.verb, 0))
        return [(key_hash(k), roles) for k, roles in keys]


class ConnectionLost(LrsError):
    """The database connection was lost (PostgreSQL restarted or ended it)."""

    status = 503

    def __init__(self) -> None:
        super().__init__("The database connection was lost; try again.")


def _dead(dbapi: Any) -> bool:
    driver = dbapi.driver_connection
    return bool(getattr(driver, "broken", False) or getattr(driver, "closed", False))


class Raw:
    """A DBAPI cursor for the hot paths, without SQLAlchemy's statement machinery (which costs
    more than SQLite itself for a one-statement POST). SQL is written with ``?`` on both
    engines; :meth:`in_` renders an IN list (SQLite) or ``= ANY`` over one array (PostgreSQL)."""

    def __init__(self, dbapi_connection: Any, postgres: bool) -> None:
        self.cursor = dbapi_connection.cursor()
        self.postgres = postgres

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def in_(self, column: str, values: Iterable[Any]) -> tuple[str, list[Any]]:
        items = list(values)
        if self.postgres:
            return f" {column} = ANY(?)", [items]
        return f" {column} IN ({','.join('?' * len(items))})", items

    def rows(
        self, text: str, where: tuple[str, list[Any]] = ("", []), *, first: Iterable[Any] = ()
    ) -> list[Any]:
        self.cursor.execute(self._sql(text + where[0]), [*first, *where[1]])
        return list(self.cursor.fetchall())

    def run(
        self, text: str, where: tuple[str, list[Any]] = ("", []), *, first: Iterable[Any] = ()
    ) -> int:
        self.cursor.execute(self._sql(text + where[0]), [*first, *where[1]])
        return int(self.cursor.rowcount)

    def many(self, text: str, rows: list[tuple[Any, ...]]) -> None:
        self.cursor.executemany(self._sql(text), rows)


@dataclass
class _Prepared:
    """One statement of a write, prepared outside the transaction."""

    received: dict[str, Any]
    fingerprint: str
    keys: dict[int, int]
    voids: str | None
    ref: str | None
    body: str


class Store:
    """All LRS data access; one per process, safe to share between threads."""

    def __init__(self, url: str, *, max_limit: int = 500) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.max_limit = max_limit
        parsed = make_url(url)
        self._gate = WriteGate(parsed.database if parsed.get_backend_name() == "sqlite" else None)
        self._checkpointer = Checkpointer(self.engine) if self._gate.path else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self._checkpointer is not None:
            self._checkpointer.ensure_running()
        with (
            self._gate.hold(),
            self.engine.connect().execution_options(write=True) as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def _raw_write(self) -> Iterator[Raw]:
        """A write transaction on a pooled DBAPI connection (SQLite: BEGIN IMMEDIATE).

        Raises :class:`ConnectionLost` if the connection turned out to be dead (PostgreSQL
        restarted or ended it); the caller may retry on a fresh one."""
        postgres = self.dialect == "postgresql"
        if self._checkpointer is not None:
            self._checkpointer.ensure_running()
        with self._gate.hold():
            dbapi = self.engine.raw_connection()
            try:
                db = Raw(dbapi, postgres)
                if not postgres:
                    db.cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    if not _dead(dbapi):
                        dbapi.rollback()
                    raise
                dbapi.commit()
            except self.engine.dialect.loaded_dbapi.OperationalError as exc:
                self._drop_if_dead(dbapi, exc)
                raise
            finally:
                dbapi.close()

    def _drop_if_dead(self, dbapi: Any, exc: Exception) -> None:
        if _dead(dbapi):
            dbapi.invalidate()
            self.engine.pool.dispose()  # its other connections are likely dead too
            raise ConnectionLost() from exc

    def _raw_read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """One query on a pooled DBAPI connection (SQLite: a statement is its own snapshot)."""
        postgres = self.dialect == "postgresql"
        for attempt in (1, 2):
            dbapi = self.engine.raw_connection()
            driver: Any = dbapi.driver_connection
            try:
                if postgres:  # no transaction to end afterwards: one round trip
                    driver.autocommit = True
                rows = Raw(dbapi, postgres).rows(sql, first=params)
                if postgres:
                    driver.autocommit = False
                return rows
            except self.engine.dialect.loaded_dbapi.OperationalError as exc:
                try:
                    self._drop_if_dead(dbapi, exc)
                except ConnectionLost:
                    if attempt == 2:
                        raise
                    continue
                raise
            finally:
                dbapi.close()
        raise AssertionError("unreachable")

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
            elif version == 1:
                self._migrate_from_1(conn)
            elif version > t.SCHEMA_VERSION:
                raise LrsError(
                    f"The LRS database has schema version {version}; this Steun knows "
                    f"{t.SCHEMA_VERSION}. Upgrade Steun."
                )

    def _migrate_from_1(self, conn: Connection) -> None:
        """Schema 1 -> 2: rebuild the statement index from the stored statements, in the same
        transaction (all or nothing). It reads every statement once: about 90 s per million
        statements on SQLite (29,430 in 2.6 s)."""
        count = conn.execute(select(func.count()).select_from(t.statement)).scalar_one()
        log.warning("LRS schema 1 -> 2: rebuilding the index of %d statements", count)
        binary = "BYTEA" if self.dialect == "postgresql" else "BLOB"
        conn.exec_driver_sql("DROP TABLE lrs_statement_key")
        conn.exec_driver_sql("DROP INDEX ix_lrs_statement_voids")
        conn.exec_driver_sql(f"ALTER TABLE lrs_statement ADD COLUMN index_keys {binary}")
        t.statement_key.create(conn)
        next(i for i in t.statement.indexes if i.name == "ix_lrs_statement_voids").create(conn)
        s = t.statement.c
        after = 0
        while True:
            rows = conn.execute(
                select(s.seq, s.body).where(s.seq > after).order_by(s.seq).limit(2000)
            ).all()
            if not rows:
                break
            after = rows[-1].seq
            statements = [(row.seq, json.loads(row.body)) for row in rows]
            refs = {
                stmt["object"]["id"].lower()
                for _seq, stmt in statements
                if stmt["object"].get("objectType") == "StatementRef"
            }
            inherited = {
                r.id: unpack_keys(r.index_keys)
                for r in conn.execute(select(s.id, s.index_keys).where(s.id.in_(list(refs))))
            }
            updates, key_rows = [], []
            for seq, stmt in statements:
                keys = hashed_keys(stmt)
                if stmt["object"].get("objectType") == "StatementRef":
                    for key, roles in inherited.get(stmt["object"]["id"].lower(), {}).items():
                        keys[key] = keys.get(key, 0) | roles
                inherited[stmt["id"].lower()] = keys  # a reference later in this chunk
                updates.append({"s": seq, "k": pack_keys(keys)})
                key_rows += [(key, seq, roles) for key, roles in keys.items()]
            conn.execute(
                update(t.statement)
                .where(s.seq == bindparam("s"))
                .values(index_keys=bindparam("k")),
                updates,
            )
            _insert_keys(Raw(conn.connection, self.dialect == "postgresql"), sorted(key_rows))
        conn.execute(update(t.schema_version).values(version=t.SCHEMA_VERSION))
        log.warning("LRS schema 1 -> 2: done")

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
        key = key or cli_safe_token(16)
        secret = secret or cli_safe_token(32)
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
        """Checked against the database on every request, so that a revocation holds at once
        in every worker."""
        rows = self._raw_read(
            "SELECT id, key, salt, secret_hash, scopes, label FROM lrs_credential"
            " WHERE key = ? AND revoked = ?",
            (key, False),
        )
        if not rows:
            return None
        cred_id, cred_key, salt, secret_hash, scopes, label = rows[0]
        if not secrets.compare_digest(_hash_secret(salt, secret), secret_hash):
            return None
        return Credential(cred_id, cred_key, frozenset(scopes.split()), label)

    # statements: writing -----------------------------------------------------------------

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
            prepared[sid] = _Prepared(
                received=received,
                fingerprint=hashlib.sha256(core.encode()).hexdigest(),
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
                elif old != p.fingerprint:
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

    # statements: reading -----------------------------------------------------------------

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
            rows = [(r.seq, r.body, bool(r.has_attachments)) for r in conn.execute(query)]
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


_KEY_PREFERENCE = ("r:", "g:", "o:", "v:")


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
            # credential carries.
            chosen = sorted(
                k
                for k, roles in keys.items()
                if k.startswith(prefix) and (prefix != "g:" or roles & ROLE_MAIN)
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
    _insert_keys(db, sorted((k, seqs[sid], r) for sid, ks in keys.items() for k, r in ks.items()))


def _insert_keys(db: Raw, rows: list[tuple[int, int, int]]) -> None:
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
            before = json.loads(current[h])
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


def _body_json(stmt: dict[str, Any], received: dict[str, Any], core: str) -> str:
    """The stored JSON: what the LRS sets, then the statement as received (``core``)."""
    head = {k: stmt[k] for k in ("id", "version", "stored", "authority")}
    if "timestamp" not in received:
        head["timestamp"] = stmt["timestamp"]
    return json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1] + "," + core[1:]


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
