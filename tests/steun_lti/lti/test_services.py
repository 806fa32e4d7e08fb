"""Deep Linking (signed response verified by the platform), AGS completion, no-AGS launches."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from steun_lti.lti.ags import report_completion
from steun_lti.lti.launch import LaunchContext
from steun_lti.lti.models import LtiLaunch
from tests.steun_lti.lti.conftest import CLIENT_ID, Tool, form_action, form_fields
from tests.support.platform import LEARNER, LaunchSpec

DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
DL_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"


def test_deep_linking_places_items_with_line_items(tool: Tool) -> None:
    response = tool.launch(LaunchSpec(message_type="LtiDeepLinkingRequest"))
    assert response.status_code == 303
    http = response.http
    page = http.get(tool.url + response.headers["Location"])
    assert page.status_code == 200 and "wave:t1" in page.text
    token = form_fields(page.text)["csrf_token"]
    answer = http.post(
        tool.url + "/lti/deep-link/",
        data={"item": ["dashboard", "wave:t1"], "csrf_token": token},
    )
    assert answer.status_code == 200
    action, fields = form_action(answer.text), form_fields(answer.text)
    assert action == tool.platform.issuer + "/deep_link_return"
    placed = http.post(action, data=fields)
    assert placed.status_code == 200, placed.text
    claims = tool.platform.deep_link_responses[-1]
    assert claims["iss"] == CLIENT_ID
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-course-1"
    items = claims[DL_ITEMS]
    assert [i["custom"]["target"] for i in items] == ["dashboard", "wave:t1"]
    assert all(i["url"] == tool.url + "/lti/launch" and "?" not in i["url"] for i in items)
    assert "lineItem" not in items[0]
    assert items[1]["lineItem"]["scoreMaximum"] == 1


def test_deep_linking_response_needs_the_pages_csrf_token(tool: Tool) -> None:
    """Issue 14: another site's form could make the tool sign and post a response for a teacher."""
    response = tool.launch(LaunchSpec(message_type="LtiDeepLinkingRequest"))
    http = response.http
    http.get(tool.url + response.headers["Location"])
    for token in (None, "", "0" * 40):
        data = {"item": ["dashboard"]} | ({"csrf_token": token} if token is not None else {})
        refused = http.post(tool.url + "/lti/deep-link/", data=data)
        assert refused.status_code == 400
        assert "JWT" not in refused.text and "deep_link_return" not in refused.text
    assert tool.platform.deep_link_responses == []


@pytest.mark.parametrize(
    "return_url",
    [
        "javascript:alert(document.domain)",
        "JavaScript:alert(1)//https://lms",
        "data:text/html,<script>alert(1)</script>",
        "https://evil.example/deep_link_return",
        "//evil.example/deep_link_return",
        "https://user@{host}/deep_link_return",
    ],
)
def test_deep_linking_return_url_must_be_the_platforms(tool: Tool, return_url: str) -> None:
    """Issue 14: a ``javascript:`` (or foreign) return URL was used as the form's action."""
    host = urlsplit(tool.platform.issuer).netloc
    settings = {
        "deep_link_return_url": return_url.format(host=host),
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe"],
    }
    spec = LaunchSpec(message_type="LtiDeepLinkingRequest", claims={DL_SETTINGS: settings})
    response = tool.launch(spec)
    assert response.status_code == 400 and "message_invalid" in response.text
    assert "deep_link_return_url" in response.text
    with tool.database.session() as session:
        assert session.scalars(select(LtiLaunch)).all() == []  # nothing stored
    assert tool.platform.deep_link_responses == []


def test_learner_cannot_deep_link(tool: Tool) -> None:
    response = tool.launch(LaunchSpec(message_type="LtiDeepLinkingRequest", roles=[LEARNER]))
    page = response.http.get(
        tool.url + response.headers["Location"], headers={"Accept": "text/html"}
    )
    assert page.status_code == 403


def _launch_context(tool: Tool) -> LaunchContext:
    with tool.database.session() as session:
        row = session.scalars(select(LtiLaunch).order_by(LtiLaunch.created_at.desc())).first()
        assert row is not None
        return LaunchContext.from_dict(row.context)


def test_completion_is_reported_as_score_one_of_one(tool: Tool) -> None:
    assert tool.launch(LaunchSpec(sub="teacher-9", custom={"target": "wave:t1"})).status_code == 303
    launch = _launch_context(tool)
    assert launch.target == "wave:t1"
    with tool.app.test_request_context():
        assert report_completion(launch) is True
    score = tool.platform.scores[-1]
    assert score["userId"] == "teacher-9"
    assert score["scoreGiven"] == 1 and score["scoreMaximum"] == 1
    assert score["activityProgress"] == "Completed"
    assert score["gradingProgress"] == "FullyGraded"
    assert score["lineitem"] == launch.ags_lineitem


def test_without_ags_completion_is_skipped_quietly(tool: Tool) -> None:
    assert tool.launch(LaunchSpec(ags=False)).status_code == 303
    launch = _launch_context(tool)
    with tool.app.test_request_context():
        assert report_completion(launch) is False
    assert tool.platform.scores == []
    with tool.database.session() as session:
        assert session.scalars(select(LtiLaunch.ags_subject)).all() == [None]


def test_platform_refusing_the_score_does_not_raise(tool: Tool) -> None:
    assert tool.launch(LaunchSpec()).status_code == 303
    launch = _launch_context(tool)
    tool.platform.lineitems.clear()  # the platform deleted the column
    with tool.app.test_request_context():
        assert report_completion(launch) is False
