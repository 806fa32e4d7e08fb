"""Database access: SQLAlchemy 2 engine, sessions and the declarative base.

SQLite (WAL mode) is the embedded default; PostgreSQL is used through ``STEUN_DATABASE_URL``.
The schema is owned by Alembic (``steun db upgrade``); tests run the same migrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from xapi.pool import listen_for_idle_connections

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table of the tool."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        else:  # one connection per thread: no pool to size
            kwargs.pop("pool_size", None)
            kwargs.pop("max_overflow", None)
        engine = create_engine(url, connect_args={"timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    engine = create_engine(url, **kwargs)
    if "pool_pre_ping" not in kwargs:
        # Not pool_pre_ping, which costs a round trip on every request: a connection is tested
        # when it sat idle for a second or more (the server may have restarted) or broke.
        listen_for_idle_connections(engine)
    if engine.dialect.driver == "psycopg":
        event.listen(engine, "checkout", _reads_outside_a_transaction)
        event.listen(engine, "before_cursor_execute", _a_transaction_from_the_first_write)
    return engine


# PostgreSQL: a connection reads outside a transaction until its first write, which opens one
# (BEGIN) that lasts until the commit or rollback. A page that only reads (most of them, and
# every request's session check) then costs no BEGIN and ROLLBACK round trips (issue 16: 4 of a
# launch's 10). Under PostgreSQL's READ COMMITTED each statement sees what was committed when it
# started, inside a transaction or not, so the reads see what they saw before. A SELECT that
# takes locks (FOR UPDATE / FOR SHARE, advisory locks) counts as a write: its locks need the
# transaction. So does anything that is not a SELECT (SAVEPOINT included), except a statement
# its caller marks ``steun_atomic_alone``: the only write before the commit, atomic by itself.
_LOCKING = ("FOR UPDATE", "FOR SHARE", "FOR NO KEY UPDATE", "FOR KEY SHARE", "ADVISORY")


def _reads_outside_a_transaction(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if not dbapi_connection.autocommit:
        try:  # idle: the pool rolled it back when it came back
            dbapi_connection.autocommit = True
        except Exception:  # not idle after all: this checkout works in a transaction throughout
            return


def _a_transaction_from_the_first_write(
    _conn: Any, cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool
) -> None:
    connection = cursor.connection
    if not connection.autocommit:
        return
    if context is not None and context.execution_options.get("steun_atomic_alone"):
        return  # one statement that is all a request writes: atomic without a transaction
    head = statement.lstrip()[:6].upper()
    if head != "SELECT" or any(hint in statement.upper() for hint in _LOCKING):
        connection.autocommit = False  # psycopg sends BEGIN before this statement


class Database:
    """One engine and its session factory, owned by an app (or a CLI command)."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def init_app(app: Flask, database: Database) -> None:
    app.extensions["steun.db"] = database
    app.teardown_appcontext(_close_request_session)


def get_database() -> Database:
    database: Database = current_app.extensions["steun.db"]
    return database


def db_session() -> Session:
    """The request's session; closed (not committed) at teardown. Commit explicitly."""
    if "db_session" not in g:
        g.db_session = get_database().sessions()
    session: Session = g.db_session
    return session


def _close_request_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
