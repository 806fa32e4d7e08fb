"""Dynamic Registration behind one-time invites (issue 9), manual registration and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from steun_lti.cli import main
from steun_lti.lti.models import LtiDeployment, LtiInvite, LtiRegistration
from steun_lti.lti.registration import create_invite, parse_duration
from steun_lti.plumbing import logmask
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from tests.steun_lti.lti.conftest import Tool, make_tool
from tests.support.platform import FakePlatform, LaunchSpec


@pytest.fixture
def bare_tool(settings: Settings, database: Database, platform: FakePlatform) -> Iterator[Tool]:
    """The tool in demo mode (http on loopback allowed), with no platform registered yet."""
    tool, server = make_tool(settings, database, platform, demo_mode=True)
    yield tool
    server.stop()


def invite(tool: Tool, **kwargs: Any) -> str:
    with tool.database.session() as session:
        _invite, token = create_invite(session, **kwargs)
    return f"{tool.url}/lti/register/{token}"


def register(tool: Tool, link: str) -> requests.Response:
    return requests.get(
        tool.platform.registration_url(link), headers={"Accept": "text/html"}, timeout=20
    )


def cli(settings: Settings, database: Database, *args: str) -> Any:
    settings = settings.model_copy(update={"database_url": database.url})
    return CliRunner().invoke(main, list(args), obj={"settings": settings})


def test_dynamic_registration_registers_then_needs_activation(
    bare_tool: Tool, settings: Settings, database: Database
) -> None:
    response = register(bare_tool, invite(bare_tool))
    assert response.status_code == 200, response.text[:800]
    assert "org.imsglobal.lti.close" in response.text
    assert "Nog één stap" in response.text
    platform = bare_tool.platform
    sent = platform.registrations[-1]
    tool_config = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool_config["domain"] == bare_tool.url.removeprefix("http://")  # host:port
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    with database.session() as session:
        registration = session.scalars(select(LtiRegistration)).one()
        assert registration.issuer == platform.issuer
        assert registration.created_via == "dynamic"
        assert registration.registered_from == "127.0.0.1"
        assert [d.active for d in registration.deployments] == [False]
    assert bare_tool.launch(LaunchSpec()).status_code == 403  # pending
    listing = cli(settings, database, "platform", "list")
    assert "PENDING" in listing.output
    row = registration.deployments[0].id
    assert cli(settings, database, "platform", "activate", str(row)).exit_code == 0
    assert bare_tool.launch(LaunchSpec()).status_code == 303


def test_invite_may_activate_right_away(bare_tool: Tool) -> None:
    assert register(bare_tool, invite(bare_tool, auto_activate=True)).status_code == 200
    assert bare_tool.launch(LaunchSpec()).status_code == 303


def test_used_invite_is_refused_without_outgoing_request(bare_tool: Tool) -> None:
    link = invite(bare_tool)
    assert register(bare_tool, link).status_code == 200
    bare_tool.platform.requests.clear()
    again = register(bare_tool, link)
    assert again.status_code == 403 and "invite_invalid" in again.text
    assert bare_tool.platform.requests == []


@pytest.mark.parametrize("link", ["/lti/register/not-an-invite", "/lti/register/", "/lti/register"])
def test_unknown_invite_is_refused_without_outgoing_request(bare_tool: Tool, link: str) -> None:
    response = register(bare_tool, bare_tool.url + link)
    assert response.status_code == 403 and "invite_invalid" in response.text
    assert bare_tool.platform.requests == []


def test_expired_invite_is_refused(bare_tool: Tool) -> None:
    from datetime import timedelta

    response = register(bare_tool, invite(bare_tool, expires_in=timedelta(seconds=-1)))
    assert response.status_code == 403
    assert bare_tool.platform.requests == []


def test_invite_for_another_host_is_refused(bare_tool: Tool) -> None:
    response = register(bare_tool, invite(bare_tool, for_host="lms.school.nl"))
    assert response.status_code == 400 and "lms.school.nl" in response.text
    assert bare_tool.platform.requests == []


def test_refused_registration_burns_the_invite(bare_tool: Tool, database: Database) -> None:
    """Issue 14: a refused attempt left the invite usable, so a leaked link could try again."""
    link = invite(bare_tool)
    bare_tool.platform.config_overrides = {"registration_endpoint": "http://localhost:1/register"}
    assert register(bare_tool, link).status_code == 400
    bare_tool.platform.config_overrides = {}
    bare_tool.platform.requests.clear()
    again = register(bare_tool, link)
    assert again.status_code == 403 and "invite_invalid" in again.text
    assert bare_tool.platform.requests == []  # refused before any outgoing request
    with database.session() as session:
        assert session.scalars(select(LtiRegistration)).all() == []  # nothing stored
        spent = session.scalars(select(LtiInvite)).one()
        assert spent.used_at is not None and spent.used_from == "refused"


def test_invite_tokens_never_reach_the_log(
    bare_tool: Tool, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14: the refusal's log line held the path, /lti/register/<token>, in clear."""
    link = invite(bare_tool)
    token = link.rsplit("/", 1)[1]
    bare_tool.platform.config_overrides = {"registration_endpoint": "http://localhost:1/register"}
    logmask.install(logging.getLogger())  # as create_app does for the handlers of a real server
    with caplog.at_level(logging.INFO):
        logmask.install(caplog.handler)
        assert register(bare_tool, link + "?registration_token=eyJh.eyJi.sig").status_code == 400
        assert register(bare_tool, link).status_code == 403
    text = caplog.text + "".join(caplog.handler.format(r) for r in caplog.records)
    assert "/lti/register/[masked]" in text
    assert token not in text and "eyJh.eyJi" not in text


def test_issuer_and_endpoint_on_another_host_are_refused(bare_tool: Tool) -> None:
    platform = bare_tool.platform
    port = platform.issuer.rsplit(":", 1)[1]
    platform.config_overrides = {"registration_endpoint": f"http://localhost:{port}/register"}
    response = register(bare_tool, invite(bare_tool))
    assert response.status_code == 400 and "same host" in response.text
    assert "POST /register" not in platform.requests


def test_configuration_redirect_is_not_followed(bare_tool: Tool) -> None:
    bare_tool.platform.config_redirect = "http://169.254.169.254/latest/meta-data/"
    response = register(bare_tool, invite(bare_tool))
    assert response.status_code == 400 and "redirect" in response.text


def test_private_address_is_refused_outside_demo_mode(
    settings: Settings, database: Database, platform: FakePlatform
) -> None:
    tool, server = make_tool(
        settings, database, platform, registration_allow_private_addresses=False
    )
    try:
        for config_url in (
            platform.openid_configuration_url,  # http on loopback, not in demo mode
            "https://127.0.0.1:9/.well-known/openid-configuration",
            "https://10.1.2.3/.well-known/openid-configuration",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/x",
        ):
            response = requests.get(  # a new invite each time: a refused attempt spends it
                invite(tool),
                params={"openid_configuration": config_url, "registration_token": "t"},
            )
            assert response.status_code == 400, config_url
            assert "registration_refused" in response.text
        assert platform.requests == []
    finally:
        server.stop()


def test_allow_list_of_lms_hosts(
    settings: Settings, database: Database, platform: FakePlatform
) -> None:
    tool, server = make_tool(
        settings, database, platform, demo_mode=True, registration_allowed_hosts="lms.school.nl"
    )
    try:
        response = register(tool, invite(tool))
        assert response.status_code == 400 and "allowed LMS hosts" in response.text
        assert platform.requests == []
    finally:
        server.stop()


def test_cli_manual_registration_invite_and_keys(settings: Settings, database: Database) -> None:
    added = cli(
        settings,
        database,
        "platform",
        "add",
        "--issuer", "https://moodle.school.nl",
        "--client-id", "abc123",
        "--auth-login-url", "https://moodle.school.nl/mod/lti/auth.php",
        "--auth-token-url", "https://moodle.school.nl/mod/lti/token.php",
        "--key-set-url", "https://moodle.school.nl/mod/lti/certs.php",
        "--deployment-id", "7",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listing = cli(settings, database, "platform", "list")
    assert "moodle.school.nl" in listing.output and "'7': active" in listing.output
    invited = cli(settings, database, "platform", "invite", "--for-host", "moodle.school.nl")
    assert invited.exit_code == 0
    assert "/lti/register/" in invited.output
    bad = cli(settings, database, "platform", "invite", "--expires", "soon")
    assert bad.exit_code == 2 and "Error:" in bad.output
    missing = cli(settings, database, "platform", "activate", "999")
    assert missing.exit_code == 2 and "no deployment #999" in missing.output
    bad_url = cli(
        settings, database, "platform", "add", "--issuer", "moodle", "--client-id", "x",
        "--auth-login-url", "a", "--auth-token-url", "b", "--key-set-url", "c",
    )  # fmt: skip
    assert bad_url.exit_code == 2 and "issuer must be an http(s) URL" in bad_url.output
    rotated = cli(settings, database, "keys", "rotate")
    assert rotated.exit_code == 0 and "New signing key" in rotated.output
    with database.session() as session:
        assert session.scalars(select(LtiDeployment)).one().active


def test_durations() -> None:
    assert parse_duration("30m").total_seconds() == 1800
    assert parse_duration("7d").days == 7
    assert parse_duration("2w").days == 14


def test_registration_connects_to_the_address_it_checked(
    bare_tool: Tool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is checked once, then used at the approved address only."""
    import socket
    import types

    from steun_lti.lti import http as lti_http

    real = socket.getaddrinfo
    name = "lms.rebind.test"

    def at_check(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == name else host, port, *args, **kwargs)

    def at_use(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        # A rebinding answer: an unroutable address (TEST-NET-1) instead of the checked one.
        return real("192.0.2.1" if host == name else host, port, *args, **kwargs)

    checking = types.SimpleNamespace(
        getaddrinfo=at_check, gaierror=socket.gaierror, IPPROTO_TCP=socket.IPPROTO_TCP
    )
    monkeypatch.setattr(lti_http, "socket", checking)
    monkeypatch.setattr(socket, "getaddrinfo", at_use)
    bare_tool.platform.public_host = name
    response = register(bare_tool, invite(bare_tool))
    assert response.status_code == 200, response.text[:800]
    assert "POST /register" in bare_tool.platform.requests


def test_registration_asks_moodle_for_the_scorm_learner_id(bare_tool: Tool) -> None:
    """Moodle's SCORM player reports the username: ask Moodle to send it in every launch."""
    from steun_lti.lti.identity import person_id, registration_custom_parameters

    platform = bare_tool.platform
    original = platform.openid_configuration

    def as_moodle() -> dict[str, Any]:
        config = original()
        config["https://purl.imsglobal.org/spec/lti-platform-configuration"][
            "product_family_code"
        ] = "moodle"
        return config

    platform.openid_configuration = as_moodle  # type: ignore[method-assign]
    assert register(bare_tool, invite(bare_tool)).status_code == 200
    sent = platform.registrations[-1]["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert sent["custom_parameters"] == {"scorm_learner_id": "$User.username"}
    # other platforms are not asked: their pseudonyms stay as they were
    assert registration_custom_parameters("canvas") == {}
    assert registration_custom_parameters(None) == {}
    assert person_id("42", {"scorm_learner_id": " jdv "}) == "jdv"
    assert person_id("42", {"scorm_learner_id": "$User.username"}) == "42"
    assert person_id("42", {"scorm_learner_id": "x" * 300}) == "42"
    assert person_id("42", {"scorm_learner_id": 7}) == "42"
