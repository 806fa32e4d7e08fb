"""The demo journey end to end: `steun demo` on free ports, walked in headless Chromium.

Admin places items by Deep Linking → teacher 1 launches a placed wave → (with the questionnaire
flow) consent, a child, one questionnaire page answered → the course plays in the SCORM player →
the researcher sees the statements and makes the export and report.
"""

from __future__ import annotations

import csv
import re
import time
from typing import Any

import pytest
import requests

from tests.demo.conftest import ROOT, DemoProcess, start_demo

pytestmark = [pytest.mark.slow]

# The questionnaire flow, once it is in this checkout (a file check: an editable install elsewhere
# could otherwise answer an import).
HAS_STUDY = (ROOT / "steun_lti" / "study" / "service.py").exists()


def test_prints_what_to_open_in_order_and_registers(demo: DemoProcess) -> None:
    out = demo.output
    assert "Open, in this order:" in out
    plan = out[out.index("Open, in this order:") :]
    order = [
        plan.index(f"{demo.lms}{path}") for path in ("/ ", "/cursus", "/cijfers", "/onderzoek")
    ]
    assert order == sorted(order), plan
    assert f"{demo.tool}/healthz" in out
    assert "Registered the demo LMS with the tool by LTI Dynamic Registration" in out
    assert f"Ready. Start at {demo.lms}/" in out
    # printed only once the LRS and the tool answer (they are probed before registering)
    assert out.index("Registered the demo LMS") < out.index("Open, in this order:")
    assert "course packages carry its package key" in out


def test_lms_page_is_labelled_as_a_local_demo(demo: DemoProcess) -> None:
    page = requests.get(demo.lms + "/", timeout=5).text
    assert "Lokale demo-leeromgeving — geen onderdeel van het product" in page
    assert "not part of the product" in page
    assert demo.lms in page  # the issuer it registered with
    state = (demo.data_dir / "demo_lms" / "state.json").stat()
    assert state.st_mode & 0o077 == 0  # owner-only, like every secret-bearing file


def test_lms_shows_what_the_tool_says_on_return(demo: DemoProcess) -> None:
    """Like a real LMS, the demo shows lti_msg / lti_errormsg from a tool's return link (escaped)."""
    page = requests.get(
        demo.lms + "/", params={"lti_msg": "Klaar <b>!", "lti_errormsg": "Mislukt"}, timeout=5
    ).text
    assert 'id="tool-message"' in page and "Klaar &lt;b&gt;!" in page
    assert 'id="tool-error"' in page and "Mislukt" in page


def answer_page(frame: Any) -> None:
    names = frame.eval_on_selector_all(
        "form#questionnaire input[type=radio]", "els => [...new Set(els.map(e => e.name))]"
    )
    for name in names:
        frame.locator(f'form#questionnaire input[type=radio][name="{name}"]').nth(1).check()


def statements(page: Any, demo: DemoProcess, wanted: str, seconds: float = 20) -> str:
    """Reload the researcher's view until the statement table holds ``wanted``."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(demo.lms + "/onderzoek")
        table = page.locator("#statements").inner_text()
        if re.search(wanted, table) or time.monotonic() > deadline:
            return str(table)
        page.wait_for_timeout(300)


@pytest.mark.browser
def test_the_journey_in_the_browser(demo: DemoProcess, page: Any) -> None:
    # 1. The admin places the questionnaires by Deep Linking.
    page.goto(demo.lms + "/")
    page.click("#launch-beheerder")
    tool = page.frame_locator("#tool")
    boxes = tool.locator("input[name=item]")
    boxes.first.wait_for(timeout=15_000)
    for i in range(boxes.count()):
        boxes.nth(i).check()
    tool.locator("#steun-place").click()
    page.locator("#placed-notice").wait_for(timeout=15_000)
    wave_one = page.locator('tr:has-text("meting 1") a[id^="launch-leerkracht-1-item"]')
    assert wave_one.count() == 1

    # 2. Teacher 1 launches the placed wave: a real LTI launch into the iframe.
    wave_one.click()
    tool.locator("body").wait_for(timeout=15_000)
    frame = page.frame(name="tool")
    assert frame is not None
    frame.wait_for_url(re.compile(re.escape(demo.tool)), timeout=15_000)

    if HAS_STUDY:
        # consent, one child, the first page of a questionnaire answered
        frame.locator("#agree").check(timeout=15_000)
        frame.locator("form:has(#agree) button[type=submit]").click()
        frame.wait_for_url(re.compile(r"/study/(?!consent)"), timeout=15_000)
        frame.goto(demo.tool + "/study/children")
        frame.locator("#add-child").wait_for(timeout=15_000)
        frame.locator("#add-child input[type=checkbox]").first.check()
        frame.locator("#add-child button[type=submit]").click()
        frame.locator("#child-A").wait_for(timeout=15_000)
        # every questionnaire of wave 1 for child A, page by page, then submitted
        first = True
        while True:
            frame.goto(demo.tool + "/study/wave/t1")
            start = frame.locator('a[href*="/study/wave/t1/A/"]')
            if start.count() == 0:
                break
            start.first.click()
            frame.wait_for_url(re.compile("/attempt/"), timeout=15_000)
            while frame.locator("form#questionnaire").count():
                answer_page(frame)
                if first:  # one answered page survives a fresh load: it was saved on the server
                    frame.wait_for_load_state("networkidle")  # the autosave requests
                    frame.goto(frame.url)
                    checked = frame.locator("form#questionnaire input[type=radio]:checked")
                    assert checked.count() > 0
                    first = False
                with frame.expect_navigation():
                    frame.locator("form#questionnaire button[value=next]").click()
            assert "/review" in frame.url
            with frame.expect_navigation():
                frame.locator("form[action*=submit] button[type=submit]").click()
        # the finished wave offers the way back; it leaves the iframe for the whole LMS window
        frame.goto(demo.tool + "/study/wave/t1")
        back = frame.locator("#steun-return")
        assert back.get_attribute("target") == "_top"
        assert "lti_msg=" in (back.get_attribute("href") or "")
        table = statements(page, demo, r"completed")
        assert "answered" in table, table
        assert "completed" in table, table
        # the wave's completion came back to the LMS gradebook over AGS
        page.goto(demo.lms + "/cijfers")
        wave_column = page.locator('section:has(h2:has-text("meting 1"))')
        assert "1 / 1" in wave_column.inner_text()
        assert "Completed" in wave_column.inner_text()
    else:
        table = statements(page, demo, r"launched")
        assert "launched" in table, table

    # 3. The course package plays in the SCORM player, its progress relayed to the LRS.
    if (demo.data_dir / "dist" / "scorm12" / "imsmanifest.xml").exists():
        page.goto(demo.lms + "/cursus/scorm12")
        course = page.frame_locator("#sco")
        course.locator("main").first.wait_for(timeout=15_000)
        page.wait_for_function("window.API && window.API.isInitialized()", timeout=15_000)
        table = statements(page, demo, r"/xapi/course/|initialized")
        assert "initialized" in table, table

    # 4. The researcher makes the export and the report.
    page.goto(demo.lms + "/onderzoek")
    page.click("#run-export")
    page.locator("#export-files").wait_for(timeout=60_000)
    files = page.locator("#export-files").inner_text()
    for name in ("long.csv", "wide.csv", "wide.sav", "codebook.md", "report.html"):
        assert name in files
        assert (demo.data_dir / "export" / name).stat().st_size > 0
    report = requests.get(demo.lms + "/export/report.html", timeout=5)
    assert report.status_code == 200
    assert "<html" in report.text.lower()
    # every file the page lists downloads (README stop 4), and so does every course zip (stop 2)
    for href in page.locator("#export-files a").evaluate_all("els => els.map(e => e.href)"):
        got = requests.get(href, timeout=10)
        assert got.status_code == 200 and got.content, href
    page.goto(demo.lms + "/cursus")
    zips = page.locator('a[href^="/zips/"]').evaluate_all("els => els.map(e => e.href)")
    assert len(zips) == 2
    for href in zips:
        got = requests.get(href, timeout=10)
        assert got.status_code == 200 and got.content[:2] == b"PK", href

    # 5. A fresh demo course: placed items and grades removed.
    page.goto(demo.lms + "/")
    page.click("#remove-placed")
    page.locator("#launch-leerkracht-1").wait_for()
    assert page.locator('a[id^="launch-leerkracht-1-item"]').count() == 0


def test_second_run_reuses_the_registration_and_seed_fills_the_export(demo: DemoProcess) -> None:
    """Ctrl-C, then `steun demo --seed` on the same data dir and ports."""
    out = demo.stop()
    assert demo.proc.returncode == 0, out
    second = start_demo(demo.env, "--seed")
    second.wait_ready(seconds=120)
    out = second.stop()
    assert second.proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert "already registered with the tool; reusing that registration" in out
    if HAS_STUDY:
        assert "Seeded 3 demo teachers" in out, out
        with (demo.data_dir / "export" / "wide.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        seeded = {row["pseudonym"] for row in rows}
        assert len(seeded) >= 3  # the seed teachers (and teacher 1 from the journey)
        assert {row["wave"] for row in rows} >= {"t1", "t2"}
        with (demo.data_dir / "export" / "long.csv").open(encoding="utf-8") as fh:
            days = {row["timestamp"][:10] for row in csv.DictReader(fh)}
        assert len(days) >= 6, days  # answered over weeks, as in a real study, not all at once
        # scored with the spec written from the instrument definitions
        assert any(row["demo_relationship_closeness"] for row in rows)
        assert (demo.data_dir / "export" / "scoring-spec.yaml").exists()
        report = (demo.data_dir / "export" / "report.html").read_text(encoding="utf-8")
        # the study's question answered on the seeded data: change before and after the course
        assert "zonder cursus / without (t1→t2)" in report, report[:2000]
        assert "met cursus / with (t2→t3)" in report
