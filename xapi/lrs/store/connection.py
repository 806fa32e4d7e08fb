"""Transactions of the store: :class:`StoreBase` (the engine, read and write transactions,
raw DBAPI cursors for the hot paths) that every room of :class:`~xapi.lrs.store.Store`
builds on, and :class:`ConnectionLost` when PostgreSQL went away.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, exc
from sqlalchemy.engine import make_url

from xapi.lrs.exceptions import ServiceUnavailable
from xapi.lrs.store.engine import Checkpointer, WriteGate, make_engine


class ConnectionLost(ServiceUnavailable):
    """The database connection was lost (PostgreSQL restarted or ended it)."""

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


class StoreBase:
    """The engine and the transactions on it, shared by every room of the store; one per
    process, safe to share between threads."""

    def __init__(self, url: str, *, max_limit: int = 500) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.max_limit = max_limit
        parsed = make_url(url)
        self._gate = WriteGate(parsed.database if parsed.get_backend_name() == "sqlite" else None)
        self._checkpointer = Checkpointer(self.engine) if self._gate.path else None

    def unavailable(self, error: BaseException) -> bool:
        """Whether ``error`` says the database cannot be reached or used right now (server
        down or refusing connections, a connection lost, the pool exhausted; SQLite: the file
        unreadable, locked for longer than the busy timeout, a disk I/O error), as opposed to
        a fault in a query or in the data. SQLite says "file is not a database" (a damaged or
        replaced file) with the base DatabaseError; its subclasses (integrity, programming
        errors) are faults, not outages."""
        dbapi = self.engine.dialect.loaded_dbapi
        outage: tuple[type[BaseException], ...] = (
            exc.OperationalError,
            exc.InterfaceError,
            exc.TimeoutError,
            dbapi.OperationalError,
            dbapi.InterfaceError,
        )
        return isinstance(error, outage) or type(error) in (exc.DatabaseError, dbapi.DatabaseError)

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
