"""The shared token bucket (steun_lti.plumbing.ratelimit) and the course relay's limit across workers."""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from steun_lti.app import create_app
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.ratelimit import RateBucket, bucket_key, purge, take
from steun_lti.plumbing.settings import Settings
from tests.support.course_channel import open_channel, signed

T0 = 1_800_000_000.0


def _take(db: Database, key: str, now: float, rate: float = 1.0, burst: float = 3) -> bool:
    with db.session() as session:
        return take(session, key, rate=rate, burst=burst, now=now)


def test_bucket_allows_a_burst_then_the_rate(database: Database) -> None:
    assert [_take(database, "k", T0) for _ in range(4)] == [True, True, True, False]
    assert [_take(database, "k", T0 + 1.0) for _ in range(2)] == [True, False]
    assert [_take(database, "k", T0 + 1.5) for _ in range(2)] == [False, False]  # half a token
    assert [_take(database, "k", T0 + 2.0) for _ in range(2)] == [True, False]
    # A long pause refills up to the burst, not beyond.
    assert [_take(database, "k", T0 + 1000) for _ in range(4)] == [True, True, True, False]
    # Other keys have their own bucket.
    assert _take(database, "other", T0 + 1000) is True


def test_a_refused_request_costs_nothing(database: Database) -> None:
    for _ in range(10):
        _take(database, "k", T0)
    assert _take(database, "k", T0 + 1.0) is True  # refusals did not push the bucket below zero


def test_one_row_per_key_and_purge_forgets_full_buckets(database: Database) -> None:
    for key in ("a", "b"):
        _take(database, key, T0)
    _take(database, "c", T0 + 10)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RateBucket)) == 3
        # burst 3 at rate 1: a bucket untouched for 3 s is full again, the same as no row.
        assert purge(session, rate=1.0, burst=3, now=T0 + 10) == 2
    with database.session() as session:
        assert session.scalars(select(RateBucket.key)).all() == ["c"]


def test_concurrent_takers_never_get_more_than_the_burst(database: Database) -> None:
    """Threads with their own connections stand in for gunicorn workers."""
    granted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker() -> None:
        start.wait()
        for _ in range(10):
            ok = _take(database, "shared", T0, rate=0.0, burst=25)
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 60 and granted.count(True) == 25


def test_keys_do_not_hold_the_address() -> None:
    key = bucket_key("secret", "relay", "192.0.2.7")
    assert "192.0.2.7" not in key and key.startswith("relay:") and len(key) <= 64
    assert key == bucket_key("secret", "relay", "192.0.2.7")
    assert key != bucket_key("other secret", "relay", "192.0.2.7")


def _worker_app(settings: Settings, database: Database) -> Flask:
    app = create_app(
        settings.model_copy(update={"relay_rate": 0.001, "relay_burst": 4}), database=database
    )
    app.config["TESTING"] = True
    return app


def test_relay_limit_is_shared_by_workers(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    """Two apps on one database (two gunicorn workers): the limit holds in total, not per worker."""
    workers = [_worker_app(settings, database), _worker_app(settings, database)]
    key = open_channel(workers[0], "https://lms.school.example", "x")
    body = {**signed(key, "x"), "course": "c", "event": "course_started"}
    codes = [
        workers[i % 2].test_client().post("/relay/course", json=body).status_code for i in range(8)
    ]
    assert codes == [202] * 4 + [429] * 4
    refused = workers[0].test_client().post("/relay/course", json=body)
    assert refused.headers["Retry-After"] == "1000"
    # Another address has its own bucket.
    other = (
        workers[1]
        .test_client()
        .post("/relay/course", json=body, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    )
    assert other.status_code == 202
    with database.session() as session:
        keys = session.scalars(select(RateBucket.key)).all()
    assert len(keys) == 2 and not any("127.0.0.1" in k or "192.0.2.9" in k for k in keys)


def test_bad_requests_use_up_tokens_too(settings: Settings, database: Database) -> None:
    app = _worker_app(settings, database)
    client = app.test_client()
    codes = [client.post("/relay/course", data="not json").status_code for _ in range(5)]
    assert codes == [400] * 4 + [429]
