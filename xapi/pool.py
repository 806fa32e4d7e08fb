"""Pooled PostgreSQL connections tested only when they sat idle, instead of on every checkout."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

IDLE_BEFORE_PING = 1.0  # seconds


def listen_for_idle_connections(engine: Engine) -> None:
    """Ping a pooled PostgreSQL connection only when it sat idle for a while (the LRS's store
    and the tool's own database, ``steun_lti/plumbing/db.py``)."""
    event.listen(engine, "checkout", _check_connection)
    event.listen(engine, "checkin", _note_checkin)


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _check_connection(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Test a pooled PostgreSQL connection before use if it sat idle for a while (the server
    may have restarted) or broke: one round trip less per request than ``pool_pre_ping``,
    which pings every time."""
    if dbapi_connection.broken or dbapi_connection.closed:
        raise DisconnectionError()
    if time.monotonic() - record.info.get("checked_in", 0.0) < IDLE_BEFORE_PING:
        return
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except Exception as exc:
        raise DisconnectionError() from exc
