"""Launches in headless Chromium, inside the LMS's iframe, with third-party cookies blocked.

The fake LMS is served as http://localhost:P and the tool as http://127.0.0.1:T: two sites, so
every cookie of the tool inside the iframe is a third-party cookie, and Chromium runs with
third-party cookies blocked. The launch must go through the LTI platform storage (postMessage
lti.put_data / lti.get_data); without it, the tool offers a new window.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from tests.steun_lti.lti.conftest import Tool, registered_tool
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.platform import FakePlatform, LaunchSpec

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def strict_browser(browser: Any) -> Iterator[Any]:
    """A second Chromium with third-party cookies blocked, on the session's Playwright."""
    chromium = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--test-third-party-cookie-phaseout",
            "--disable-site-isolation-trials",
        ],
    )
    yield chromium
    chromium.close()


@pytest.fixture
def cross_site_tool(settings: Settings, database_url: str) -> Iterator[Tool]:
    database = Database(database_url)
    from steun_lti.plumbing.migrations import upgrade

    upgrade(database)
    platform = FakePlatform(public_host="localhost").start()
    tool, server = registered_tool(settings, database, platform)
    yield tool
    server.stop()
    platform.stop()
    database.dispose()


@pytest.fixture
def lms_page(strict_browser: Any) -> Iterator[Any]:
    context = strict_browser.new_context(locale="nl-NL")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def test_iframe_launch_goes_through_platform_storage(cross_site_tool: Tool, lms_page: Any) -> None:
    platform = cross_site_tool.platform
    events: list[str] = []
    lms_page.on("request", lambda r: events.append(f"req {r.method} {r.url[:80]}"))
    lms_page.on("requestfinished", lambda r: events.append(f"done {r.url[:80]}"))
    lms_page.on("requestfailed", lambda r: events.append(f"FAIL {r.url[:80]} {r.failure}"))
    lms_page.on("console", lambda m: events.append(f"console {m.text}"))
    lms_page.on("framenavigated", lambda f: events.append(f"nav {f.name} {f.url[:80]}"))
    lms_page.goto(platform.course_url(LaunchSpec()))
    frame = lms_page.frame_locator("#tool")
    try:
        frame.locator("h1", has_text="Informatie en toestemming").wait_for()
    except Exception:
        raise AssertionError("\n".join(events)) from None
    assert frame.locator("h1").inner_text() == "Informatie en toestemming"
    tool_frame = lms_page.frame(name="tool")
    assert "lti_launch=" in tool_frame.url
    assert tool_frame.url.startswith(cross_site_tool.url + "/study/")
    # The tool really could not use cookies in the frame.
    cookies = lms_page.context.cookies(cross_site_tool.url)
    assert not [c for c in cookies if c["name"] == "steun_lti_browser"]
    # Forms carry the frame's key (added by the page's script): consent goes through, and the
    # next page loads through a one-time ticket, still inside the frame.
    frame.locator("#agree").check()
    frame.locator("form.card button[type=submit]").click()
    frame.locator("h1").filter(has_text="Mijn leerlingen").wait_for()
    assert "lti_launch=" in tool_frame.url
    # Issue 14: the frame's URL pasted elsewhere (another window: no key) opens nothing.
    other = lms_page.context.browser.new_context(locale="nl-NL")
    try:
        pasted = other.new_page()
        pasted.goto(tool_frame.url)
        pasted.locator("#steun-elsewhere h1").wait_for()
        assert "Mijn leerlingen" not in pasted.content()
    finally:
        other.close()


def test_without_platform_storage_the_tool_offers_a_new_window(
    cross_site_tool: Tool, lms_page: Any
) -> None:
    platform = cross_site_tool.platform
    lms_page.goto(platform.course_url(LaunchSpec(), storage=False))
    frame = lms_page.frame_locator("#tool")
    link = frame.get_by_role("link", name="Open Steun in een nieuw venster")
    link.wait_for()
    with lms_page.context.expect_page() as new_page_info:
        link.click()
    new_page = new_page_info.value
    new_page.locator("h1").wait_for()
    assert new_page.locator("h1").inner_text() == "Informatie en toestemming"
    assert new_page.url.startswith(cross_site_tool.url + "/study/")
