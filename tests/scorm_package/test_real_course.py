"""The real course (scorm_package/course/): a full SCORM 1.2 run and axe-core on every page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scorm_package.browser_lms import click_through, launch
from tests.scorm_package.test_accessibility import serious_violations
from tests.scorm_package.test_runtime_browser import assert_clean_session
from tests.support.browser import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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


def test_no_serious_axe_violations_in_the_real_course(page: Any, lms_server: LiveServer) -> None:
    page.goto(f"{lms_server.url}/real/scorm2004/index.html")
    n_pages = len(page.evaluate("SteunRuntime.config.pages"))
    found = {}
    for i in range(n_pages):
        page.evaluate(f"SteunRuntime.show({i})")
        if violations := serious_violations(page):
            found[page.evaluate(f"SteunRuntime.config.pages[{i}].key")] = violations
    assert found == {}
