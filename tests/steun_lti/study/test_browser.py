"""End to end in headless Chromium: consent, two pupils, half a questionnaire, resume elsewhere,
finish, the dashboard changes; child mode behind its consent gate; axe-core on every page.

The launch is the ``launch_url`` fixture (a test route that does what the LTI layer does after
verifying a launch); at integration it can be swapped for a launch from the fake platform.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from steun_lti.app import create_app
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.settings import Settings
from tests.steun_lti.study.conftest import TEACHER, launch_blueprint
from tests.support.browser import LiveServer, serve_wsgi

pytestmark = [pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SAVE = "/answer"


@pytest.fixture
def browser_app(settings: Settings, tmp_path: Path) -> Iterator[Flask]:
    db = Database(f"sqlite:///{tmp_path / 'browser.sqlite3'}")
    upgrade(db)
    app = create_app(settings, database=db)
    app.register_blueprint(launch_blueprint())
    yield app
    db.dispose()


@pytest.fixture
def server(browser_app: Flask) -> Iterator[LiveServer]:
    live = serve_wsgi(browser_app)
    yield live
    live.stop()


@pytest.fixture
def launch_url(server: LiveServer) -> Callable[..., str]:
    """Where a browser goes to be launched as a teacher (swap for the fake platform later)."""

    def make(pseudonym: str = TEACHER, target: str | None = None) -> str:
        url = f"{server.url}/_test/launch?p={pseudonym}"
        return url + (f"&target={target}" if target else "")

    return make


def check_accessibility(page: Any, what: str) -> None:
    """axe-core in the page: no serious or critical WCAG 2.1 A/AA violations."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci installs it from package.json)")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations
             .filter(v => v.impact === 'serious' || v.impact === 'critical')
             .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    assert violations == [], f"{what}: {json.dumps(violations, indent=1)}"


def answer(page: Any, item: str, value: int) -> None:
    """Tick an option and wait until the server confirmed the save."""
    with page.expect_response(lambda r: SAVE in r.url and r.request.method == "POST") as info:
        page.locator(f'#item-{item} input[value="{value}"]').check()
    assert info.value.ok
    page.locator(f"#item-{item} .save-state", has_text="✓").wait_for()


def test_teacher_flow_with_resume_on_another_device(
    browser: Any, launch_url: Callable[..., str]
) -> None:
    context = browser.new_context(locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(15000)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url + " " + (r.post_data or "")))

    # consent first
    page.goto(launch_url())
    assert page.url.endswith("/study/consent")
    check_accessibility(page, "consent")
    page.get_by_role("button", name="Meedoen").click()
    page.get_by_role("alert").wait_for()
    page.get_by_label("Ik heb de informatiebrief gelezen").check()
    page.get_by_role("button", name="Meedoen").click()

    # two pupils, with reasons; a private label stays in the browser
    assert page.url.endswith("/study/children")
    page.get_by_label("Armoede of geldzorgen thuis").check()
    page.get_by_label("Korte toelichting").fill("Vaak moe in de ochtend")
    page.get_by_role("button", name="Leerling toevoegen").click()
    page.get_by_role("heading", name="Leerling A").wait_for()
    page.get_by_label("Verlies of ingrijpende gebeurtenis").check()
    page.get_by_role("button", name="Leerling toevoegen").click()
    page.get_by_role("heading", name="Leerling B").wait_for()
    page.locator('[data-label-input="A"]').fill("Sanne uit de hoek")
    check_accessibility(page, "my pupils")
    page.reload()
    assert page.locator('[data-label-input="A"]').input_value() == "Sanne uit de hoek"

    # the dashboard: four questionnaires to do
    page.get_by_role("link", name="Naar de vragenlijsten").click()
    page.get_by_text("Nog 4 vragenlijsten te doen in deze meting.").wait_for()
    page.wait_for_function(
        "document.querySelector('#status-A').innerText.includes('Sanne uit de hoek')"
    )
    check_accessibility(page, "dashboard")
    page.get_by_role(
        "link", name="Beginnen – Relatie tussen leerkracht en kind (demo), Leerling A"
    ).click()

    # page 1 and 2 answered and sent on; two answers on page 3 saved only by the script
    assert "/page/1" in page.url
    check_accessibility(page, "questionnaire page")
    for n in range(1, 8):
        answer(page, f"rel{n:02d}", 4)
    assert page.locator("#progress").get_attribute("value") == "7"
    page.get_by_role("button", name="Volgende").click()
    page.wait_for_url("**/page/2")
    for n in range(8, 15):
        answer(page, f"rel{n:02d}", 2)
    page.get_by_role("button", name="Volgende").click()
    page.wait_for_url("**/page/3")
    answer(page, "rel15", 5)
    answer(page, "rel16", 1)
    context.close()  # the tab is gone, mid-page

    # another device: launch again, resume exactly at item 17 on page 3
    other = browser.new_context(locale="nl-NL")
    page = other.new_page()
    page.set_default_timeout(15000)
    page.on("request", lambda r: sent.append(r.url + " " + (r.post_data or "")))
    page.goto(launch_url())
    assert "/study/wave/t1" in page.url
    page.get_by_text("16 van 28 beantwoord").wait_for()
    page.get_by_role(
        "link", name="Verder – Relatie tussen leerkracht en kind (demo), Leerling A"
    ).click()
    page.wait_for_url("**/page/3#item-rel17")
    assert page.locator('#item-rel15 input[value="5"]').is_checked()
    assert page.locator('#item-rel16 input[value="1"]').is_checked()
    page.wait_for_function("document.activeElement && document.activeElement.name === 'rel17'")
    # the private label is of the other browser only
    assert page.locator(".private-label").first.inner_text() == ""

    # a lost connection loses nothing: the answer waits in the page and is sent when back online
    other.set_offline(True)
    page.locator('#item-rel17 input[value="3"]').check()
    page.locator("#item-rel17 .save-state.failed").wait_for()
    with page.expect_response(lambda r: SAVE in r.url and r.ok):
        other.set_offline(False)
    page.locator("#item-rel17 .save-state", has_text="✓").wait_for()

    # validation: "Volgende" with open questions lists them
    page.get_by_role("button", name="Volgende").click()
    page.locator("#error-summary").wait_for()
    assert page.locator("#error-summary li").count() == 4
    # answering one of them clears its message and its line in the summary (issue 17)
    answer(page, "rel18", 2)
    page.wait_for_function("document.querySelectorAll('#error-summary li').length === 3")
    assert page.locator("#err-rel18").count() == 0
    assert "has-error" not in (page.locator("#item-rel18").get_attribute("class") or "")
    # a 5-point scale stays on one row in a page as wide as an LMS iframe (it wrapped 4 + 1)
    page.set_viewport_size({"width": 1100, "height": 900})
    tops = page.locator("#item-rel19 .option").evaluate_all(
        "els => els.map(e => Math.round(e.getBoundingClientRect().top))"
    )
    assert len(tops) == 5 and len(set(tops)) == 1, tops
    for n in range(18, 22):
        answer(page, f"rel{n:02d}", 3)
    page.get_by_role("button", name="Volgende").click()
    page.wait_for_url("**/page/4")
    for n in range(22, 29):
        answer(page, f"rel{n:02d}", 3)
    page.get_by_role("button", name="Antwoorden nakijken").click()
    page.wait_for_url("**/review")
    check_accessibility(page, "review")
    page.get_by_role("button", name="Inleveren").click()

    # the dashboard changed
    page.get_by_text("Dank je wel. De vragenlijst is ingeleverd.").wait_for()
    page.get_by_text("Nog 3 vragenlijsten te doen in deze meting.").wait_for()
    assert (
        "Klaar" in page.locator('#status-A ~ ul [data-instrument="demo-relationship"]').inner_text()
    )

    # nothing the teacher typed as a label ever left the browser
    assert not [s for s in sent if "Sanne" in s]
    other.close()


def test_child_mode_is_behind_its_consent_gate(
    browser: Any, launch_url: Callable[..., str]
) -> None:
    context = browser.new_context(locale="nl-NL")
    context.add_init_script(
        """window.__spoken = [];
        if (window.speechSynthesis) {
          window.speechSynthesis.speak = function (u) { window.__spoken.push({text: u.text, lang: u.lang}); };
        }"""
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(launch_url())
    page.get_by_label("Ik heb de informatiebrief gelezen").check()
    page.get_by_role("button", name="Meedoen").click()
    page.get_by_label("Een andere reden").check()
    page.get_by_role("button", name="Leerling toevoegen").click()
    page.get_by_role("link", name="Naar de vragenlijsten").click()

    # no child mode link before the parents' consent is confirmed
    assert page.get_by_role("link", name="Kindmodus openen").count() == 0
    page.get_by_role("link", name="Toestemming bevestigen – Leerling A").click()
    assert "/parental-consent" in page.url
    check_accessibility(page, "parental consent")
    page.get_by_role("button", name="Bevestigen").click()
    page.get_by_role("alert").wait_for()
    page.get_by_label("Ik bevestig dat de ouders of verzorgers").check()
    page.get_by_role("button", name="Bevestigen").click()

    # child mode: one question per screen, big faces, read aloud in Dutch
    page.wait_for_url("**/q/1")
    check_accessibility(page, "child mode")
    faces = page.locator(".face-option")
    assert faces.count() == 5
    box = faces.first.bounding_box()
    assert box is not None and box["height"] >= 100 and box["width"] >= 100
    page.get_by_role("button", name="Voorlezen").click()
    spoken = page.evaluate("window.__spoken")
    assert spoken[0]["lang"] == "nl-NL"
    assert spoken[0]["text"].startswith("Hoe vind je het om naar school te gaan?")
    for n in range(1, 7):
        with page.expect_response(lambda r: SAVE in r.url) as info:
            page.get_by_label("Fijn", exact=True).check()
        assert info.value.ok
        page.get_by_role("button", name="Volgende").click()
        page.wait_for_url(f"**/q/{n + 1}" if n < 6 else "**/finish")
    page.get_by_role("button", name="Klaar").click()
    page.get_by_role("heading", name="Dank je wel!").wait_for()
    # the child's last page leads nowhere: the device stays locked to child mode (issue 14)
    assert page.get_by_role("link").count() == 0
    assert "open Steun opnieuw" in page.locator(".teacher-only").inner_text()
    page.goto(page.url.split("/study/")[0] + "/study/")
    page.get_by_role("heading", name="Deze pagina is voor de leerkracht").wait_for()
    context.close()
