"""The course relay, the served profile, privacy of everything sent, and withdrawal."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from sqlalchemy import select

from steun_lti.plumbing.db import get_database
from steun_lti.records.events import emit
from steun_lti.records.outbox import Backoff, OutboxStatement, Sender
from steun_lti.records.statements import client_factory, hmac_key, make_client, statement_factory
from steun_lti.records.withdrawal import Scope, Withdrawal, withdraw
from tests.support.fake_lrs import FakeLrs
from xapi.profile import build_profile
from xapi.profile.conformance import explain, matching_templates
from xapi.pseudonym import pseudonymise

PLATFORM = {
    "iss": "https://lms.school.example",
    "sub": "lms-sub-8231-qzx",
    "name": "Anneke de Vries-Testpersoon",
    "email": "anneke.devries@school.example",
}


def deliver(app: Flask) -> None:
    with app.app_context():
        db = get_database()
    Sender(db, client_factory(app.config["STEUN_SETTINGS"]), backoff=Backoff(0.01, 0.05)).run(
        threading.Event(), until_empty=True, idle_wait=0.01
    )


def relay(client: Any, **body: Any) -> Any:
    return client.post("/relay/course", json=body, headers={"Origin": "https://lms.school.example"})


def teacher(app: Flask) -> str:
    return pseudonymise(hmac_key(app.config["STEUN_SETTINGS"]), PLATFORM["iss"], PLATFORM["sub"])


def whole_study(app: Flask, actor: str, child: str = "B") -> None:
    with app.app_context(), get_database().session() as s:
        emit(s, "launched", actor, target="wave:t1", context="ctx-p", role="teacher")
        emit(s, "consent_given", actor, study="steun", consent_version="1")
        emit(s, "child_added", actor, study="steun", child_code=child)
        keys = dict(
            study="steun",
            wave="t1",
            instrument="demo-relatie",
            instrument_version="1",
            child_code=child,
            attempt=1,
        )
        for i in range(1, 4):
            emit(s, "item_answered", actor, item=f"q{i}", response=str(i), **keys)
        emit(s, "page_completed", actor, page="1", **keys)
        emit(s, "questionnaire_completed", actor, scores={"closeness": 2.0}, **keys)
        emit(s, "wave_completed", actor, study="steun", wave="t1")


def test_relay_queues_course_statements_under_the_pseudonym(
    sqlite_app: Flask, fake_lrs: FakeLrs
) -> None:
    client = sqlite_app.test_client()
    response = relay(
        client,
        learner_id=PLATFORM["sub"],
        platform=PLATFORM["iss"],
        course="steun-cursus",
        session="s1",
        events=[
            {"event": "course_started"},
            {"event": "module_started", "module": "m1"},
            {"event": "exercise_answered", "module": "m1", "exercise": "e2", "response": "b"},
            {"event": "module_completed", "module": "m1", "duration": "PT12M30S"},
            {"event": "course_completed"},
        ],
    )
    assert response.status_code == 202, response.json
    assert response.headers["Access-Control-Allow-Origin"] == "https://lms.school.example"
    deliver(sqlite_app)
    profile = build_profile(sqlite_app.config["STEUN_SETTINGS"].base_url)
    assert len(fake_lrs.stored) == 5
    for st in fake_lrs.stored.values():
        assert st["actor"]["account"]["name"] == teacher(sqlite_app)
        assert matching_templates(profile, st), explain(profile, st)
        assert st["object"]["id"].startswith("http://127.0.0.1:8000/xapi/course/steun-cursus")


def test_relay_refuses_what_is_not_course_progress(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    base = {"learner_id": "x", "course": "c"}
    assert relay(client, **base, event="item_answered").status_code == 400
    assert relay(client, **base, event="module_started").status_code == 400  # no module
    bad = relay(
        client,
        **base,
        event="exercise_answered",
        module="m",
        exercise="e",
        response="Jan heeft het moeilijk",
    )
    assert bad.status_code == 400 and "free text" in bad.json["error"]
    assert (
        relay(client, learner_id="x", course="../../evil", event="course_started").status_code
        == 400
    )
    assert (
        relay(client, **base, object={"id": "https://evil.example/x"}, event="x").status_code == 400
    )
    assert client.post("/relay/course", data="not json").status_code == 400
    pre = client.options(
        "/relay/course",
        headers={"Origin": "https://lms.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204 and "POST" in pre.headers["Access-Control-Allow-Methods"]


def test_relay_is_rate_limited(sqlite_app: Flask) -> None:
    sqlite_app.config["STEUN_SETTINGS"] = sqlite_app.config["STEUN_SETTINGS"].model_copy(
        update={"relay_rate": 0.0001, "relay_burst": 3}
    )
    client = sqlite_app.test_client()
    codes = [
        relay(client, learner_id="x", course="c", event="course_started").status_code
        for _ in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]


def test_no_personal_data_in_anything_sent(sqlite_app: Flask, fake_lrs: FakeLrs) -> None:
    actor = teacher(sqlite_app)
    whole_study(sqlite_app, actor)
    relay(
        sqlite_app.test_client(),
        learner_id=PLATFORM["sub"],
        platform=PLATFORM["iss"],
        course="c",
        event="course_started",
    )
    deliver(sqlite_app)
    sent = fake_lrs.all_sent_text()
    assert len(fake_lrs.stored) == 10  # 9 study statements + 1 relayed
    for secret in (PLATFORM["sub"], PLATFORM["name"], PLATFORM["email"], "Anneke", "mbox"):
        assert secret not in sent
    with sqlite_app.app_context(), get_database().session() as s:
        stored = " ".join(r.statement + r.actor for r in s.scalars(select(OutboxStatement)))
    assert PLATFORM["sub"] not in stored and PLATFORM["email"] not in stored


def test_profile_is_served_at_its_iri(sqlite_app: Flask) -> None:
    response = sqlite_app.test_client().get("/xapi/profile")
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    assert response.json["id"] == "http://127.0.0.1:8000/xapi/profile"


def test_withdrawal_of_a_teacher_removes_voids_and_erases(
    sqlite_app: Flask, fake_lrs: FakeLrs
) -> None:
    actor = teacher(sqlite_app)
    other = pseudonymise("k", "x", "other")
    whole_study(sqlite_app, actor)
    whole_study(sqlite_app, other)
    deliver(sqlite_app)
    whole_study(sqlite_app, actor, child="C")  # not yet sent: must never reach the LRS
    settings = sqlite_app.config["STEUN_SETTINGS"]
    with sqlite_app.app_context():
        db = get_database()
    result = withdraw(db, Scope(actor), statement_factory(settings), make_client(settings))
    assert result.rows_removed == 18 and result.statements_voided == 9
    assert result.lrs_erased and fake_lrs.deleted_agents == [actor]
    assert all(st["actor"]["account"]["name"] == other for st in fake_lrs.stored.values())
    with db.session() as s:
        assert {r.actor for r in s.scalars(select(OutboxStatement))} == {other}
        (record,) = s.scalars(select(Withdrawal))
        assert record.status == "complete" and record.scope == "teacher"
        assert actor not in record.subject_hash


def test_withdrawal_of_one_child_voids_only_that_child(
    sqlite_app: Flask, fake_lrs: FakeLrs
) -> None:
    actor = teacher(sqlite_app)
    whole_study(sqlite_app, actor, child="B")
    with sqlite_app.app_context(), get_database().session() as s:
        emit(s, "child_added", actor, study="steun", child_code="D")
    deliver(sqlite_app)
    settings = sqlite_app.config["STEUN_SETTINGS"]
    with sqlite_app.app_context():
        db = get_database()
    result = withdraw(db, Scope(None, "B"), statement_factory(settings), make_client(settings))
    assert result.teachers == [actor]
    assert result.statements_voided == 6  # child_added, 3 answers, page, completed
    assert not result.lrs_erased  # this LRS offers no statement deletion: voided only
    voided = {
        st["object"]["id"]
        for st in fake_lrs.stored.values()
        if st["verb"]["id"].endswith("/voided")
    }
    child_ext = "http://127.0.0.1:8000/xapi/ext/child-code"
    for st in fake_lrs.stored.values():
        if st["id"] in voided:
            assert st["context"]["extensions"][child_ext] == "B"
