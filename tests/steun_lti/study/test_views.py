"""The teacher's flow through the Flask client, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from steun_lti.plumbing.db import Database
from steun_lti.records.events import Event
from steun_lti.study.models import Answer, Attempt, Child, Consent
from tests.steun_lti.study.conftest import OTHER_TEACHER, TEACHER, launch_context, login

RELATION = "demo-relationship"


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def add_child(client: FlaskClient, token: str, reasons: list[str] | None = None) -> str:
    response = client.post(
        "/study/children",
        data={"reasons": reasons or ["poverty"], "comment": "", "csrf_token": token},
    )
    assert response.status_code == 302, response.text
    return response.location.split("added=")[1].split("#")[0]


def start(client: FlaskClient, code: str, instrument: str = RELATION, wave: str = "t1") -> int:
    response = client.get(f"/study/wave/{wave}/{code}/{instrument}")
    assert response.status_code == 302, response.text
    return int(response.location.rsplit("/", 1)[1])


def save(client: FlaskClient, token: str, attempt: int, item: str, value: Any) -> Any:
    return client.post(
        f"/study/attempt/{attempt}/answer",
        json={"item": item, "value": value},
        headers={"X-CSRF-Token": token},
    )


def answer_all(
    client: FlaskClient, token: str, attempt: int, prefix: str, n: int, value: int
) -> None:
    for i in range(1, n + 1):
        assert save(client, token, attempt, f"{prefix}{i:02d}", value).status_code == 200


def test_without_a_launch_nothing_opens(client: FlaskClient) -> None:
    assert client.get("/study/").status_code == 401
    assert client.post("/study/attempt/1/answer", json={}).status_code == 401


def test_learners_take_part_after_consent(client: FlaskClient) -> None:
    login(client, roles=("learner",))
    assert client.get("/study/").location.endswith("/study/consent")
    assert client.get("/study/consent").status_code == 200
    assert client.get("/study/course").status_code == 403


def test_the_shared_consent_page_is_the_fresh_one_with_each_teachers_token(
    client: FlaskClient, study_app: Any
) -> None:
    """The consent page a new teacher lands on is rendered once per language, role and wave and
    process (issue 16); each teacher still gets their own CSRF token, and the page is exactly
    what a fresh rendering gives."""
    from flask import render_template

    from steun_lti.web.teacher import letter_html
    from steun_lti.web.teacher_support import SHARED_PAGES_KEY, runtime

    pages = {}
    for pseudonym in (TEACHER, OTHER_TEACHER, TEACHER + "-3"):
        login(client, pseudonym)
        pages[pseudonym] = client.get("/study/consent").text
    tokens = {
        p: re.findall(r'name="csrf_token" value="([^"]+)"', page) for p, page in pages.items()
    }
    assert all(len(found) == 2 and len(set(found)) == 1 for found in tokens.values())
    assert len({found[0] for found in tokens.values()}) == 3  # one token per teacher
    assert len(study_app.extensions[SHARED_PAGES_KEY]) == 1  # rendered once
    with study_app.test_request_context("/study/consent"):
        from flask import g

        from steun_lti.lti.launch import current_launch

        login(client, TEACHER)  # the stored launch for the fresh rendering below
        g.launch = current_launch() or launch_context(TEACHER)
        study = runtime().study
        fresh = render_template(
            "study/consent.html", letter=letter_html(study.letter["nl"]), given=None, error=None
        )
    token = re.findall(r'name="csrf_token" value="([^"]+)"', fresh)[0]
    assert pages[TEACHER].replace(tokens[TEACHER][0], "T") == fresh.replace(token, "T")
    # in English: a page of its own
    english = client.get("/study/consent?lang=en").text
    assert "Information and consent" in english
    assert len(study_app.extensions[SHARED_PAGES_KEY]) == 2


def test_consent_comes_first_and_is_recorded_with_its_version(
    client: FlaskClient,
    teacher: Callable[..., str],
    database: Database,
    events: list[Event],
) -> None:
    token = teacher(consent=False)
    assert client.get("/study/").location.endswith("/study/consent")
    assert client.get("/study/children").location.endswith("/study/consent")
    page = client.get("/study/consent")
    assert "Informatie en toestemming" in page.text
    assert "demo-2026-1" in page.text
    # without the box ticked: refused, nothing stored
    refused = client.post("/study/consent", data={"csrf_token": token})
    assert refused.status_code == 400
    refused_child = client.post(
        "/study/children", data={"reasons": ["poverty"], "csrf_token": token}
    )
    assert refused_child.status_code == 302 and refused_child.location.endswith("/consent")
    with database.session() as session:
        assert session.scalars(select(Consent)).all() == []
        assert session.scalars(select(Child)).all() == []
    assert events == []
    client.post("/study/consent", data={"agree": "yes", "csrf_token": token})
    with database.session() as session:
        consent = session.scalars(select(Consent)).one()
        assert (consent.teacher, consent.version) == (TEACHER, "demo-2026-1")
    assert kinds(events) == ["consent_given"]
    assert events[0].data == {"study": "steun-demo", "consent_version": "demo-2026-1"}
    # first launch after consent with no pupils goes to "my pupils"
    assert client.get("/study/").location.endswith("/study/children")


def test_posts_without_the_csrf_token_are_refused(
    client: FlaskClient, teacher: Callable[..., str]
) -> None:
    teacher()
    assert client.post("/study/children", data={"reasons": ["poverty"]}).status_code == 400
    assert client.post("/study/attempt/1/answer", json={"item": "x", "value": 1}).status_code == 400


def test_a_note_that_could_identify_the_child_is_refused_and_not_stored(
    client: FlaskClient, teacher: Callable[..., str], database: Database, events: list[Event]
) -> None:
    """Issue 17: this note was accepted and stored."""
    token = teacher()
    note = "Jan de Vries, geboren 03-04-2016, woont bij oma"
    refused = client.post(
        "/study/children", data={"reasons": ["loss"], "comment": note, "csrf_token": token}
    )
    assert refused.status_code == 400
    assert (
        "Je toelichting lijkt iets te bevatten waaraan het kind te herkennen is: "
        "een datum (“03-04-2016”), een naam (“Jan de Vries”). Laat dat weg en beschrijf de "
        "situatie in algemene termen."
    ) in refused.text
    assert note in refused.text  # the form keeps what was typed, to correct it
    with database.session() as session:
        assert session.scalars(select(Child)).all() == []
    assert "child_added" not in kinds(events)

    ordinary = "Vader is vorig jaar overleden, sindsdien stil in de klas."
    accepted = client.post(
        "/study/children", data={"reasons": ["loss"], "comment": ordinary, "csrf_token": token}
    )
    assert accepted.status_code == 302, accepted.text
    changed = client.post(
        "/study/children/A",
        data={"reasons": ["loss"], "comment": "Woont bij oma Truus", "csrf_token": token},
    )
    assert changed.status_code == 400 and "een naam (“oma Truus”)" in changed.text
    with database.session() as session:
        assert [c.comment for c in session.scalars(select(Child))] == [ordinary]


def test_children_get_codes_reasons_and_can_be_withdrawn(
    client: FlaskClient, teacher: Callable[..., str], database: Database, events: list[Event]
) -> None:
    token = teacher()
    assert add_child(client, token, ["poverty", "loss"]) == "A"
    assert add_child(client, token) == "B"
    page = client.get("/study/children")
    assert "Leerling A" in page.text and "Leerling B" in page.text
    assert "Schrijf geen namen, initialen of geboortedata op." in page.text
    # the private label field has no name: a browser never sends it
    assert 'data-label-input="A"' in page.text
    assert 'name="label' not in page.text
    bad = client.post(
        "/study/children",
        data={"reasons": ["made-up"], "csrf_token": token},
    )
    assert bad.status_code == 400 and "Onbekende reden." in bad.text
    too_long = client.post(
        "/study/children",
        data={"reasons": ["poverty"], "comment": "x" * 201, "csrf_token": token},
    )
    assert too_long.status_code == 400 and "hoogstens 200 tekens" in too_long.text
    # change reasons
    client.post(
        "/study/children/B",
        data={"reasons": ["other"], "comment": "Spanning thuis", "csrf_token": token},
    )
    with database.session() as session:
        child_b = session.scalars(select(Child).where(Child.seq == 2)).one()
        assert child_b.reasons == ["other"] and child_b.comment == "Spanning thuis"
    # withdraw B with its data removed; its code is not reused
    attempt = start(client, "B")
    assert save(client, token, attempt, "rel01", 4).status_code == 200
    refused = client.post("/study/children/B/withdraw", data={"csrf_token": token})
    assert refused.status_code == 302
    client.post(
        "/study/children/B/withdraw",
        data={"confirm": "yes", "remove": "yes", "csrf_token": token},
    )
    with database.session() as session:
        assert session.scalars(select(Answer)).all() == []
        assert session.scalars(select(Attempt)).all() == []
        child_b = session.scalars(select(Child).where(Child.seq == 2)).one()
        assert child_b.withdrawn_at is not None and child_b.comment is None
    assert add_child(client, token) == "C"
    assert kinds(events).count("child_added") == 3
    withdrawn = next(e for e in events if e.kind == "child_withdrawn")
    assert withdrawn.data == {"study": "steun-demo", "child_code": "B", "data_removed": True}
    added = [e for e in events if e.kind == "child_added"]
    # ids and codes only: the reasons go as category ids, the teacher's note stays in the tool
    assert all(set(e.data) <= {"study", "child_code", "reasons"} for e in added)
    known = {"home_tension", "neglect", "loss", "parent_problems", "poverty", "behaviour", "other"}
    assert all(e.data["reasons"] and set(e.data["reasons"]) <= known for e in added)
    # the change of B's reasons is recorded (ids only, the note stays in the tool)
    changed = [e for e in events if e.kind == "child_reasons_changed"]
    assert [e.data for e in changed] == [
        {"study": "steun-demo", "child_code": "B", "reasons": ["other"]}
    ]


def test_answers_are_saved_at_once_and_resume_at_the_first_unanswered_item(
    client: FlaskClient, teacher: Callable[..., str], database: Database, events: list[Event]
) -> None:
    token = teacher()
    add_child(client, token)
    attempt = start(client, "A")
    # the first visit opens page 1 at the first item
    assert client.get(f"/study/attempt/{attempt}").location.endswith("/page/1#item-rel01")
    for i in range(1, 10):
        assert save(client, token, attempt, f"rel{i:02d}", 3).json["saved"] is True
    # changing an answer replaces it (no duplicate row)
    assert save(client, token, attempt, "rel02", 5).status_code == 200
    with database.session() as session:
        rows = session.scalars(select(Answer).where(Answer.attempt_id == attempt)).all()
        assert len(rows) == 9
        assert {r.item_id: r.value for r in rows}["rel02"] == 5
    # a new session (another device): same pseudonym, resume on page 2 at item 10
    other_device = client.application.test_client()
    login(other_device)
    assert other_device.get(f"/study/attempt/{attempt}").location.endswith("/page/2#item-rel10")
    page = other_device.get("/study/attempt/1/page/2")
    assert page.status_code == 200
    assert 'name="rel08" value="3" checked' in page.text
    # invalid values are refused with a reason, nothing stored
    refused = save(client, token, attempt, "rel10", 7)
    assert refused.status_code == 422 and refused.json["error"] == "not_an_option"
    assert save(client, token, attempt, "nope", 1).status_code == 422
    # clearing an answer deletes it
    assert save(client, token, attempt, "rel09", None).status_code == 200
    assert client.get(f"/study/attempt/{attempt}").location.endswith("/page/2#item-rel09")
    answered = [e for e in events if e.kind == "item_answered"]
    described = answered[0].data
    assert described.pop("interaction_type") == "likert"
    assert described.pop("item_text") == "Ik heb een warme band met dit kind."
    assert described.pop("choices")[0] == ["1", "Klopt helemaal niet"]
    assert described == {
        "study": "steun-demo",
        "wave": "t1",
        "instrument": RELATION,
        "instrument_version": "1.0",
        "item": "rel01",
        "response": 3,
        "child_code": "A",
        "attempt": attempt,
        "respondent": "teacher",
        "late": False,
    }


def test_the_plain_form_fallback_saves_validates_and_moves_on(
    client: FlaskClient, teacher: Callable[..., str], events: list[Event]
) -> None:
    token = teacher()
    add_child(client, token)
    attempt = start(client, "A")
    half = {f"rel{i:02d}": "2" for i in range(1, 5)}
    response = client.post(
        f"/study/attempt/{attempt}/page/1", data={**half, "action": "next", "csrf_token": token}
    )
    assert response.status_code == 422
    assert "Enkele antwoorden hebben je aandacht nodig" in response.text
    assert response.text.count("Beantwoord deze vraag.") == 3 * 2  # summary and item
    assert ".: Beantwoord" not in response.text  # the question, then the message (issue 17)
    assert 'aria-describedby="err-rel05' in response.text
    full = {f"rel{i:02d}": "2" for i in range(1, 8)}
    response = client.post(
        f"/study/attempt/{attempt}/page/1", data={**full, "action": "next", "csrf_token": token}
    )
    assert response.location.endswith(f"/study/attempt/{attempt}/page/2")
    assert kinds(events).count("page_completed") == 1
    # the same answers again are not new events
    before = kinds(events).count("item_answered")
    client.post(
        f"/study/attempt/{attempt}/page/1", data={**full, "action": "later", "csrf_token": token}
    )
    assert kinds(events).count("item_answered") == before


def test_review_submit_locks_scores_and_completes_the_wave(
    client: FlaskClient,
    teacher: Callable[..., str],
    database: Database,
    events: list[Event],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: list[Any] = []
    fake = types.ModuleType("steun_lti.lti.ags")
    fake.report_completion = reported.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "steun_lti.lti.ags", fake)
    token = teacher(target="wave:t1", ags_lineitem="https://lms.example/lineitems/1")
    add_child(client, token)
    attempt = start(client, "A")
    answer_all(client, token, attempt, "rel", 27, 4)
    review = client.get(f"/study/attempt/{attempt}/review")
    assert "1 vraag heeft nog een antwoord nodig" in review.text
    refused = client.post(f"/study/attempt/{attempt}/submit", data={"csrf_token": token})
    assert refused.location.endswith("/review")
    assert save(client, token, attempt, "rel28", 4).status_code == 200
    response = client.post(f"/study/attempt/{attempt}/submit", data={"csrf_token": token})
    assert response.location.endswith("/study/wave/t1")
    # locked
    locked = save(client, token, attempt, "rel01", 1)
    assert locked.status_code == 409
    assert client.get(f"/study/attempt/{attempt}").location.endswith("/review")
    completed = next(e for e in events if e.kind == "questionnaire_completed")
    # closeness: 11 items × 4 = 44; conflict 12 × 4 = 48; total = 44 + (6·12 − 48) = 68
    assert completed.data["scores"]["closeness"] == 44
    assert completed.data["scores"]["relationship_total"] == 68
    assert "wave_completed" not in kinds(events)
    assert reported == []
    second = start(client, "A", "demo-strengths")
    for i in range(1, 26):
        save(client, token, second, f"sd{i:02d}", 1)
    save(client, token, second, "imp1", 0)
    client.post(f"/study/attempt/{second}/submit", data={"csrf_token": token})
    assert kinds(events)[-2:] == ["questionnaire_completed", "wave_completed"]
    assert len(reported) == 1 and reported[0].target == "wave:t1"
    dashboard = client.get("/study/wave/t1")
    assert "Alle vragenlijsten van deze meting zijn klaar." in dashboard.text
    with database.session() as session:
        stored = session.get(Attempt, attempt)
        assert stored is not None and stored.submitted_at is not None
        assert stored.scores is not None and stored.scores["conflict"] == 48


def test_the_dashboard_shows_progress_per_child(
    client: FlaskClient, teacher: Callable[..., str]
) -> None:
    token = teacher()
    add_child(client, token)
    add_child(client, token)
    attempt = start(client, "B")
    answer_all(client, token, attempt, "rel", 5, 3)
    page = client.get("/study/wave/t1")
    assert "Nog 4 vragenlijsten te doen in deze meting." in page.text
    assert "5 van 28 beantwoord" in page.text
    assert "Niet begonnen" in page.text
    assert "Deze meting is open tot" in page.text


def test_a_deep_linked_wave_opens_directly(
    client: FlaskClient, teacher: Callable[..., str]
) -> None:
    teacher(target="wave:t2")
    assert client.get("/study/").location.endswith("/study/wave/t2")


def test_teachers_never_see_each_others_children(
    client: FlaskClient, teacher: Callable[..., str]
) -> None:
    token = teacher()
    add_child(client, token)
    attempt = start(client, "A")
    other = teacher(OTHER_TEACHER)
    assert save(client, other, attempt, "rel01", 1).status_code == 404
    assert client.get(f"/study/attempt/{attempt}/page/1").status_code == 404
    assert client.get("/study/children/A").status_code == 404


def test_english_is_available(client: FlaskClient, teacher: Callable[..., str]) -> None:
    teacher()
    page = client.get("/study/children?lang=en")
    assert "My pupils" in page.text and '<html lang="en">' in page.text
    assert "My pupils" in client.get("/study/children").text  # remembered
    login(client, locale="en")
    with client.session_transaction() as session:
        session.pop("steun_lang", None)
    assert "My pupils" in client.get("/study/children").text


@pytest.mark.parametrize("attack", ["/\t/evil.example/", "/%09/evil.example/", "/\\evil.example/"])
def test_parental_consent_never_redirects_off_site(
    client: FlaskClient, teacher: Callable[..., str], attack: str
) -> None:
    """Issue 14: ``parental-consent?next=/%09/evil.example/`` went to evil.example."""
    token = teacher()
    add_child(client, token)
    page = client.get("/study/children/A/parental-consent", query_string={"next": attack})
    assert page.status_code == 200 and "evil.example" not in page.text
    raw = client.get("/study/children/A/parental-consent?next=/%09/evil.example/")
    assert "evil.example" not in raw.text
    done = client.post(
        "/study/children/A/parental-consent",
        data={"csrf_token": token, "confirm": "yes", "next": attack},
    )
    assert done.status_code == 302 and done.location == "/study/wave/t1"


def test_child_mode_needs_the_parents_consent(
    client: FlaskClient, teacher: Callable[..., str], events: list[Event]
) -> None:
    token = teacher()
    add_child(client, token)
    gate = client.get("/study/child/A/t1/demo-child")
    assert "/study/children/A/parental-consent" in gate.location
    assert client.get("/study/wave/t1").text.count("Toestemming bevestigen") == 1
    # no attempt can be saved for the child form before consent either
    refused = client.post(
        "/study/children/A/parental-consent",
        data={"csrf_token": token, "next": "/study/child/A/t1/demo-child"},
    )
    assert refused.status_code == 400
    elsewhere = client.post(
        "/study/children/A/parental-consent",
        data={"csrf_token": token, "confirm": "yes", "next": "//evil.example/x"},
    )
    assert elsewhere.location == "/study/wave/t1"  # never an open redirect
    confirmed = client.post(
        "/study/children/A/parental-consent",
        data={"csrf_token": token, "confirm": "yes", "next": "/study/child/A/t1/demo-child"},
    )
    assert confirmed.location == "/study/child/A/t1/demo-child"
    first = client.get("/study/child/A/t1/demo-child")
    assert first.location.endswith("/q/1")
    question = client.get(first.location)
    assert "Voorlezen" in question.text and 'data-lang="nl-NL"' in question.text
    assert "face-very_happy" in question.text
    attempt = int(first.location.split("/attempt/")[1].split("/")[0])
    for n, value in enumerate([5, 4, 3, 2, 1, 5], start=1):
        response = client.post(
            f"/study/child/attempt/{attempt}/q/{n}", data={f"c{n}": str(value), "csrf_token": token}
        )
        assert response.status_code == 302
    assert response.location.endswith("/finish")
    done = client.post(f"/study/child/attempt/{attempt}/finish", data={"csrf_token": token})
    assert done.location.endswith("/done")
    completed = next(e for e in events if e.kind == "questionnaire_completed")
    assert completed.data["respondent"] == "child"
    assert completed.data["scores"] == {"wellbeing": round(20 / 6, 4)}
    # the device is in child mode: teacher pages refuse until the teacher launches again
    assert client.get(f"/study/attempt/{attempt}/review").status_code == 403
    login(client, launch_id="relaunch-1")  # the teacher's new launch from the LMS
    # the teacher's questionnaire URLs do not open the child's attempt
    assert client.get(f"/study/attempt/{attempt}/review").status_code == 404


def test_unknown_pages_are_404(client: FlaskClient, teacher: Callable[..., str]) -> None:
    token = teacher()
    add_child(client, token)
    assert client.get("/study/wave/t9").status_code == 404
    assert client.get("/study/wave/t1/A/unknown").status_code == 404
    assert client.get("/study/wave/t1/Z/demo-relationship").status_code == 404
    attempt = start(client, "A")
    assert client.get(f"/study/attempt/{attempt}/page/99").status_code == 404


def test_a_teacher_can_stop_and_have_everything_removed(
    client: FlaskClient, teacher: Callable[..., str], database: Database, events: list[Event]
) -> None:
    token = teacher()
    add_child(client, token)
    attempt = start(client, "A")
    save(client, token, attempt, "rel01", 2)
    page = client.get("/study/consent")
    assert "Stoppen met het onderzoek" in page.text
    refused = client.post("/study/consent/withdraw", data={"csrf_token": token})
    assert refused.location.endswith("/study/consent")
    with database.session() as session:
        assert session.scalars(select(Consent)).one().withdrawn_at is None
    client.post("/study/consent/withdraw", data={"csrf_token": token, "confirm": "yes"})
    assert kinds(events)[-1] == "consent_withdrawn"
    # nothing more is collected: every page asks for consent again
    assert client.get("/study/children").location.endswith("/study/consent")
    assert save(client, token, attempt, "rel02", 2).status_code == 403
    with database.session() as session:
        assert len(session.scalars(select(Answer)).all()) == 1
    # consent again, then stop with removal: the study rows are gone
    client.post("/study/consent", data={"agree": "yes", "csrf_token": token})
    client.post(
        "/study/consent/withdraw", data={"csrf_token": token, "confirm": "yes", "remove": "yes"}
    )
    with database.session() as session:
        assert session.scalars(select(Answer)).all() == []
        assert session.scalars(select(Child)).all() == []
        assert session.scalars(select(Consent)).all() == []


def test_child_mode_keeps_the_child_out_of_the_teachers_pages(
    client: FlaskClient, teacher: Callable[..., str]
) -> None:
    """Issue 14: the child, on the teacher's device, cannot reach the teacher's session."""
    token = teacher()
    add_child(client, token)
    add_child(client, token)
    client.post(
        "/study/children/A/parental-consent",
        data={"csrf_token": token, "confirm": "yes", "next": "/study/child/A/t1/demo-child"},
    )
    first = client.get("/study/child/A/t1/demo-child")
    attempt = int(first.location.split("/attempt/")[1].split("/")[0])
    for url in (
        "/study/",
        "/study/children",
        "/study/children/A",
        "/study/wave/t1",
        "/study/wave/t1/A/demo-relationship",
        "/study/course",
        "/study/child/B/t1/demo-child",  # nor another child's questionnaire
    ):
        page = client.get(url)
        assert page.status_code == 403, url
        assert 'href="/study/children"' not in page.text and 'href="/study/wave' not in page.text
    assert client.post("/study/children", data={"csrf_token": token}).status_code == 403
    # the child's own questions still open and save
    for n, value in enumerate([5, 4, 3, 2, 1, 5], start=1):
        response = client.post(
            f"/study/child/attempt/{attempt}/q/{n}", data={f"c{n}": str(value), "csrf_token": token}
        )
        assert response.status_code == 302
    done = client.post(f"/study/child/attempt/{attempt}/finish", data={"csrf_token": token})
    page = client.get(done.location)
    assert page.status_code == 200
    assert "/study/wave" not in page.text and "/study/children" not in page.text
    assert client.get("/study/wave/t1").status_code == 403  # still locked after "klaar"
    # the teacher's way back: launching again from the LMS
    login(client, launch_id="relaunch-2")
    assert client.get("/study/children").status_code == 200
