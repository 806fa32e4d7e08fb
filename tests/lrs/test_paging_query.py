"""Communication 2.1.3 `more` at depth: each page is one index seek, whatever the depth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from xapi.lrs.store import StatementQuery, Store


def test_a_deep_page_has_one_upper_bound_on_seq(tmp_path: Path) -> None:
    """With the snapshot ceiling and the keyset cursor both as upper bounds, SQLite ranges on
    one and filters on the other, scanning from the ceiling down: the query must carry one."""
    store = Store(f"sqlite:///{tmp_path / 'lrs.sqlite3'}")
    store.create_schema()
    seen: list[str] = []

    # SQLite's own trace: the page query runs on the DBAPI cursor, past SQLAlchemy's events.
    def capture(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(store.engine, "connect", capture)
    store.engine.dispose()  # connections made from now on are traced
    try:
        for verb in (None, "http://adlnet.gov/expapi/verbs/answered"):
            seen.clear()
            store.query_statements(StatementQuery(verb=verb, ceiling=1_000_000, after=300_000))
            (sql,) = [s for s in seen if "lrs_statement" in s]
            assert sql.count(".seq <") == 1, sql
            assert ".seq <=" not in sql, sql
    finally:
        store.dispose()
