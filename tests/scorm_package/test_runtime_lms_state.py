"""What the LMS ends up holding (issue 15): a status that never slides back, a status in every 1.2
session, a bounded number of interactions, exit=suspend from the start, no reflection text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scorm_package.browser_lms import (
    ELEMENTS,
    REFLECTION_TEXT,
    answer_current,
    click_through,
    launch,
    prior_data,
    visible_section,
)
from tests.scorm_package.test_runtime_browser import assert_clean_session, set_values
from tests.support.browser import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STANDARDS = ["scorm12", "scorm2004"]
STATUS = {
    "scorm12": ["cmi.core.lesson_status"],
    "scorm2004": ["cmi.completion_status", "cmi.success_status"],
}
EXIT = {"scorm12": "cmi.core.exit", "scorm2004": "cmi.exit"}
# docs/decisions/0009: at most one interaction per exercise per session, never more than this in all
INTERACTION_LIMIT = 250


def committed(log: list[dict[str, Any]]) -> dict[str, str]:
    """The values an LMS has stored at its last Commit: what survives a tab closed without pagehide."""
    commit = "LMSCommit" if log[0]["fn"].startswith("LMS") else "Commit"
    last = max(i for i, e in enumerate(log) if e["fn"] == commit and e["result"] == "true")
    return {e["args"][0]: e["args"][1] for e in log[:last] if e["fn"].endswith("SetValue")}


def final_page(sco: Any) -> int:
    return len(sco.evaluate("SteunRuntime.config.pages")) - 1


@pytest.mark.parametrize("standard", STANDARDS)
def test_a_pass_never_turns_into_a_fail(page: Any, lms_server: LiveServer, standard: str) -> None:
    s = launch(page, lms_server.url, standard, "iframe", None)
    click_through(s.sco)
    assert s.sco.evaluate("SteunRuntime.complete()")
    form = visible_section(s.sco).locator("form[data-final]")
    # after a pass the test is shown read-only: answers can be reread, not changed
    assert form.locator("input:enabled").count() == 0
    assert not form.get_by_role("button", name="Lever de toets in").is_visible()
    # a learner (or a script) who still changes the answers and submits gets nothing lowered
    s.sco.evaluate(
        """() => {
        const form = document.querySelector('form[data-final]');
        form.querySelectorAll('input').forEach(i => { i.disabled = false; i.checked = false; });
        SteunRuntime.config.finalCheck.questions.forEach(qi => {
            const ex = SteunRuntime.config.exercises[qi];
            const wrong = ex.options.findIndex(o => !o.correct);
            document.getElementById('ex' + qi + '-' + wrong).checked = true;
        });
        form.requestSubmit();
    }"""
    )
    assert s.sco.evaluate("SteunRuntime.state.final") == {"attempted": True, "score": 100}
    s.close()
    log = s.log()
    assert_clean_session(log, standard)
    values = s.values()
    if standard == "scorm12":
        assert values["cmi.core.lesson_status"] == "passed"
        assert values["cmi.core.score.raw"] == "100"
        after_pass = set_values(log, "cmi.core.lesson_status")
        assert after_pass[after_pass.index("passed") :] == ["passed"]
    else:
        assert values["cmi.completion_status"] == "completed"
        assert values["cmi.success_status"] == "passed"
        assert values["cmi.score.raw"] == "100"
        success = set_values(log, "cmi.success_status")
        assert success[success.index("passed") :] == ["passed"]
    assert set(set_values(log, ELEMENTS[standard]["time"]))  # the session was recorded
    # the next session shows the passed test read-only again and reports passed/completed again
    s2 = launch(page, lms_server.url, standard, "iframe", prior_data(standard, values))
    s2.sco.evaluate(f"SteunRuntime.show({final_page(s2.sco)})")
    form2 = visible_section(s2.sco).locator("form[data-final]")
    assert form2.locator("input:enabled").count() == 0
    assert "gehaald" in form2.locator("[data-final-result]").inner_text()
    s2.close()
    assert_clean_session(s2.log(), standard)
    if standard == "scorm12":
        assert set_values(s2.log(), "cmi.core.lesson_status") == ["passed"]
    else:
        assert set(set_values(s2.log(), "cmi.completion_status")) <= {"completed"}


def test_scorm12_status_is_set_in_every_session(page: Any, lms_server: LiveServer) -> None:
    """SCORM 1.2 LMSs may set a status of their own at LMSFinish when the SCO set none."""
    s1 = launch(page, lms_server.url, "scorm12", "iframe", None)
    s1.sco.evaluate("SteunRuntime.show(1)")
    s1.close()
    assert s1.values()["cmi.core.lesson_status"] == "incomplete"
    s2 = launch(page, lms_server.url, "scorm12", "iframe", prior_data("scorm12", s1.values()))
    s2.sco.evaluate("SteunRuntime.show(2)")
    s2.close()
    assert_clean_session(s2.log(), "scorm12")
    assert set_values(s2.log(), "cmi.core.lesson_status") == ["incomplete"]


@pytest.mark.parametrize("standard", STANDARDS)
def test_a_thousand_saves_stay_within_the_interaction_budget(
    page: Any, lms_server: LiveServer, standard: str
) -> None:
    s = launch(page, lms_server.url, standard, "iframe", None)
    n_exercises = len(s.sco.evaluate("SteunRuntime.config.exercises"))
    s.sco.evaluate("SteunRuntime.show(4)")  # the choice exercise
    answer_current(s.sco)
    # press "Controleer" 1,000 times, changing the answer each time, then the reflection 1,000 times
    s.sco.evaluate(
        """() => {
        const form = document.querySelector('section.page:not([hidden]) form[data-exercise]');
        const radios = form.querySelectorAll('input');
        for (let k = 0; k < 1000; k++) { radios[k % radios.length].checked = true; form.requestSubmit(); }
    }"""
    )
    s.sco.evaluate("SteunRuntime.show(5)")
    s.sco.evaluate(
        """text => {
        const form = document.querySelector('section.page:not([hidden]) form[data-exercise]');
        const area = form.querySelector('textarea');
        for (let k = 0; k < 1000; k++) { area.value = text + k; form.requestSubmit(); }
    }""",
        REFLECTION_TEXT,
    )
    count = int(
        s.host.evaluate(
            "host.api.%s('cmi.interactions._count')"
            % ("LMSGetValue" if standard == "scorm12" else "GetValue")
        )
    )
    assert count <= 2 <= n_exercises, count  # one interaction per exercise per session
    s.close()
    log = s.log()
    assert_clean_session(log, standard)
    term = [e for e in log if e["fn"] == ELEMENTS[standard]["term"]]
    assert term[0]["result"] == "true" and term[0]["error"] == "0"
    # a second session answers again: one more interaction per exercise, still bounded
    s2 = launch(page, lms_server.url, standard, "iframe", prior_data(standard, s.values()))
    s2.sco.evaluate("SteunRuntime.show(4)")
    s2.sco.evaluate(
        """() => {
        const form = document.querySelector('section.page:not([hidden]) form[data-exercise]');
        const radios = form.querySelectorAll('input');
        for (let k = 0; k < 100; k++) { radios[k % radios.length].checked = true; form.requestSubmit(); }
    }"""
    )
    ids = [
        e["args"][0]
        for e in s2.log()
        if e["fn"].endswith("SetValue") and e["args"][0].endswith(".id")
    ]
    assert set(ids) == {
        "cmi.interactions.0.id"
    }  # a new session starts at the LMS's count (scorm-again: 0)
    s2.close()
    assert_clean_session(s2.log(), standard)


@pytest.mark.parametrize("standard", STANDARDS)
def test_exit_is_suspend_in_what_the_lms_stored_even_without_pagehide(
    page: Any, lms_server: LiveServer, standard: str
) -> None:
    s = launch(page, lms_server.url, standard, "iframe", None)
    s.sco.evaluate("SteunRuntime.show(1)")
    # the tab is killed now: no pagehide, no Terminate; the LMS keeps what was committed
    stored = committed(s.log())
    assert stored[EXIT[standard]] == "suspend"
    assert ELEMENTS[standard]["location"] in stored
    s.close()


@pytest.mark.parametrize("standard", STANDARDS)
def test_reflection_text_never_reaches_the_lms(
    page: Any, lms_server: LiveServer, standard: str
) -> None:
    s = launch(page, lms_server.url, standard, "iframe", None)
    s.sco.evaluate("SteunRuntime.show(5)")
    assert answer_current(s.sco)
    section = visible_section(s.sco)
    assert "niet naar de leeromgeving" in section.inner_text()
    s.close()
    sent = " ".join(str(e["args"]) for e in s.log())
    assert "Ik merk dat" not in sent
    assert "vaste begroeting" not in sent
    responses = [
        v
        for k, v in s.values().items()
        if k.endswith("response") and k.startswith("cmi.interactions.")
    ]
    assert responses and all(r.startswith("beantwoord") for r in responses), responses
    # the text comes back from this browser only, on the next visit
    s2 = launch(page, lms_server.url, standard, "iframe", prior_data(standard, s.values()))
    s2.sco.evaluate("SteunRuntime.show(5)")
    area = visible_section(s2.sco).locator("textarea")
    assert area.input_value().startswith("Ik merk dat")
    visible_section(s2.sco).get_by_role("button", name="Wis mijn antwoord uit deze browser").click()
    assert area.input_value() == ""
    s2.close()
    s3 = launch(page, lms_server.url, standard, "iframe", prior_data(standard, s2.values()))
    s3.sco.evaluate("SteunRuntime.show(5)")
    assert visible_section(s3.sco).locator("textarea").input_value() == ""
    assert s3.sco.evaluate("SteunRuntime.state.answers[1] !== null")  # still counts as answered
    s3.close()
