"""Grades that arrive: the AGS score queue against the fake platform (real signed launches, real
service tokens), the ``steun grades`` commands as real processes, and ``/healthz``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from steun_lti.lti import adapter, score_queue
from steun_lti.lti.ags import BackgroundScoreSender, ScoreSender
from steun_lti.lti.score_queue import LtiScore
from steun_lti.lti.service import LtiServices
from tests.steun_lti.lti.conftest import Tool
from tests.steun_lti.lti.test_ags_lineitems import _launch, _report
from tests.support.environ import clean_environ
from tests.support.platform import LEARNER, LaunchSpec

REPO = Path(__file__).resolve().parents[3]


def _rows(tool: Tool) -> list[LtiScore]:
    with tool.database.session() as session:
        return list(session.scalars(select(LtiScore).order_by(LtiScore.id)))


def steun(tool: Tool, *args: str) -> subprocess.CompletedProcess[str]:
    """``steun ARGS`` as the operator runs it: a process of its own on the tool's database."""
    settings = tool.app.config["STEUN_SETTINGS"]
    env = clean_environ()
    env.update(
        STEUN_DATA_DIR=str(settings.data_dir),
        STEUN_DATABASE_URL=tool.database.url,
        STEUN_LOG_LEVEL="WARNING",
        STEUN_REGISTRATION_ALLOW_PRIVATE_ADDRESSES="true",  # the fake platform is on 127.0.0.1
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run(
        [sys.executable, "-m", "steun_lti", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def healthz(tool: Tool) -> dict[str, object]:
    response = requests.get(tool.url + "/healthz", timeout=10)
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def test_a_delivered_score_keeps_no_user_id(tool: Tool) -> None:
    launch = _launch(tool, LaunchSpec(sub="teacher-7", custom={"target": "wave:t1"}))
    assert _report(tool, launch) is True
    assert tool.platform.scores[-1]["userId"] == "teacher-7"
    [row] = _rows(tool)
    assert row.status == score_queue.DELIVERED and row.subject is None
    assert row.delivered_at is not None and row.last_error is None


def test_a_refused_score_is_parked_shown_and_sent_after_retry(tool: Tool) -> None:
    """Moodle refuses a score (400) for a user outside its graded roles: parked, visible, and
    delivered by ``steun grades retry`` once the admin fixed the setting."""
    tool.platform.refuse_scores["teacher-ed"] = 400
    launch = _launch(tool, LaunchSpec(sub="teacher-ed", custom={"target": "wave:t1"}))
    assert _report(tool, launch) is False  # the caller goes on; nothing raised
    [row] = _rows(tool)
    assert row.status == score_queue.REFUSED and row.subject  # kept sealed for a retry
    assert row.last_error and row.last_error.startswith("HTTP 400")
    assert "graded role" in row.last_error
    assert "teacher-ed" not in row.subject  # sealed, not readable
    # Not retried by the sender on its own.
    sender = ScoreSender(tool.database, LtiServices(tool.app.config["STEUN_SETTINGS"]))
    assert sender.run_once(ignore_backoff=True).refused == 0
    assert tool.platform.scores == []

    health = healthz(tool)
    assert health["status"] == "ok"  # the service works; the LMS's setting is the operator's job
    assert health["grades"] == {"pending": 0, "refused": 1}

    status = steun(tool, "grades", "status")
    assert f"refused row {row.id} by {tool.platform.issuer}" in status.stdout
    assert "HTTP 400" in status.stdout and "graded role" in status.stdout
    assert "Graded roles" in status.stdout  # what to fix
    as_json = json.loads(steun(tool, "grades", "status", "--json").stdout)
    assert as_json["counts"]["refused"] == 1
    for text in (status.stdout, json.dumps(as_json)):
        assert "teacher-ed" not in text and row.subject not in text

    tool.platform.refuse_scores.clear()  # the admin added the role to "Graded roles"
    retried = steun(tool, "grades", "retry", str(row.id))
    assert "Requeued 1 score(s)." in retried.stdout and "Delivered 1" in retried.stdout
    [score] = tool.platform.scores
    assert score["userId"] == "teacher-ed" and score["scoreGiven"] == 1
    [row] = _rows(tool)
    assert row.status == score_queue.DELIVERED and row.subject is None
    assert healthz(tool)["grades"] == {"pending": 0, "refused": 0}


def test_an_outage_is_retried_in_the_background_and_delivered(
    tool: Tool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(score_queue, "RETRY_BASE", 0.2)  # seconds, not half a minute
    tool.platform.scores_down = 503
    launch = _launch(tool, LaunchSpec(sub="teacher-3", custom={"target": "wave:t1"}))
    assert _report(tool, launch) is False
    [row] = _rows(tool)
    assert row.status == score_queue.PENDING and row.attempts == 1
    assert row.last_error and "503" in row.last_error
    assert healthz(tool)["grades"] == {"pending": 1, "refused": 0}
    assert "last delivery error: HTTP 503" in steun(tool, "grades", "status").stdout

    background = BackgroundScoreSender(
        ScoreSender(tool.database, LtiServices(tool.app.config["STEUN_SETTINGS"])),
        idle_wait=0.05,
    )
    background.start()
    try:
        deadline = time.monotonic() + 30
        while _rows(tool)[0].attempts < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rows(tool)[0].status == score_queue.PENDING  # still down: still waiting
        tool.platform.scores_down = None  # the LMS is back
        while _rows(tool)[0].status != score_queue.DELIVERED and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        background.stop()
    [row] = _rows(tool)
    assert row.status == score_queue.DELIVERED and row.subject is None
    [score] = tool.platform.scores  # once, not once per try
    assert score["userId"] == "teacher-3"


def test_newest_state_wins_while_the_lms_is_down(tool: Tool) -> None:
    """Two completions of a dashboard link while the LMS is down: one delivery, the newer one."""
    tool.platform.scores_down = 503
    launch = _launch(tool, LaunchSpec(sub="teacher-4", ags_lineitem=False))
    assert _report(tool, launch, given=1, maximum=3) is False
    before_second = datetime.now(UTC)
    assert _report(tool, launch, given=2, maximum=3) is False
    [row] = _rows(tool)  # one row per user and column
    assert (row.given, row.maximum, row.version) == (2, 3, 2)
    tool.platform.scores_down = None
    sent = steun(tool, "grades", "send", "--all")
    assert "Delivered 1" in sent.stdout
    [score] = tool.platform.scores
    assert (score["scoreGiven"], score["scoreMaximum"]) == (2, 3)
    assert score["activityProgress"] == "InProgress"
    stamp = datetime.fromisoformat(score["timestamp"].replace("Z", "+00:00"))
    assert stamp >= before_second - timedelta(milliseconds=1)  # the time of the newer state


def test_send_without_all_waits_for_the_backoff(tool: Tool) -> None:
    tool.platform.scores_down = 502
    launch = _launch(tool, LaunchSpec(sub="teacher-5", custom={"target": "wave:t1"}))
    assert _report(tool, launch) is False
    tool.platform.scores_down = None
    assert "Delivered 0" in steun(tool, "grades", "send").stdout  # not due for ~30 s
    assert tool.platform.scores == []
    assert "Delivered 1" in steun(tool, "grades", "send", "--all").stdout


def test_token_endpoint_trouble_is_retried_not_refused(tool: Tool) -> None:
    tool.platform.token_down = 400  # even a 400 there is about our access, not about the score
    launch = _launch(tool, LaunchSpec(sub="teacher-6", custom={"target": "wave:t1"}))
    assert _report(tool, launch) is False
    [row] = _rows(tool)
    assert row.status == score_queue.PENDING
    assert row.last_error and row.last_error.startswith("token endpoint: HTTP 400")


def test_an_older_state_never_overtakes_a_newer_one(tool: Tool) -> None:
    launch = _launch(tool, LaunchSpec(sub="teacher-8", roles=[LEARNER], ags_lineitem=False))
    assert _report(tool, launch, given=2, maximum=3) is True
    [row] = _rows(tool)
    with tool.database.session() as session:
        score_queue.enqueue_score(
            session,
            key=row.key,
            registration_id=row.registration_id,
            endpoint=row.endpoint,
            resource_link_id=row.resource_link_id,
            target=row.target,
            sealed_subject="sealed",
            given=1,
            maximum=3,
            score_at=score_queue.aware(row.score_at) - timedelta(minutes=5),
        )
    [kept] = _rows(tool)
    assert (kept.given, kept.status, kept.version) == (2, score_queue.DELIVERED, 1)


def test_a_newer_score_replaces_one_being_sent(tool: Tool) -> None:
    """A worker still sending the old state must not mark the newer one delivered."""
    tool.platform.scores_down = 503
    launch = _launch(tool, LaunchSpec(sub="teacher-9", custom={"target": "wave:t1"}))
    assert _report(tool, launch, given=0, maximum=1) is False
    with tool.database.session() as session:
        [claimed] = score_queue.claim(session, "slow-worker", ignore_backoff=True)
    assert _report(tool, launch) is False  # the newer state, while the old one is "in flight"
    with tool.database.session() as session:
        assert score_queue.delivered(session, claimed, "slow-worker") is False
    [row] = _rows(tool)
    assert (row.status, row.given, row.version) == (score_queue.PENDING, 1, 2)
    assert row.subject is not None


def test_after_the_retention_a_waiting_score_gives_up_its_user_id(tool: Tool) -> None:
    tool.platform.refuse_scores["teacher-10"] = 400
    launch = _launch(tool, LaunchSpec(sub="teacher-10", custom={"target": "wave:t1"}))
    assert _report(tool, launch) is False
    with tool.database.session() as session:
        row = session.scalars(select(LtiScore)).one()
        row.score_at = datetime.now(UTC) - timedelta(days=31)
    assert "expired 1" in steun(tool, "grades", "status").stdout
    [row] = _rows(tool)
    assert row.status == score_queue.EXPIRED and row.subject is None
    assert "Requeued 0" in steun(tool, "grades", "retry").stdout


def test_the_lms_answer_is_kept_without_tokens() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = f'{{"error": "bad",\n "access_token": "abc123", "auth": "Bearer s3cret", "t": "{jwt}"}}'
    cut = adapter.excerpt(text)
    assert "abc123" not in cut and "s3cret" not in cut and jwt not in cut
    assert cut.startswith('{"error": "bad",') and "\n" not in cut
    assert len(adapter.excerpt("x" * 5000)) == adapter.EXCERPT_CHARS
