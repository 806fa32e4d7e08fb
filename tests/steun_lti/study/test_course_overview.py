"""Issue 13: whoever launches from a course takes part after consent; the course's staff see counts."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from steun_lti.plumbing.db import Database
from steun_lti.records.withdrawal import Scope
from steun_lti.study.models import CourseParticipant, erase
from tests.steun_lti.study.conftest import OTHER_TEACHER, TEACHER, login
from tests.steun_lti.study.test_views import add_child, answer_all, save, start

LEARNER = ("learner",)


def submit_wave_one(client: FlaskClient, token: str) -> None:
    add_child(client, token)
    first = start(client, "A")
    answer_all(client, token, first, "rel", 28, 4)
    client.post(f"/study/attempt/{first}/submit", data={"csrf_token": token})
    second = start(client, "A", "demo-strengths")
    for i in range(1, 26):
        save(client, token, second, f"sd{i:02d}", 1)
    save(client, token, second, "imp1", 0)
    client.post(f"/study/attempt/{second}/submit", data={"csrf_token": token})


def counts(page: str, wave: str) -> tuple[int, int]:
    row = re.search(rf'<tr id="count-{wave}">(.*?)</tr>', page, re.S)
    assert row, page
    started = re.search(r'class="started">(\d+)<', row.group(1))
    finished = re.search(r'class="finished">(\d+)<', row.group(1))
    assert started and finished
    return int(started.group(1)), int(finished.group(1))


def test_learners_take_part_and_staff_see_only_counts_of_their_course(
    client: FlaskClient, teacher: Callable[..., str], database: Database
) -> None:
    # A participant enrolled as a student finishes wave 1 ...
    token = teacher(roles=LEARNER)
    submit_wave_one(client, token)
    # ... another consents and starts, from the same course ...
    token = teacher(OTHER_TEACHER, roles=LEARNER)
    add_child(client, token)
    start(client, "A")
    # ... and a third takes part from another course.
    token = teacher("tch-" + "c" * 40, roles=LEARNER, context_pseudonym="ctx-2")
    add_child(client, token)
    start(client, "A")

    login(client, "tch-" + "d" * 40)  # the course's editing teacher (Instructor), no consent
    consent_page = client.get("/study/consent").text
    assert 'id="staff-note"' in consent_page  # staff find the overview from the letter
    page = client.get("/study/course")
    assert page.status_code == 200
    assert "2 deelnemers hebben toestemming gegeven." in page.text
    assert counts(page.text, "t1") == (2, 1)
    assert counts(page.text, "t2") == (0, 0)
    assert "Leerling A" not in page.text and "rel01" not in page.text  # never children or answers

    login(client, "tch-" + "d" * 40, context_pseudonym="ctx-2")
    assert counts(client.get("/study/course").text, "t1") == (1, 0)
    login(client, "tch-" + "d" * 40, context_pseudonym=None)
    assert "niets te tellen" in client.get("/study/course").text


def test_withdrawal_removes_the_course_note(
    client: FlaskClient, teacher: Callable[..., str], database: Database
) -> None:
    teacher(roles=LEARNER)
    with database.session() as session:
        assert session.query(CourseParticipant).count() == 1
        erase(session, Scope(pseudonym=TEACHER))
        session.commit()
        assert session.query(CourseParticipant).count() == 0
