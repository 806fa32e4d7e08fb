"""The outbox: statements commit with their facts, and reach the LRS exactly once under faults."""

from __future__ import annotations

import json
import threading
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from steun_lti.plumbing.db import get_database
from steun_lti.records.events import emit
from steun_lti.records.outbox import (
    DELIVERED,
    PARKED,
    Backoff,
    OutboxStatement,
    Sender,
    outbox_status,
)
from steun_lti.records.statements import client_factory
from tests.support.fake_lrs import FakeLrs
from xapi.pseudonym import pseudonymise

TEACHER = pseudonymise("k", "https://lms.example", "user-1")


def answer_events(app: Flask, n: int, actor: str = TEACHER, child: str = "B") -> None:
    with app.app_context():
        db = get_database()
        with db.session() as session:
            for i in range(n):
                emit(
                    session,
                    "item_answered",
                    actor,
                    study="steun",
                    wave="t1",
                    instrument="demo-relatie",
                    instrument_version="1",
                    item=f"q{i:05d}",
                    response=str(1 + i % 5),
                    child_code=child,
                    attempt=1,
                    choices=[[str(v), f"label {v}"] for v in range(1, 6)],
                )


def sender_for(app: Flask, **kwargs: Any) -> Sender:
    with app.app_context():
        db = get_database()
    settings = app.config["STEUN_SETTINGS"]
    kwargs.setdefault("backoff", Backoff(base=0.01, cap=0.05))
    return Sender(db, client_factory(settings), **kwargs)


def rows(app: Flask) -> list[OutboxStatement]:
    with app.app_context(), get_database().session() as session:
        return list(session.scalars(select(OutboxStatement).order_by(OutboxStatement.id)))


def test_statement_commits_and_rolls_back_with_its_fact(records_app: Flask) -> None:
    with records_app.app_context():
        db = get_database()
        session = db.sessions()
        emit(session, "child_added", TEACHER, study="steun", child_code="B")
        session.rollback()
        session.close()
    assert rows(records_app) == []
    answer_events(records_app, 3)
    assert [r.status for r in rows(records_app)] == ["pending"] * 3


def test_sender_delivers_in_batches_exactly_once(records_app: Flask, fake_lrs: FakeLrs) -> None:
    answer_events(records_app, 250)
    result = sender_for(records_app).run(threading.Event(), until_empty=True, idle_wait=0.01)
    assert result.delivered == 250
    assert result.batches == 3
    assert len(fake_lrs.stored) == 250
    assert {r.status for r in rows(records_app)} == {DELIVERED}


def test_5xx_429_and_unreachable_are_retried_with_backoff(
    records_app: Flask, fake_lrs: FakeLrs
) -> None:
    answer_events(records_app, 120)
    fake_lrs.fail_next = [503, 429, 500]
    sender = sender_for(records_app)
    result = sender.run(threading.Event(), until_empty=True, idle_wait=0.01)
    assert result.failed_batches == 3
    assert result.delivered == 120
    assert len(fake_lrs.stored) == 120
    assert max(r.attempts for r in rows(records_app)) >= 1


def test_unreachable_lrs_keeps_statements_and_reports_it(records_app: Flask) -> None:
    answer_events(records_app, 5)
    settings = records_app.config["STEUN_SETTINGS"]
    dead = settings.model_copy(
        update={"lrs": settings.lrs.model_copy(update={"endpoint": "http://127.0.0.1:9/xapi/"})}
    )
    with records_app.app_context():
        db = get_database()
    sender = Sender(db, client_factory(dead), backoff=Backoff(base=0.01, cap=0.02))
    step = sender.run_once()
    assert step.failed_batches == 1 and "cannot be reached" in (step.last_error or "")
    with db.session() as session:
        status = outbox_status(session)
    assert status.counts["pending"] == 5
    assert status.last_error and "cannot be reached" in status.last_error


def test_400_is_bisected_and_only_the_refused_statement_is_parked(
    records_app: Flask, fake_lrs: FakeLrs
) -> None:
    answer_events(records_app, 40)
    bad = rows(records_app)[17]
    fake_lrs.refuse_ids = {bad.statement_id}
    result = sender_for(records_app).run(threading.Event(), until_empty=True, idle_wait=0.01)
    assert result.delivered == 39 and result.parked == 1
    after = {r.id: r for r in rows(records_app)}
    assert after[bad.id].status == PARKED
    assert "refused" in (after[bad.id].last_error or "")
    assert len(fake_lrs.stored) == 39


def test_409_counts_as_delivered(records_app: Flask, fake_lrs: FakeLrs) -> None:
    answer_events(records_app, 1)
    fake_lrs.fail_next = [409]
    result = sender_for(records_app).run(threading.Event(), until_empty=True, idle_wait=0.01)
    assert result.delivered == 1
    assert rows(records_app)[0].status == DELIVERED


def test_several_workers_never_send_a_statement_twice(
    records_app: Flask, fake_lrs: FakeLrs
) -> None:
    answer_events(records_app, 600)
    senders = [sender_for(records_app, batch_size=25) for _ in range(4)]
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=s.run, args=(stop,), kwargs={"until_empty": True, "idle_wait": 0.01}
        )
        for s in senders
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    sent: list[str] = []
    for body in fake_lrs.bodies:
        sent += [s["id"] for s in json.loads(body)]
    assert len(sent) == 600 == len(set(sent))
    with records_app.app_context(), get_database().session() as session:
        delivered = session.execute(
            select(func.count()).where(OutboxStatement.status == DELIVERED)
        ).scalar_one()
    assert delivered == 600


def test_expired_lease_is_claimed_again(records_app: Flask, fake_lrs: FakeLrs) -> None:
    answer_events(records_app, 3)
    crashed = sender_for(records_app, lease=-1.0)  # its claims are expired at once
    assert len(crashed.claim()) == 3
    result = sender_for(records_app).run(threading.Event(), until_empty=True, idle_wait=0.01)
    assert result.delivered == 3


def test_invalid_statement_is_parked_but_the_fact_is_saved(records_app: Flask) -> None:
    with records_app.app_context(), get_database().session() as session:
        emit(
            session,
            "item_answered",
            TEACHER,
            study="steun",
            wave="t1",
            instrument="demo",
            instrument_version="1",
            item="q1",
            response="3",
            child_code="B",
            attempt=1,
            interaction_type="slider",  # not an xAPI interaction type
        )
    (row,) = rows(records_app)
    assert row.status == PARKED and "interactionType" in (row.last_error or "")


def test_outbox_cli_status_run_and_purge(
    records_app: Flask, fake_lrs: FakeLrs, runner: Any
) -> None:
    from steun_lti.cli import main

    answer_events(records_app, 7)
    settings = records_app.config["STEUN_SETTINGS"]
    with records_app.app_context():
        url = get_database().url
    settings = settings.model_copy(update={"database_url": url})
    out = runner.invoke(main, ["outbox", "status"], obj={"settings": settings})
    assert out.exit_code == 0, out.output
    assert "pending 7" in out.output
    out = runner.invoke(main, ["outbox", "run", "--until-empty"], obj={"settings": settings})
    assert out.exit_code == 0, out.output
    assert "Delivered 7" in out.output
    assert len(fake_lrs.stored) == 7
    out = runner.invoke(main, ["outbox", "purge", "--days", "0"], obj={"settings": settings})
    assert out.exit_code == 0 and "Deleted 7" in out.output
    assert rows(records_app) == []


def test_the_serve_worker_thread_delivers(sqlite_app: Flask, fake_lrs: FakeLrs) -> None:
    import time

    from steun_lti.app import app_with_sender

    app_with_sender(sqlite_app)
    background = sqlite_app.extensions["steun.outbox_sender"]
    try:
        answer_events(sqlite_app, 5)
        deadline = time.monotonic() + 30
        while len(fake_lrs.stored) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the outcome, not synchronising
    finally:
        background.stop()
        sqlite_app.extensions["steun.score_sender"].stop()  # the gradebook's thread, idle here
    assert len(fake_lrs.stored) == 5
    assert not background.thread.is_alive()
    assert not sqlite_app.extensions["steun.score_sender"].thread.is_alive()


def test_a_child_goes_with_the_ids_of_its_reasons_and_so_do_changes(records_app: Flask) -> None:
    """Why a teacher picked a child reaches the records as category ids (issue 17), when the
    child is added and when the teacher changes them; the dataset keeps the latest."""
    from xapi.export import collect

    with records_app.app_context(), get_database().session() as session:
        emit(session, "child_added", TEACHER, study="steun", child_code="B", reasons=["loss"])
        emit(
            session,
            "child_reasons_changed",
            TEACHER,
            study="steun",
            child_code="B",
            reasons=["loss", "poverty"],
        )
        session.commit()
    statements = [json.loads(r.statement) for r in rows(records_app)]
    base = records_app.config["STEUN_SETTINGS"].base_url.rstrip("/")
    ext = f"{base}/xapi/ext/reasons"
    assert [s["context"]["extensions"][ext] for s in statements] == [["loss"], ["loss", "poverty"]]
    assert [s["verb"]["id"].rsplit("/", 1)[1] for s in statements] == ["added", "updated"]
    data = collect(statements, base)
    assert data.children[(TEACHER, "steun", "B")].reasons == ("loss", "poverty")
