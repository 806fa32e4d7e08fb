"""WCAG 2.1 AA: axe-core on every page (before and after answering), keyboard use, phone width."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scorm_package.browser_lms import answer_current, answer_final
from tests.support.browser import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
IMPACTS = ("critical", "serious", "moderate")


def serious_violations(
    page: Any, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/vendor/axe/axe.min.js")
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


@pytest.mark.parametrize("width", [1280, 375])
def test_no_serious_axe_violations_on_any_page(
    page: Any, lms_server: LiveServer, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{lms_server.url}/scorm2004/index.html")
    n_pages = len(page.evaluate("SteunRuntime.config.pages"))
    found: dict[int, list[dict[str, Any]]] = {}
    for i in range(n_pages):
        page.evaluate(f"SteunRuntime.show({i})")
        if violations := serious_violations(page, IMPACTS):
            found[i] = violations
        kind = page.evaluate(f"SteunRuntime.config.pages[{i}].kind")
        answered = (
            answer_final(page, correct=False)
            if kind == "final"
            else answer_current(page, correct=False)
        )
        if (answered or kind == "final") and (violations := serious_violations(page, IMPACTS)):
            found[i] = violations
        # nothing wider than the screen (WCAG 1.4.10 reflow at 320 CSS px)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), i
    if width < 600:
        page.get_by_role("button", name="Inhoud").click()
        assert page.locator("#toc").is_visible()
        if violations := serious_violations(page, IMPACTS):
            found[-1] = violations
    assert found == {}


def test_keyboard_only_run(page: Any, lms_server: LiveServer) -> None:
    """Skip link first; start, answer and move on with the keyboard; focus lands on the new page title."""
    page.goto(f"{lms_server.url}/scorm12/index.html")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.get_by_role("button", name="Begin met de cursus").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.tagName") == "H1"
    assert page.evaluate("document.activeElement.textContent") == "Waar het om gaat"
    for _ in range(3):
        page.get_by_role("button", name="Volgende").focus()
        page.keyboard.press("Enter")
    # the choice exercise: arrow keys move between radio buttons, Enter submits the form
    first_radio = page.locator("section.page:not([hidden]) input[type=radio]").first
    first_radio.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    assert "Goed!" in page.locator("section.page:not([hidden]) [data-feedback-area]").inner_text()
    assert page.evaluate("SteunRuntime.state.answers[0].correct")


def test_phone_width_menu_opens_and_closes(page: Any, lms_server: LiveServer) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{lms_server.url}/scorm12/index.html")
    toggle = page.get_by_role("button", name="Inhoud")
    assert not page.locator("#toc").is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    page.get_by_role("link", name="Casus: Sem").click()
    assert not page.locator("#toc").is_visible()
    assert page.evaluate("SteunRuntime.current()") == 2
    assert page.locator("[data-module-progress='0']").inner_text() == "1 van 5"
