"""Replay and browser binding, on SQLite and PostgreSQL (the state is consumed in the database)."""

from __future__ import annotations

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
