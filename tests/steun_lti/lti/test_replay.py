"""Replay and browser binding, on SQLite and PostgreSQL (the state is consumed in the database)."""

from __future__ import annotations

import pytest

from tests.steun_lti.lti.conftest import Tool
from tests.steun_lti.lti.test_bad_payloads import start
from tests.support.platform import LaunchSpec


def test_replayed_id_token_is_refused(tool: Tool) -> None:
    http = tool.browser()
    fields = tool.authorize(tool.login(http, tool.platform.prepare(LaunchSpec())))
    assert tool.post_launch(http, fields).status_code == 303
    again = tool.post_launch(http, fields)
    assert again.status_code == 400 and "replay" in again.text


def test_id_token_replayed_with_a_fresh_state_is_refused(tool: Tool) -> None:
    http = tool.browser()
    fields = tool.authorize(tool.login(http, tool.platform.prepare(LaunchSpec())))
    assert tool.post_launch(http, fields).status_code == 303
    _http, fresh_state, _claims = start(tool)
    response = tool.post_launch(http, {"id_token": fields["id_token"], "state": fresh_state})
    assert response.status_code == 400  # the nonce belongs to the first login


def test_state_from_another_browser_is_refused(tool: Tool) -> None:
    victim = tool.browser()
    fields = tool.authorize(tool.login(victim, tool.platform.prepare(LaunchSpec())))
    attacker = tool.browser()
    response = tool.post_launch(attacker, fields)
    assert response.status_code == 400 and "state_invalid" in response.text
    assert tool.post_launch(victim, fields).status_code == 303


def test_logins_store_nothing_until_a_launch_verifies(tool: Tool) -> None:
    """Issue 14: every anonymous /lti/login added a state row. The state is now a signed token;
    only a launch the platform signed writes one row, which then refuses its replay."""
    from urllib.parse import parse_qs, urlsplit

    from sqlalchemy import func, select

    from steun_lti.lti.models import LtiLoginState

    def rows() -> int:
        with tool.database.session() as session:
            return int(session.scalar(select(func.count()).select_from(LtiLoginState)) or 0)

    http = tool.browser()
    params = tool.platform.login_params(tool.platform.prepare(LaunchSpec()))
    for n in range(30):  # a flood with the platform's real (public) issuer and client id
        flooded = http.post(
            tool.url + "/lti/login", data={**params, "login_hint": f"x{n}"}, allow_redirects=False
        )
        assert flooded.status_code in (200, 302)
    unknown = http.post(tool.url + "/lti/login", data={**params, "iss": "https://evil.example"})
    assert unknown.status_code == 400 and "unknown_platform" in unknown.text
    assert rows() == 0
    auth_url = tool.login(http, tool.platform.prepare(LaunchSpec()))
    state = parse_qs(urlsplit(auth_url).query)["state"][0]
    assert rows() == 0
    fields = tool.authorize(auth_url)
    assert fields["state"] == state
    forged = tool.post_launch(http, {**fields, "state": state[:-4] + "AAAA"})
    assert forged.status_code == 400 and "state_invalid" in forged.text
    assert rows() == 0
    assert tool.post_launch(http, fields).status_code == 303
    assert rows() == 1
    again = tool.post_launch(http, fields)
    assert again.status_code == 400 and "replay" in again.text
    assert rows() == 1


def test_an_old_state_is_refused(tool: Tool, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    from steun_lti.lti import flow

    http = tool.browser()
    fields = tool.authorize(tool.login(http, tool.platform.prepare(LaunchSpec())))
    monkeypatch.setattr(flow, "LOGIN_TTL", timedelta(seconds=-1))
    response = tool.post_launch(http, fields)
    assert response.status_code == 400 and "state_invalid" in response.text


def test_a_refused_launch_uses_up_its_state(tool: Tool) -> None:
    """The state is consumed with the launch record; a launch refused after its token verified
    (here: a deployment seen for the first time, created inactive) still uses it up."""
    from sqlalchemy import update

    from steun_lti.lti.models import LtiDeployment

    http = tool.browser()
    fields = tool.authorize(tool.login(http, tool.platform.prepare(LaunchSpec(deployment_id="d2"))))
    assert tool.post_launch(http, fields).status_code == 403
    with tool.database.session() as session:
        session.execute(update(LtiDeployment).values(active=True))
    again = tool.post_launch(http, fields)
    assert again.status_code == 400 and "replay" in again.text


def test_a_participants_launch_is_refused_when_replayed(tool: Tool) -> None:
    """A participant's launch also writes its `launched` record (a transaction on PostgreSQL,
    where a new teacher's launch is one statement): its replay is refused all the same."""
    from tests.steun_lti.lti.test_sessions import cookie_launch

    cookie_launch(tool, "teacher-replay", consent=True)
    http = tool.browser()
    fields = tool.authorize(
        tool.login(http, tool.platform.prepare(LaunchSpec(sub="teacher-replay")))
    )
    assert tool.post_launch(http, fields).status_code == 303
    again = tool.post_launch(http, fields)
    assert again.status_code == 400 and "replay" in again.text
