"""The real course (scorm_package/course/): a full SCORM 1.2 run and axe-core on every page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scorm_package.browser_lms import answer_current, answer_final, click_through, launch
from tests.scorm_package.test_accessibility import serious_violations
from tests.scorm_package.test_runtime_browser import assert_clean_session
from tests.support.browser import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IMPACTS = ("critical", "serious", "moderate")


def test_full_run_of_the_real_course_in_scorm12(page: Any, lms_server: LiveServer) -> None:
    s = launch(page, lms_server.url, "scorm12", "iframe", None, path="/real")
    click_through(s.sco)
    s.close()
    log = s.log()
    assert_clean_session(log, "scorm12")
    lengths = [
        len(e["args"][1])
        for e in log
        if e["fn"] == "LMSSetValue" and e["args"][0] == "cmi.suspend_data"
    ]
    assert max(lengths) <= 4096
    assert s.values()["cmi.core.lesson_status"] in ("passed", "completed")


@pytest.mark.parametrize("width", [375, 1280])
def test_no_serious_or_moderate_axe_violations_in_the_real_course(
    page: Any, lms_server: LiveServer, width: int
) -> None:
    """Every page of the real course at phone and desktop width, before and after answering:
    no critical, serious or moderate axe-core finding, and nothing wider than the screen."""
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{lms_server.url}/real/scorm2004/index.html")
    n_pages = len(page.evaluate("SteunRuntime.config.pages"))
    found = {}
    too_wide = []
    for i in range(n_pages):
        page.evaluate(f"SteunRuntime.show({i})")
        key = page.evaluate(f"SteunRuntime.config.pages[{i}].key")
        # answered first: the page then shows everything it can (feedback, model answers)
        if page.evaluate(f"SteunRuntime.config.pages[{i}].kind") == "final":
            answer_final(page, correct=False)
        else:
            answer_current(page, correct=False)
        if violations := serious_violations(page, IMPACTS):
            found[key] = violations
        wide = page.evaluate(
            """() => document.documentElement.scrollWidth > innerWidth + 1 || Array.from(
                document.querySelectorAll('section.page:not([hidden]) *')).some(el =>
                el.getClientRects().length && el.getBoundingClientRect().right > innerWidth + 1)"""
        )
        if wide:
            too_wide.append(key)
    assert found == {}
    assert too_wide == []
