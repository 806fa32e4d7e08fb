"""Every known-bad launch of 1EdTech's tool certification guide (and more) is refused with a 4xx page.

Each case makes a real login (state, nonce, browser cookie), then posts an id_token the fake platform
signed with the claims or header broken in one way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from tests.steun_lti.lti.conftest import CLIENT_ID, Tool
from tests.support.platform import CLAIM, LaunchSpec, new_key

Claims = dict[str, Any]


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    """Claim checks do not depend on the engine: SQLite only (replay runs on both, elsewhere)."""
    return f"sqlite:///{tmp_path / 'steun.sqlite3'}"


OTHER_KEY = new_key()


def start(tool: Tool, spec: LaunchSpec | None = None) -> tuple[requests.Session, str, Claims]:
    """Log in; return the browser, the state and the claims a good id_token would carry."""
    http = tool.browser()
    spec = spec or LaunchSpec()
    hint = tool.platform.prepare(spec)
    auth_url = tool.login(http, hint)
    query = parse_qs(urlsplit(auth_url).query)
    claims = tool.platform.claims_for(spec, query["nonce"][0])
    return http, query["state"][0], claims


def without(*names: str) -> Callable[[Claims], Claims]:
    def change(claims: Claims) -> Claims:
        for name in names:
            claims.pop(name, None)
        return claims

    return change


def with_(**values: Any) -> Callable[[Claims], Claims]:
    def change(claims: Claims) -> Claims:
        for name, value in values.items():
            claims[name.replace("__", "/") if not name.startswith("lti_") else CLAIM + name[4:]] = (
                value
            )
        return claims

    return change


def resource_link_without_id(claims: Claims) -> Claims:
    claims[CLAIM + "resource_link"] = {"title": "no id"}
    return claims


def shifted(iat: int, exp: int, nbf: int | None = None) -> Callable[[Claims], Claims]:
    def change(claims: Claims) -> Claims:
        t = int(time.time())
        claims["iat"] = t + iat
        claims["exp"] = t + exp
        if nbf is not None:
            claims["nbf"] = t + nbf
        return claims

    return change


CASES: list[tuple[str, Callable[[Claims], Claims], dict[str, Any], str]] = [
    ("no kid in header", lambda c: c, {"kid": None}, "token_invalid"),
    ("unknown kid", lambda c: c, {"kid": "nobody-knows"}, "token_invalid"),
    (
        "wrong signature",
        lambda c: c,
        {"key": OTHER_KEY, "kid": "default-platform"},
        "token_invalid",
    ),
    ("expired", shifted(-900, -120), {}, "token_expired"),
    ("issued in the future", shifted(300, 900), {}, "token_invalid"),
    ("not valid before", shifted(0, 300, nbf=600), {}, "token_invalid"),
    ("no exp", without("exp"), {}, "token_invalid"),
    ("no iat", without("iat"), {}, "token_invalid"),
    ("no nonce", without("nonce"), {}, "token_invalid"),
    ("other nonce", with_(nonce="not-ours"), {}, "state_invalid"),
    ("no iss", without("iss"), {}, "token_invalid"),
    ("unknown issuer", with_(iss="https://evil.example"), {}, "unknown_platform"),
    ("wrong audience", with_(aud="someone-else"), {}, "unknown_platform"),
    ("several audiences without azp", with_(aud=["other", CLIENT_ID]), {}, "token_invalid"),
    ("azp not an audience", with_(aud=["other", CLIENT_ID], azp="third"), {}, "token_invalid"),
    (
        "azp names another client",
        with_(aud=["other", CLIENT_ID], azp="other"),
        {},
        "unknown_platform",
    ),
    ("no message_type", without(CLAIM + "message_type"), {}, "message_invalid"),
    ("unknown message_type", with_(lti_message_type="LtiFancyRequest"), {}, "message_invalid"),
    (
        "unsupported message_type",
        with_(lti_message_type="DataPrivacyLaunchRequest"),
        {},
        "message_invalid",
    ),
    ("no LTI version", without(CLAIM + "version"), {}, "message_invalid"),
    ("wrong LTI version", with_(lti_version="1.2.0"), {}, "message_invalid"),
    ("no deployment_id", without(CLAIM + "deployment_id"), {}, "message_invalid"),
    ("no roles claim", without(CLAIM + "roles"), {}, "message_invalid"),
    ("no resource_link", without(CLAIM + "resource_link"), {}, "message_invalid"),
    ("resource_link without id", resource_link_without_id, {}, "message_invalid"),
    ("no sub", without("sub"), {}, "message_invalid"),
    ("empty sub", with_(sub=""), {}, "message_invalid"),
]


@pytest.mark.parametrize(
    ("change", "sign", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_known_bad_payload_is_refused(
    tool: Tool, change: Callable[[Claims], Claims], sign: dict[str, Any], code: str
) -> None:
    http, state, claims = start(tool)
    options = dict(sign)
    if options.get("kid") == "default-platform":
        options["kid"] = tool.platform.key.kid
    token = tool.platform.sign(change(claims), **options)
    response = tool.post_launch(http, {"id_token": token, "state": state})
    assert 400 <= response.status_code < 500, response.text[:500]
    assert code in response.text
    assert "Traceback" not in response.text
    assert "<h1>" in response.text


def test_deep_linking_request_without_settings_is_refused(tool: Tool) -> None:
    http, state, claims = start(tool, LaunchSpec(message_type="LtiDeepLinkingRequest"))
    claims.pop("https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings")
    response = tool.post_launch(http, {"id_token": tool.platform.sign(claims), "state": state})
    assert response.status_code == 400 and "message_invalid" in response.text


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_other_algorithms_are_refused(tool: Tool, alg: str) -> None:
    http, state, claims = start(tool)
    key = "secret-secret-secret-secret-secret!" if alg == "HS256" else None
    token = jwt.encode(claims, key, algorithm=alg, headers={"kid": tool.platform.key.kid})
    response = tool.post_launch(http, {"id_token": token, "state": state})
    assert response.status_code == 400 and "token_invalid" in response.text


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "x" * 5000])
def test_garbage_tokens_are_refused(tool: Tool, token: str) -> None:
    http, state, _claims = start(tool)
    response = tool.post_launch(http, {"id_token": token, "state": state})
    assert 400 <= response.status_code < 500


def test_small_clock_skew_is_tolerated(tool: Tool) -> None:
    http, state, claims = start(tool)
    token = tool.platform.sign(shifted(30, 330)(claims))  # iat 30 s in the future
    assert tool.post_launch(http, {"id_token": token, "state": state}).status_code == 303


def test_azp_selects_the_client_among_several_audiences(tool: Tool) -> None:
    http, state, claims = start(tool)
    claims.update(aud=["other", CLIENT_ID], azp=CLIENT_ID)
    response = tool.post_launch(http, {"id_token": tool.platform.sign(claims), "state": state})
    assert response.status_code == 303


@pytest.mark.parametrize("state", ["", "unknown", "x" * 500])
def test_unknown_state_is_refused(tool: Tool, state: str) -> None:
    http, _state, claims = start(tool)
    response = tool.post_launch(http, {"id_token": tool.platform.sign(claims), "state": state})
    assert response.status_code == 400 and "state_invalid" in response.text


def test_login_from_unknown_platform_is_refused(tool: Tool) -> None:
    response = requests.post(
        tool.url + "/lti/login",
        data={"iss": "https://unknown.example", "login_hint": "x", "target_link_uri": tool.url},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 400 and "unknown_platform" in response.text


def test_login_without_required_parameters_is_refused(tool: Tool) -> None:
    response = requests.post(tool.url + "/lti/login", data={"iss": tool.platform.issuer})
    assert response.status_code == 400
    assert "login_hint" in response.text and "target_link_uri" in response.text


def test_errors_before_verification_never_redirect_to_a_token_return_url(tool: Tool) -> None:
    """A forged token's return_url must not become an open redirect."""
    http, state, claims = start(tool)
    claims[CLAIM + "launch_presentation"] = {"return_url": "https://evil.example/phish"}
    token = tool.platform.sign(claims, key=OTHER_KEY, kid=tool.platform.key.kid)
    response = tool.post_launch(http, {"id_token": token, "state": state})
    assert response.status_code == 400 and "evil.example" not in response.text
