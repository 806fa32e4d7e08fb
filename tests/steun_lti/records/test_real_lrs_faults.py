"""The outbox against the real embedded LRS process: stop it while answers are saved, start it
again, and every statement arrives exactly once."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from steun_lti.app import create_app
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.settings import Settings
from steun_lti.records.events import emit
from steun_lti.records.outbox import DELIVERED, BackgroundSender, Backoff, OutboxStatement, Sender
from steun_lti.records.statements import client_factory, make_client
from tests.support.lrs_process import start_lrs, stop_lrs
from tests.support.postgres import free_port

N = int(os.environ.get("STEUN_FAULT_TEST_N", "10000"))


@pytest.mark.slow
def test_lrs_stopped_while_answers_are_saved_all_arrive_exactly_once(tmp_path: Path) -> None:
    for key in [
        k
        for k in os.environ
        if k.startswith("STEUN_") and k not in ("STEUN_FAULT_TEST_N", "STEUN_ENV_FILE")
    ]:
        os.environ.pop(key)
    data_dir = tmp_path / "var"
    port = free_port()
    settings = Settings(
        data_dir=data_dir,
        base_url="http://127.0.0.1:8000",
        lrs={"endpoint": f"http://127.0.0.1:{port}/xapi/", "timeout": 5.0},  # type: ignore[arg-type]
    )
    lrs, _ = start_lrs(data_dir, port=port)
    db = Database(f"sqlite:///{tmp_path / 'steun.sqlite3'}")
    upgrade(db)
    app = create_app(settings, database=db)
    background = BackgroundSender(
        Sender(db, client_factory(settings), backoff=Backoff(base=0.05, cap=0.5))
    )
    background.start()
    try:
        chunk = 100
        for start in range(0, N, chunk):
            if start == (N // 3) // chunk * chunk:
                stop_lrs(lrs)  # the LRS goes away while teachers keep answering
            if start == (2 * N // 3) // chunk * chunk:
                lrs, _ = start_lrs(data_dir, port=port)
            with app.app_context(), db.session() as session:
                for i in range(start, min(N, start + chunk)):
                    emit(
                        session,
                        "item_answered",
                        f"p-{i // 50:05d}",
                        study="steun",
                        wave="t1",
                        instrument="demo-relatie",
                        instrument_version="1",
                        item=f"q{i % 50:02d}",
                        response=str(1 + i % 5),
                        child_code="A",
                        attempt=i // 50,
                    )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with db.session() as session:
                delivered = session.execute(
                    select(func.count()).where(OutboxStatement.status == DELIVERED)
                ).scalar_one()
            if delivered == N:
                break
            time.sleep(0.2)  # polling the outcome, not synchronising
    finally:
        background.stop()
    with db.session() as session:
        rows = list(session.execute(select(OutboxStatement.statement_id, OutboxStatement.attempts)))
    assert delivered == N
    assert max(a for _, a in rows) >= 1, "the LRS outage was never felt"
    researcher = make_client(settings, researcher=True)
    try:
        ids = [s["id"] for s in researcher.iter_statements(limit=1000)]
    finally:
        researcher.close()
        stop_lrs(lrs)
        db.dispose()
    assert len(ids) == N
    assert set(ids) == {sid for sid, _ in rows}
