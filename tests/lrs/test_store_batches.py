"""Large batches at the store level (below the HTTP layer)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event

from xapi.lrs.store import Credential, Store


def test_a_batch_larger_than_sqlites_parameter_limit_halved(tmp_path: Path) -> None:
    """Stored ids and late voiding are looked up in one query with two parameters per
    statement: a batch of 17,000 must still fit SQLite's 32,766 (it is chunked). This
    machine's SQLite allows more, so the test sets the common limit."""
    store = Store(f"sqlite:///{tmp_path / 'lrs.sqlite3'}")

    def limit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)

    event.listen(store.engine, "connect", limit)
    try:
        store.create_schema()
        verb = {"id": "http://adlnet.gov/expapi/verbs/answered"}
        batch = [
            {
                "actor": {"mbox": "mailto:a@example.org"},
                "verb": verb,
                "object": {"id": "http://x.example/a"},
            }
            for _ in range(17_000)
        ]
        ids, stored = store.store_statements(batch, Credential(1, "k", frozenset(), "k"))
        assert stored == 17_000 and len(set(ids)) == 17_000
    finally:
        store.dispose()
