"""The browser harness works: Debian's Chromium renders the tool's pages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import LiveServer


@pytest.mark.browser
def test_error_page_renders_in_chromium(page: Any, live_server: LiveServer) -> None:
    response = page.goto(f"{live_server.url}/does-not-exist")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Pagina niet gevonden"
    assert page.evaluate("document.documentElement.lang") == "nl"
