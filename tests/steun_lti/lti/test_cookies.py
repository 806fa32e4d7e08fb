"""Cookie attributes: SameSite=None; Secure; Partitioned behind HTTPS; proxies trusted only when set."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from steun_lti.app import create_app
from steun_lti.lti.registration import add_platform
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.settings import Settings

LOGIN = {
    "iss": "https://lms.example",
    "login_hint": "u",
    "target_link_uri": "https://steun.example/lti/launch",
    "client_id": "c",
}


def build(settings: Settings, tmp_path: Path, **overrides: object) -> Flask:
    database = Database(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    upgrade(database)
    with database.session() as session:
        add_platform(
            session,
            issuer="https://lms.example",
            client_id="c",
            auth_login_url="https://lms.example/auth",
            auth_token_url="https://lms.example/token",
            key_set_url="https://lms.example/jwks",
        )
    return create_app(settings.model_copy(update=overrides), database=database)


def test_behind_https_cookies_are_cross_site_capable(settings: Settings, tmp_path: Path) -> None:
    app = build(settings, tmp_path, base_url="https://steun.example")
    response = app.test_client().post("/lti/login", data=LOGIN)
    cookie = response.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/lti/"):
        assert attribute in cookie
    assert app.config["SESSION_COOKIE_SAMESITE"] == "None"
    assert app.config["SESSION_COOKIE_PARTITIONED"] is True


@pytest.mark.parametrize(("hops", "secure"), [(0, False), (1, True)])
def test_forwarded_proto_is_trusted_only_with_proxy_hops(
    settings: Settings, tmp_path: Path, hops: int, secure: bool
) -> None:
    app = build(settings, tmp_path, base_url="http://steun.internal", proxy_hops=hops)
    response = app.test_client().post(
        "/lti/login", data=LOGIN, headers={"X-Forwarded-Proto": "https"}
    )
    assert ("Partitioned" in response.headers["Set-Cookie"]) is secure
