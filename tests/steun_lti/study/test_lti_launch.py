"""A real launch from the fake platform (signed JWTs over HTTP) into the study, through to AGS.

A deep-linked item (``wave:t1``) opens the study; completing the wave reports score 1/1 to the
platform's gradebook; with the launch carried in the URL (no third-party cookies) every link and
form keeps it.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.steun_lti.lti.conftest import Tool, platform, tool  # noqa: F401  (fixtures)
from tests.support.platform import LaunchSpec

LAUNCH_PARAM = "lti_launch"


def token_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def test_a_deep_linked_wave_runs_from_launch_to_gradebook(tool: Tool) -> None:  # noqa: F811
    response = tool.launch(LaunchSpec(sub="teacher-5", custom={"target": "wave:t1"}))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/study/")
    http: requests.Session = response.http
    page = http.get(tool.url + response.headers["Location"])
    assert page.url.endswith("/study/consent") and "Informatie en toestemming" in page.text
    token = token_of(page.text)
    assert http.post(tool.url + "/study/consent", data={"agree": "yes", "csrf_token": token}).ok
    added = http.post(
        tool.url + "/study/children", data={"reasons": ["poverty"], "csrf_token": token}
    )
    assert "Leerling A" in added.text
    assert http.get(tool.url + "/study/").url.endswith("/study/wave/t1")
    headers = {"X-CSRF-Token": token}
    for instrument, items in (
        ("demo-relationship", [f"rel{n:02d}" for n in range(1, 29)]),
        ("demo-strengths", [*(f"sd{n:02d}" for n in range(1, 26)), "imp1"]),
    ):
        opened = http.get(f"{tool.url}/study/wave/t1/A/{instrument}")
        attempt = re.search(r"/study/attempt/(\d+)/", opened.url)
        assert attempt, opened.url
        for item in items:
            saved = http.post(
                f"{tool.url}/study/attempt/{attempt.group(1)}/answer",
                json={"item": item, "value": 0 if item == "imp1" else 1},
                headers=headers,
            )
            assert saved.status_code == 200, saved.text
        assert tool.platform.scores == []
        http.post(f"{tool.url}/study/attempt/{attempt.group(1)}/submit", data={"csrf_token": token})
    score: dict[str, Any] = tool.platform.scores[-1]
    assert score["userId"] == "teacher-5"
    assert (score["scoreGiven"], score["activityProgress"]) == (1, "Completed")


def test_links_keep_the_launch_when_it_travels_in_the_url(tool: Tool) -> None:  # noqa: F811
    from tests.steun_lti.lti.test_sessions import resume, url_launch

    launch = url_launch(tool, "teacher-6")  # a frame that keeps no cookie (platform storage)
    launch_id = launch["launch_id"]
    cookieless = requests.Session()
    ticket = resume(tool, launch, f"/study/consent?{LAUNCH_PARAM}={launch_id}")
    page = cookieless.get(tool.url + ticket.headers["Location"])
    assert page.status_code == 200
    assert f'action="/study/consent?{LAUNCH_PARAM}={launch_id}"' in page.text
    token = token_of(page.text)
    done = cookieless.post(
        f"{tool.url}/study/consent?{LAUNCH_PARAM}={launch_id}",
        data={"agree": "yes", "csrf_token": token, "lti_launch_key": launch["key"]},
        allow_redirects=False,
    )
    assert done.status_code in (302, 303)
    assert f"{LAUNCH_PARAM}={launch_id}" in done.headers["Location"]
    assert not cookieless.cookies  # nothing travelled in a cookie


def _launch_id(tool: Tool) -> str:  # noqa: F811
    from sqlalchemy import select

    from steun_lti.lti.models import LtiLaunch

    with tool.database.session() as session:
        row = session.scalars(select(LtiLaunch).order_by(LtiLaunch.created_at.desc())).first()
        assert row is not None
        return str(row.id)
