"""The way back to the LMS (LTI 1.3 launch_presentation.return_url) on errors, real signed launches.

Only a verified token's return URL is ever used; a failing login or launch never borrows the one
of an earlier launch in the same browser.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from steun_lti.lti.launch import with_lti_params
from tests.steun_lti.lti.conftest import Tool
from tests.steun_lti.lti.test_bad_payloads import OTHER_KEY
from tests.support.platform import CLAIM, LEARNER, LaunchSpec


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'steun.sqlite3'}"


def return_link(page: str) -> str | None:
    match = re.search(r'<a id="steun-return"[^>]* href="([^"]+)"', page) or re.search(
        r'<a[^>]* id="steun-return" href="([^"]+)"', page
    )
    return html.unescape(match.group(1)) if match else None


def test_verified_launch_error_links_back_with_encoded_message(tool: Tool) -> None:
    back = "https://lms.example/mod/lti/return.php?course=7&id=12#section-3"
    response = tool.launch(LaunchSpec(deployment_id="new-copy", return_url=back))
    assert response.status_code == 403 and "nog niet geactiveerd" in response.text
    link = return_link(response.text)
    assert link is not None
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "lms.example",
        "/mod/lti/return.php",
    )
    assert parts.fragment == "section-3"  # parameters go before the fragment
    query = parse_qs(parts.query)
    assert query["course"] == ["7"] and query["id"] == ["12"]  # the platform's own are kept
    assert query["lti_errormsg"] == [
        "Steun is in deze leeromgeving geïnstalleerd, maar nog niet geactiveerd."
    ]
    assert query["lti_errorlog"][0].startswith("deployment_inactive: deployment 'new-copy'")
    assert "%C3%AF" in parts.query  # ï, UTF-8 percent-encoded
    # The page stays: no automatic redirect.
    assert "Location" not in response.headers


def test_english_first_page_sends_the_english_message(tool: Tool) -> None:
    http = tool.browser()
    spec = LaunchSpec(deployment_id="other", return_url="https://lms.example/back")
    fields = tool.authorize(tool.login(http, tool.platform.prepare(spec)))
    response = tool.post_launch(http, fields, **{"Accept-Language": "en"})
    link = return_link(response.text)
    assert link is not None
    assert parse_qs(urlsplit(link).query)["lti_errormsg"] == [
        "Steun is installed in this learning platform but not activated yet."
    ]


def test_failed_launch_never_borrows_an_earlier_launch_return_url(tool: Tool) -> None:
    http = tool.browser()
    first = tool.launch(LaunchSpec(return_url="https://lms.example/course-a"), http=http)
    assert first.status_code == 303
    spec = LaunchSpec()
    auth_url = tool.login(http, tool.platform.prepare(spec))  # the same browser logs in again
    query = parse_qs(urlsplit(auth_url).query)
    state, claims = query["state"][0], tool.platform.claims_for(spec, query["nonce"][0])
    claims[CLAIM + "launch_presentation"] = {"return_url": "https://evil.example/phish"}
    token = tool.platform.sign(claims, key=OTHER_KEY, kid=tool.platform.key.kid)
    response = tool.post_launch(http, {"id_token": token, "state": state})
    assert response.status_code == 400 and "token_invalid" in response.text
    assert return_link(response.text) is None
    assert "course-a" not in response.text and "evil.example" not in response.text


def test_error_in_the_tool_after_launch_links_back(tool: Tool) -> None:
    """A learner opening a page for the course's staff: 403, with the way back to the course."""
    response = tool.launch(LaunchSpec(roles=[LEARNER], return_url="https://lms.example/c/9"))
    assert response.status_code == 303
    page = response.http.get(tool.url + "/study/course", headers={"Accept": "text/html"})
    assert page.status_code == 403
    link = return_link(page.text)
    assert link is not None and link.startswith("https://lms.example/c/9?")
    query = parse_qs(urlsplit(link).query)
    assert query["lti_errormsg"] == ["Geen toegang / Forbidden"]
    assert query["lti_errorlog"] == ["HTTP 403 teacher.overview"]


def test_deep_link_refusal_links_back(tool: Tool) -> None:
    spec = LaunchSpec(
        message_type="LtiDeepLinkingRequest", roles=[LEARNER], return_url="https://lms.example/dl"
    )
    response = tool.launch(spec)
    page = response.http.get(
        tool.url + response.headers["Location"], headers={"Accept": "text/html"}
    )
    assert page.status_code == 403 and "role_not_allowed" in page.text
    link = return_link(page.text)
    assert link is not None
    assert parse_qs(urlsplit(link).query)["lti_errorlog"][0].startswith("role_not_allowed")


def test_without_return_url_no_link(tool: Tool) -> None:
    response = tool.launch(LaunchSpec(roles=[LEARNER]))
    page = response.http.get(tool.url + "/study/course", headers={"Accept": "text/html"})
    assert page.status_code == 403 and return_link(page.text) is None


def test_with_lti_params() -> None:
    url = with_lti_params(
        "https://lms.example/r?lti_msg=old&a=1",
        {"lti_msg": "Klaar.\n  Dank u wel!", "lti_log": "", "other": "x"},
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {"a": ["1"], "lti_msg": ["Klaar. Dank u wel!"]}
    long = with_lti_params("https://lms.example/r", {"lti_errormsg": "x" * 5000})
    assert len(parse_qs(urlsplit(long).query)["lti_errormsg"][0]) == 400
