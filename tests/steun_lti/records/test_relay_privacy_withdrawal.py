"""The course relay, the served profile, privacy of everything sent, and withdrawal."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

from steun_lti.plumbing.db import get_database
from steun_lti.records.events import emit
from steun_lti.records.outbox import Backoff, OutboxStatement, Sender
from steun_lti.records.statements import client_factory, hmac_key, make_client, statement_factory
from steun_lti.records.withdrawal import Scope, Withdrawal, withdraw
from tests.support.course_channel import consent, open_channel, signed
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


def outbox_count(app: Flask) -> int:
    with app.app_context(), get_database().session() as s:
        return len(s.scalars(select(OutboxStatement)).all())


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
    key = open_channel(sqlite_app, PLATFORM["iss"], PLATFORM["sub"])
    response = relay(
        client,
        **signed(key, PLATFORM["sub"]),
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
        provenance = st["context"]["extensions"]["http://127.0.0.1:8000/xapi/ext/provenance"]
        assert provenance == f"package-key:{key[0]}"


def test_relay_refuses_what_is_not_course_progress(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    key = open_channel(sqlite_app, PLATFORM["iss"], "x")
    base = {**signed(key, "x"), "course": "c"}
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
        relay(client, **signed(key, "x"), course="../../evil", event="course_started").status_code
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
    key = open_channel(sqlite_app, PLATFORM["iss"], "x")
    codes = [
        relay(client, **signed(key, "x"), course="c", event="course_started").status_code
        for _ in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]


def test_no_personal_data_in_anything_sent(sqlite_app: Flask, fake_lrs: FakeLrs) -> None:
    actor = teacher(sqlite_app)
    whole_study(sqlite_app, actor)
    key = open_channel(sqlite_app, PLATFORM["iss"], PLATFORM["sub"])
    relay(
        sqlite_app.test_client(), **signed(key, PLATFORM["sub"]), course="c", event="course_started"
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


# -- issue 14: the course channel carries proof; nothing without consent ---------------------


def test_forged_course_records_are_refused_and_stored_nowhere(sqlite_app: Flask) -> None:
    """The attack of issue 14: a stranger posts a completed course for a real teacher."""
    client = sqlite_app.test_client()
    key = open_channel(sqlite_app, PLATFORM["iss"], PLATFORM["sub"])
    event = {"course": "steun", "events": [{"event": "course_completed"}]}
    forged = {"learner_id": PLATFORM["sub"], "platform": PLATFORM["iss"], **event}
    assert relay(client, **forged).status_code == 400  # no key at all: as before the fix
    wrong_token = {**signed(key, PLATFORM["sub"]), "token": "0" * 64}
    assert relay(client, **wrong_token, **event).status_code == 403
    other_learner = {**signed(key, "someone-else"), "learner_id": PLATFORM["sub"]}
    assert relay(client, **other_learner, **event).status_code == 403
    unknown_kid = signed(("AAAAAAAAAAAAAAAA", key[1]), PLATFORM["sub"])
    assert relay(client, **unknown_kid, **event).status_code == 403
    assert outbox_count(sqlite_app) == 0
    assert relay(client, **signed(key, PLATFORM["sub"]), **event).status_code == 202
    assert outbox_count(sqlite_app) == 1


def test_the_platform_comes_from_the_key_not_from_the_request(sqlite_app: Flask) -> None:
    """A post naming another platform still lands under the key's platform (or nowhere)."""
    client = sqlite_app.test_client()
    key = open_channel(sqlite_app, PLATFORM["iss"], PLATFORM["sub"])
    body = {**signed(key, PLATFORM["sub"]), "platform": "https://evil.example", "course": "c"}
    assert relay(client, **body, event="course_started").status_code == 202
    with sqlite_app.app_context(), get_database().session() as s:
        (row,) = s.scalars(select(OutboxStatement)).all()
    assert row.actor == teacher(sqlite_app)


def test_no_course_records_without_consent_or_after_withdrawal(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    key = open_channel(sqlite_app, PLATFORM["iss"])  # nobody consented
    body = {**signed(key, PLATFORM["sub"]), "course": "c", "event": "course_started"}
    refused = relay(client, **body)
    assert refused.status_code == 403 and "consent" in refused.json["error"]
    assert outbox_count(sqlite_app) == 0
    consent(sqlite_app, PLATFORM["iss"], PLATFORM["sub"])
    assert relay(client, **body).status_code == 202
    from steun_lti.study.consent import withdraw_consent
    from steun_lti.web.teacher_support import RUNTIME_KEY

    with sqlite_app.app_context(), get_database().session() as s:
        study = sqlite_app.extensions[RUNTIME_KEY].study
        assert withdraw_consent(s, study, teacher(sqlite_app), datetime.now(UTC))
        s.commit()
        kinds = [json.loads(r.statement)["verb"]["id"] for r in s.scalars(select(OutboxStatement))]
    # the queued course statement is gone with the withdrawal; only the withdrawal is queued
    assert len(kinds) == 1 and kinds[0].endswith("/withdrew")
    assert relay(client, **body).status_code == 403
    assert outbox_count(sqlite_app) == 1


def test_a_revoked_key_or_an_inactive_platform_sends_nothing(sqlite_app: Flask) -> None:
    from steun_lti.lti.models import LtiCourseKey, LtiRegistration
    from steun_lti.records.course_channel import revoke_keys

    client = sqlite_app.test_client()
    key = open_channel(sqlite_app, PLATFORM["iss"], PLATFORM["sub"])
    body = {**signed(key, PLATFORM["sub"]), "course": "c", "event": "course_started"}
    with sqlite_app.app_context(), get_database().session() as s:
        registration = s.get(LtiRegistration, s.get(LtiCourseKey, key[0]).registration_id)
        registration.active = False
        s.commit()
    assert relay(client, **body).status_code == 403
    with sqlite_app.app_context(), get_database().session() as s:
        registration = s.get(LtiRegistration, s.get(LtiCourseKey, key[0]).registration_id)
        registration.active = True
        assert revoke_keys(s, registration) == 1
        s.commit()
    assert relay(client, **body).status_code == 403
    fresh = open_channel(sqlite_app, PLATFORM["iss"])
    assert fresh[0] != key[0]
    assert relay(client, **{**body, **signed(fresh, PLATFORM["sub"])}).status_code == 202
    assert outbox_count(sqlite_app) == 1


def test_ipv6_clients_share_one_bucket_per_64() -> None:
    from steun_lti.web.relay import client_bucket

    assert client_bucket("2001:db8:1:2:aaaa::1") == client_bucket("2001:db8:1:2:ffff::9")
    assert client_bucket("2001:db8:1:3::1") != client_bucket("2001:db8:1:2::1")
    assert client_bucket("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_bucket("192.0.2.1") == "192.0.2.1"


def test_a_huge_post_is_refused_before_it_is_read(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    key = open_channel(sqlite_app, PLATFORM["iss"], "x")
    body = json.dumps(
        {**signed(key, "x"), "course": "c", "event": "course_started", "pad": "x" * 70_000}
    )
    assert client.post("/relay/course", data=body).status_code == 413
    chunked = client.post(
        "/relay/course",
        input_stream=io.BytesIO(body.encode()),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn marks a chunked body
    )
    assert chunked.status_code == 413
    assert outbox_count(sqlite_app) == 0
