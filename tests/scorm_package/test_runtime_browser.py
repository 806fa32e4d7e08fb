"""Both built packages in headless Chromium against scorm-again as the LMS, in an iframe and a popup."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.scorm_package.browser_lms import (
    CMI_IDENTIFIER,
    ELEMENTS,
    SESSION_TIME,
    SUSPEND_LIMIT,
    answer_current,
    click_through,
    launch,
    prior_data,
)
from tests.scorm_package.conftest import RELAY_KEY
from tests.support.browser import LiveServer
from xapi.course_relay import learner_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STANDARDS = ["scorm12", "scorm2004"]


def assert_clean_session(log: list[dict[str, Any]], standard: str) -> None:
    """Initialize once, Terminate once and last, no error code, nothing after Terminate."""
    names = ELEMENTS[standard]
    calls = [e["fn"] for e in log]
    assert calls.count(names["init"]) == 1, calls
    assert calls.count(names["term"]) == 1, calls
    assert calls[0] == names["init"] and calls[-1] == names["term"]
    errors = [e for e in log if e["error"] != "0"]
    assert errors == [], errors
    assert not [e for e in log if e["afterEnd"]]
    assert all(e["result"] != "false" for e in log), [e for e in log if e["result"] == "false"]
    times = [
        e["args"][1] for e in log if e["fn"].endswith("SetValue") and e["args"][0] == names["time"]
    ]
    assert times and all(SESSION_TIME[standard].match(t) for t in times), times


def set_values(log: list[dict[str, Any]], element: str) -> list[str]:
    return [e["args"][1] for e in log if e["fn"].endswith("SetValue") and e["args"][0] == element]


@pytest.mark.parametrize("how", ["iframe", "popup"])
@pytest.mark.parametrize("standard", STANDARDS)
def test_complete_and_resume(page: Any, lms_server: LiveServer, standard: str, how: str) -> None:
    # Session 1: a few pages and one exercise, then the learner leaves.
    s1 = launch(page, lms_server.url, standard, how, None)
    s1.sco.get_by_role("button", name="Begin met de cursus").click()
    for _ in range(3):
        s1.sco.get_by_role("button", name="Volgende").click()
    assert answer_current(s1.sco), "page 4 of the fixture course is an exercise"
    bookmark_page = s1.sco.evaluate("SteunRuntime.current()")
    bookmark = s1.sco.evaluate("i => SteunRuntime.config.pages[i].key", bookmark_page)
    s1.close()
    log1 = s1.log()
    assert_clean_session(log1, standard)
    values1 = s1.values()
    assert values1[ELEMENTS[standard]["location"]] == bookmark
    assert values1["cmi.core.exit" if standard == "scorm12" else "cmi.exit"] == "suspend"
    first_status = "cmi.core.lesson_status" if standard == "scorm12" else "cmi.completion_status"
    assert values1[first_status] == "incomplete"
    ids = set_values(log1, "cmi.interactions.0.id")
    assert ids == ["begin.keuze"]

    # Session 2: resumes on the bookmarked page with the answer restored; then completes the course.
    s2 = launch(page, lms_server.url, standard, how, prior_data(standard, values1))
    assert s2.sco.evaluate("SteunRuntime.current()") == bookmark_page
    section = s2.sco.locator("section.page:not([hidden])")
    assert section.locator("input:checked").count() == 1
    assert "Goed!" in section.locator("[data-feedback-area]").inner_text()
    assert s2.sco.evaluate("SteunRuntime.state.visited.filter(Boolean).length") == bookmark_page + 1
    click_through(s2.sco)
    assert s2.sco.evaluate("SteunRuntime.complete()")
    s2.close()
    log2 = s2.log()
    assert_clean_session(log2, standard)
    values2 = s2.values()
    suspend = values2["cmi.suspend_data"]
    assert len(suspend) <= SUSPEND_LIMIT[standard]
    if standard == "scorm12":
        assert values2["cmi.core.lesson_status"] == "passed"
        assert values2["cmi.core.score.raw"] == "100"
        sets = [tuple(e["args"]) for e in log2 if e["fn"] == "LMSSetValue"]
        order = [name for name, _ in sets]
        assert order.index("cmi.core.score.raw") < sets.index(("cmi.core.lesson_status", "passed"))
    else:
        assert values2["cmi.completion_status"] == "completed"
        assert values2["cmi.success_status"] == "passed"
        assert values2["cmi.score.scaled"] == "1.00"
        order = [e["args"][0] for e in log2 if e["fn"] == "SetValue"]
        last_success = len(order) - 1 - order[::-1].index("cmi.success_status")
        assert order.index("cmi.score.raw") < last_success
    interaction_ids = [
        e["args"][1] for e in log2 if e["fn"].endswith("SetValue") and e["args"][0].endswith(".id")
    ]
    assert interaction_ids and all(CMI_IDENTIFIER.match(i) for i in interaction_ids)
    types = {
        e["args"][1]
        for e in log2
        if e["fn"].endswith("SetValue") and e["args"][0].endswith(".type")
    }
    assert types == {"choice", "matching", "fill-in"}  # reflections: only "answered" and the length


@pytest.mark.parametrize("standard", STANDARDS)
def test_suspend_data_stays_within_limit_when_everything_is_done(
    page: Any, lms_server: LiveServer, standard: str
) -> None:
    """Every page seen, every exercise answered, reflections at full length: still within the limit,
    and a third session restores all of it."""
    s = launch(page, lms_server.url, standard, "iframe", None)
    click_through(s.sco)
    s.close()
    values = s.values()
    suspend = values["cmi.suspend_data"]
    assert len(suspend) <= SUSPEND_LIMIT[standard], len(suspend)
    s2 = launch(page, lms_server.url, standard, "iframe", prior_data(standard, values))
    state = s2.sco.evaluate("SteunRuntime.state")
    assert all(state["visited"])
    assert all(a is not None for a in state["answers"])
    assert state["final"] == {"attempted": True, "score": 100}
    assert s2.sco.evaluate("SteunRuntime.complete()")
    # reflection text is never in the LMS; it comes back from this browser's storage
    assert "Ik merk" not in suspend
    reflections = state["reflections"]
    assert reflections and all(text.startswith("Ik merk dat") for text in reflections.values())
    assert s2.sco.locator("#done-banner").is_visible()
    s2.close()
    assert_clean_session(s2.log(), standard)


def test_failed_final_check_is_reported_and_can_be_retaken(
    page: Any, lms_server: LiveServer
) -> None:
    from tests.scorm_package.browser_lms import answer_final

    s = launch(page, lms_server.url, "scorm2004", "iframe", None)
    last = len(s.sco.evaluate("SteunRuntime.config.pages")) - 1
    s.sco.evaluate(f"SteunRuntime.show({last})")
    answer_final(s.sco, correct=False)
    s.sco.get_by_role("button", name="Doe de toets opnieuw").click()
    answer_final(s.sco, correct=True)
    s.close()
    log = s.log()
    assert_clean_session(log, "scorm2004")
    success = set_values(log, "cmi.success_status")
    assert "failed" in success and success[-1] == "passed"
    assert s.values()["cmi.completion_status"] == "incomplete"  # the modules are not done yet


def test_empty_mode_counts_as_normal(page: Any, lms_server: LiveServer) -> None:
    """Open edX leaves cmi.mode empty: the course must still record progress."""
    s = launch(
        page, lms_server.url, "scorm2004", "iframe", {"cmi": {"entry": ""}}, {"emptyMode": True}
    )
    assert s.host.evaluate("host.api.GetValue('cmi.mode')") == ""
    s.sco.evaluate("SteunRuntime.show(1)")
    # entry is empty too, so the runtime asks for state that is not there: 403 is expected, not an error
    assert s.sco.evaluate("SteunRuntime.lms.errors") == []
    s.close()
    assert s.values()["cmi.location"] == "begin/intro"
    assert "cmi.suspend_data" in s.values()
    assert s.values()["cmi.completion_status"] == "incomplete"


def test_preview_without_lms_keeps_progress_in_local_storage(
    page: Any, lms_server: LiveServer
) -> None:
    page.goto(f"{lms_server.url}/scorm12/index.html")
    assert page.locator("#preview-notice").is_visible()
    page.get_by_role("button", name="Begin met de cursus").click()
    page.get_by_role("button", name="Volgende").click()
    page.reload()
    assert page.evaluate("SteunRuntime.current()") == 2
    assert page.evaluate("SteunRuntime.lms.preview")


RELAY = "http://127.0.0.1:9/relay"


def test_a_package_without_relay_sends_nothing(page: Any, lms_server: LiveServer) -> None:
    """steun-relay.js holding null (the plain build): the runtime posts no course events."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.route(
        "**/steun-relay.js", lambda route: route.fulfill(body="window.STEUN_RELAY = null;\n")
    )
    prior = {"cmi": {"core": {"entry": "ab-initio", "student_id": "lms-user-42"}}}
    s = launch(page, lms_server.url, "scorm12", "iframe", prior)
    click_through(s.sco)
    s.close()
    assert not [u for u in posts if "relay" in u]


def test_relay_receives_course_events(page: Any, lms_server: LiveServer) -> None:
    """Built with --relay-url, the runtime POSTs the events of steun_lti/web/relay.py's contract."""
    bodies: list[dict[str, Any]] = []

    def seen(request: Any) -> None:
        if request.url == RELAY:
            assert request.method == "POST" and request.headers["content-type"].startswith(
                "text/plain"
            )
            bodies.append(json.loads(request.post_data))

    page.on("request", seen)
    page.route(
        RELAY,
        lambda route: route.fulfill(
            status=202, body="{}", headers={"Access-Control-Allow-Origin": "*"}
        ),
    )
    prior = {"cmi": {"core": {"entry": "ab-initio", "student_id": "lms-user-42"}}}
    s = launch(page, lms_server.url, "scorm12", "iframe", prior)
    click_through(s.sco)
    # the last request is sent with keepalive from pagehide
    with page.expect_request(
        lambda r: r.url == RELAY and "course_terminated" in (r.post_data or "")
    ):
        s.close()
    events = [e for b in bodies for e in b["events"]]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "course_started" and kinds[-1] == "course_terminated"
    assert kinds.count("module_started") == 2 and kinds.count("module_completed") == 2
    assert kinds.count("course_completed") == 1
    assert kinds.count("exercise_answered") == 7  # 5 exercises + 2 final-check questions
    assert {(b["learner_id"], b["course"]) for b in bodies} == {("lms-user-42", "mini-cursus")}
    # the package key's proof (decision 0012): its id and HMAC(key, learner id), never the key
    kid, key = RELAY_KEY.split(":")
    assert {(b["kid"], b["token"]) for b in bodies} == {(kid, learner_token(key, "lms-user-42"))}
    assert not any(key in json.dumps(b) for b in bodies)
    assert len({b["session"] for b in bodies}) == 1
    answered = {
        (e["module"], e["exercise"]): e.get("response")
        for e in events
        if e["event"] == "exercise_answered"
    }
    assert answered[("begin", "keuze")] == "a"
    assert answered[("verder", "sorteren")] == "i1[.]emotie[,]i2[.]structuur[,]i3[.]emotie"
    assert answered[("final-check", "fc2")] == "a[,]b"
    assert answered[("begin", "reflectie")] is None  # free text never goes to the relay
    assert re.match(r"^PT[\d.HMS]+$", events[-1]["duration"])


def test_time_formats(page: Any, lms_server: LiveServer) -> None:
    page.goto(f"{lms_server.url}/scorm12/index.html")
    assert page.evaluate("SteunRuntime.sessionTime(303200)") == "0000:05:03.20"
    assert page.evaluate("SteunRuntime.sessionTime(0)") == "0000:00:00.00"
    assert page.evaluate("SteunRuntime.sessionTime(36000000 * 2)") == "0020:00:00.00"
    cases = {
        0: "PT0S",
        3200: "PT3.2S",
        60000: "PT1M",
        3723450: "PT1H2M3.45S",
        7200000: "PT2H",
        10: "PT0.01S",
    }
    for ms, text in cases.items():
        assert page.evaluate(f"SteunRuntime.isoDuration({ms})") == text
        assert SESSION_TIME["scorm2004"].match(text)


def test_html_loads_nothing_from_elsewhere(built: dict[str, Any]) -> None:
    """Everything the page loads is inside the zip (a CDN cannot reach the LMS API)."""
    for standard in STANDARDS:
        html = Path(built[standard].folder, "index.html").read_text(encoding="utf-8")
        external = re.findall(
            r'<(?:script|link|img|video|source|track|iframe)\b[^>]*(?:src|href)="(?:https?:)?//',
            html,
        )
        assert external == []


def test_a_refused_initialize_is_told_to_the_learner(page: Any, lms_server: LiveServer) -> None:
    """Reopening a popup in some LMSs gives error 101 (already initialized): say so, call nothing more."""
    s = launch(page, lms_server.url, "scorm12", "iframe", None)
    s.host.evaluate("host.closeIframe()")
    # the same API object again: scorm-again refuses a second LMSInitialize after LMSFinish
    s.host.evaluate("host.openIframe('/scorm12/index.html')")
    page.wait_for_function("host.frame.contentWindow.SteunRuntime !== undefined")
    frame = page.frame(url=re.compile(r"/scorm12/index\.html"))
    assert frame is not None
    assert frame.locator("#lms-error-notice").is_visible()
    assert frame.evaluate("SteunRuntime.lms.phase") == "failed"
    calls = [e["fn"] for e in s.log()]
    assert calls.count("LMSInitialize") == 2 and calls[-1] == "LMSInitialize"


@pytest.mark.parametrize("standard", STANDARDS)
def test_a_completed_status_is_never_lowered(
    page: Any, lms_server: LiveServer, standard: str
) -> None:
    """State from another course version is dropped, but the LMS keeps the completion already reached
    (SCORM 1.2 gets the LMS's own status again: a status in every session)."""
    values = {
        "cmi.core.lesson_status": "passed",
        "cmi.completion_status": "completed",
        "cmi.suspend_data": "1.00000000.abc.AAAA.",  # another structure hash
        "cmi.core.lesson_location": "begin/intro",
        "cmi.location": "begin/intro",
    }
    s = launch(page, lms_server.url, standard, "iframe", prior_data(standard, values))
    assert not s.sco.evaluate("SteunRuntime.state.visited.slice(2).some(Boolean)")
    s.sco.get_by_role("button", name="Volgende").click()
    s.close()
    assert_clean_session(s.log(), standard)
    status_elements = {"cmi.core.lesson_status", "cmi.completion_status", "cmi.success_status"}
    statuses = [
        tuple(e["args"])
        for e in s.log()
        if e["fn"].endswith("SetValue") and e["args"][0] in status_elements
    ]
    assert statuses == ([("cmi.core.lesson_status", "passed")] if standard == "scorm12" else [])
