"""End to end: a real LTI launch from the fake platform (signed JWT with a name, e-mail and sub),
study events, the course relay with the LMS learner id — and nothing personal in anything sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from steun_lti.records.events import emit
from steun_lti.records.outbox import Backoff, OutboxStatement, Sender
from steun_lti.records.statements import client_factory, hmac_key
from tests.steun_lti.lti.conftest import Tool, registered_tool
from tests.support.course_channel import consent, open_channel, pseudonym_of, signed
from tests.support.fake_lrs import FakeLrs, fake_lrs_fixture
from tests.support.platform import FakePlatform, LaunchSpec
from xapi.profile import build_profile
from xapi.profile.conformance import explain, matching_templates
from xapi.pseudonym import pseudonymise

SUB = "moodle-user-9917"
NAME, EMAIL = "Juf Jansen", "jansen@school.example"


@pytest.fixture
def fake_lrs() -> Iterator[FakeLrs]:
    yield from fake_lrs_fixture()


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    fake = FakePlatform().start()
    yield fake
    fake.stop()


@pytest.fixture
def tool(
    settings: Settings, database: Database, platform: FakePlatform, fake_lrs: FakeLrs
) -> Iterator[Tool]:
    lrs = settings.lrs.model_copy(update={"endpoint": fake_lrs.endpoint, "key": "k"})
    built, server = registered_tool(settings, database, platform, lrs=lrs)
    yield built
    server.stop()


def outbox_actors(tool: Tool) -> list[str]:
    with tool.database.session() as session:
        return [row.actor for row in session.query(OutboxStatement)]


def test_launch_study_and_course_reach_the_lrs_without_personal_data(
    tool: Tool, platform: FakePlatform, fake_lrs: FakeLrs
) -> None:
    response = tool.launch(LaunchSpec(sub=SUB))
    assert response.status_code == 303
    assert outbox_actors(tool) == []  # no record of a launch before consent (issue 14)
    key = open_channel(tool.app, platform.issuer, SUB)
    assert tool.launch(LaunchSpec(sub=SUB)).status_code == 303
    (teacher,) = outbox_actors(tool)
    assert teacher == pseudonym_of(tool.app, platform.issuer, SUB)
    keys = dict(study="steun", wave="t1", instrument="demo-relationship",
                instrument_version="1.0", child_code="A", attempt=1)  # fmt: skip
    with tool.app.app_context(), tool.database.session() as session:
        emit(session, "child_added", teacher, study="steun", child_code="A")
        emit(session, "item_answered", teacher, item="rel01", response=4, **keys)
        emit(session, "questionnaire_completed", teacher, scores={"closeness": 4.0}, **keys)
    relayed = tool.browser().post(
        tool.url + "/relay/course",
        json={**signed(key, SUB), "platform": platform.issuer, "course": "steun",
              "events": [{"event": "module_completed", "module": "m1", "duration": "PT5M"}]},
        headers={"Origin": "https://lms.example"},
    )  # fmt: skip
    assert relayed.status_code == 202
    Sender(
        tool.database,
        client_factory(tool.app.config["STEUN_SETTINGS"]),
        backoff=Backoff(0.01, 0.05),
    ).run(threading.Event(), until_empty=True, idle_wait=0.01)

    assert len(fake_lrs.stored) == 5
    sent = fake_lrs.all_sent_text()
    for personal in (SUB, NAME, "Jansen", EMAIL, "mbox", "eyJ"):
        assert personal not in sent
    # the course progress joins the questionnaires on the same pseudonym
    assert {s["actor"]["account"]["name"] for s in fake_lrs.stored.values()} == {teacher}
    profile = build_profile(tool.app.config["STEUN_SETTINGS"].base_url)
    for statement in fake_lrs.stored.values():
        assert matching_templates(profile, statement), explain(profile, statement)


def test_the_runtimes_text_plain_post_lands_under_the_launch_pseudonym(
    tool: Tool, platform: FakePlatform, fake_lrs: FakeLrs
) -> None:
    """What the course runtime sends: text/plain JSON with the key's token, no ``platform``."""
    key = open_channel(tool.app, platform.issuer, SUB)
    tool.launch(LaunchSpec(sub=SUB))
    (teacher,) = outbox_actors(tool)
    relayed = tool.browser().post(
        tool.url + "/relay/course",
        data=json.dumps(
            {
                **signed(key, SUB),
                "course": "steun",
                "session": "Ab12Cd34Ef",
                "events": [{"event": "course_completed", "timestamp": "2026-11-25T10:00:00.000Z"}],
            }
        ),
        headers={"Origin": "https://lms.example", "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert relayed.status_code == 202, relayed.text
    assert set(outbox_actors(tool)) == {teacher}


def test_moodle_style_ids_give_one_pseudonym_through_the_custom_parameter(
    tool: Tool, platform: FakePlatform, fake_lrs: FakeLrs
) -> None:
    """Moodle's SCORM player reports the username; its LTI ``sub`` is the numeric user id.

    With ``scorm_learner_id=$User.username`` (asked for at registration) the launch pseudonymises
    the username, as the relay does: one teacher, one pseudonym (issue 13)."""
    username = "j.devries"
    key = open_channel(tool.app, platform.issuer, username)
    tool.launch(LaunchSpec(sub="42", custom={"scorm_learner_id": username}))
    (teacher,) = outbox_actors(tool)
    relayed = tool.browser().post(
        tool.url + "/relay/course",
        json={**signed(key, username), "course": "steun", "events": [{"event": "course_started"}]},
    )
    assert relayed.status_code == 202, relayed.text
    assert set(outbox_actors(tool)) == {teacher}


def test_a_deep_linking_launch_is_no_record(tool: Tool, platform: FakePlatform) -> None:
    """Placing links is not taking part: no statement, even for a teacher who consented."""
    consent(tool.app, platform.issuer, SUB)
    response = tool.launch(LaunchSpec(sub=SUB, message_type="LtiDeepLinkingRequest"))
    assert response.status_code == 303
    assert outbox_actors(tool) == []


def test_without_the_custom_parameter_the_pseudonym_stays_as_it_was(
    tool: Tool, platform: FakePlatform
) -> None:
    """Platforms whose SCORM and LTI ids agree (no parameter, or one the LMS could not fill)."""
    consent(tool.app, platform.issuer, SUB)
    tool.launch(LaunchSpec(sub=SUB))
    tool.launch(LaunchSpec(sub=SUB, custom={"scorm_learner_id": "$User.username"}))
    tool.launch(LaunchSpec(sub=SUB, custom={"scorm_learner_id": ""}))
    with tool.database.session() as session:
        actors = {row.actor for row in session.query(OutboxStatement)}
    settings = tool.app.config["STEUN_SETTINGS"]
    assert actors == {pseudonymise(hmac_key(settings), platform.issuer, SUB)}


def test_a_relaunch_after_withdrawal_is_no_record(tool: Tool, platform: FakePlatform) -> None:
    from datetime import UTC, datetime

    from steun_lti.study.consent import withdraw_consent
    from steun_lti.web.teacher_support import RUNTIME_KEY

    teacher = consent(tool.app, platform.issuer, SUB)
    tool.launch(LaunchSpec(sub=SUB))
    assert outbox_actors(tool) == [teacher]
    with tool.app.app_context(), tool.database.session() as session:
        study = tool.app.extensions[RUNTIME_KEY].study
        assert withdraw_consent(session, study, teacher, datetime.now(UTC))
        session.commit()
    assert len(outbox_actors(tool)) == 1  # the launch's statement dropped, the withdrawal queued
    tool.launch(LaunchSpec(sub=SUB))
    assert len(outbox_actors(tool)) == 1
