"""How an engine is built: SQLite pragmas and its WAL checkpointer thread, the ``flock`` gate
writers queue at, the check of a pooled PostgreSQL connection.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url

from xapi.pool import listen_for_idle_connections

log = logging.getLogger("xapi.lrs")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Reading pages straight from the mapped file, and a larger page cache, halve the CPU
    # of deep paging; both are per connection and cost no disk. The map covers the first
    # 2 GB of the file (SQLite's own ceiling; address space, shared with the OS page cache):
    # at 1M statements stored (2.3 GB) a write transaction then reads about 2.8 pages per
    # statement fewer with pread (each connection's page cache starts empty whenever another
    # connection wrote, so index pages are read again by every transaction).
    cursor.execute("PRAGMA mmap_size=2147418112")
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
    listen_for_idle_connections(engine)
    return engine
