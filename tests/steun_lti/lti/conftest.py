"""Fixtures of the LTI tests: a fake platform and the tool served over real HTTP."""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from steun_lti.app import create_app
from steun_lti.lti.registration import add_platform
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from tests.support.browser import LiveServer
from tests.support.platform import FakePlatform, LaunchSpec, ToolRegistration

CLIENT_ID = "steun-client"
DEPLOYMENT_ID = "dep-1"


@pytest.fixture
def platform() -> Iterator[FakePlatform]:
    fake = FakePlatform().start()
    yield fake
    fake.stop()


def form_fields(page: str) -> dict[str, str]:
    return {
        html.unescape(m.group(1)): html.unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def form_action(page: str) -> str:
    match = re.search(r'<form[^>]*action="([^"]+)"', page)
    assert match, page[:500]
    return html.unescape(match.group(1))


def serve_wsgi(app: Flask) -> LiveServer:
    """Like tests.support.browser.serve_wsgi, with a short poll so teardown is quick."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return LiveServer(server, thread)


@dataclass
class Tool:
    app: Flask
    server: LiveServer
    database: Database
    platform: FakePlatform

    @property
    def url(self) -> str:
        return self.server.url

    def browser(self) -> requests.Session:
        return requests.Session()

    def login(
        self, http: requests.Session, hint: str, *, method: str = "POST", **params: str
    ) -> str:
        """Send the platform's login initiation; return the auth URL the tool redirects to."""
        data = {**self.platform.login_params(hint), **params}
        if method == "POST":
            response = http.post(self.url + "/lti/login", data=data, allow_redirects=False)
        else:
            response = http.get(self.url + "/lti/login", params=data, allow_redirects=False)
        if response.status_code == 302:
            return response.headers["Location"]
        assert response.status_code == 200, response.text[:500]
        match = re.search(
            r'<script type="application/json" id="steun-login-data">(.*?)</script>', response.text
        )
        assert match, response.text[:500]
        auth_url: str = json.loads(match.group(1))["auth_url"]
        return auth_url

    def authorize(self, auth_url: str) -> dict[str, str]:
        """What the platform posts back: id_token and state."""
        response = requests.get(auth_url, timeout=10)
        assert response.status_code == 200, response.text[:500]
        return form_fields(response.text)

    def post_launch(self, http: requests.Session, fields: dict[str, str], **headers: str) -> Any:
        return http.post(
            self.url + "/lti/launch",
            data=fields,
            allow_redirects=False,
            headers={"Accept": "text/html", **headers},
        )

    def launch(self, spec: LaunchSpec | None = None, http: requests.Session | None = None) -> Any:
        http = http or self.browser()
        hint = self.platform.prepare(spec)
        fields = self.authorize(self.login(http, hint))
        response = self.post_launch(http, fields)
        response.http = http  # type: ignore[attr-defined]
        return response


def make_tool(
    settings: Settings, database: Database, platform: FakePlatform, **overrides: Any
) -> tuple[Tool, Any]:
    # The fake platform is on 127.0.0.1: allowed as a test setting, like a school's closed network.
    overrides.setdefault("registration_allow_private_addresses", True)
    app = create_app(settings.model_copy(update=overrides), database=database)
    app.config["TESTING"] = True
    server = serve_wsgi(app)
    app.config["STEUN_SETTINGS"] = app.config["STEUN_SETTINGS"].model_copy(
        update={"base_url": server.url}
    )
    return Tool(app, server, database, platform), server


@pytest.fixture
def tool(settings: Settings, database: Database, platform: FakePlatform) -> Iterator[Tool]:
    """The tool on a live server, with the fake platform registered and its deployment active."""
    built, server = registered_tool(settings, database, platform)
    yield built
    server.stop()


def registered_tool(
    settings: Settings, database: Database, platform: FakePlatform, **overrides: Any
) -> tuple[Tool, Any]:
    built, server = make_tool(settings, database, platform, **overrides)
    with database.session() as session:
        add_platform(
            session,
            issuer=platform.issuer,
            client_id=CLIENT_ID,
            auth_login_url=platform.auth_url,
            auth_token_url=platform.token_url,
            key_set_url=platform.jwks_url,
            deployment_ids=(DEPLOYMENT_ID,),
        )
    platform.register_tool(
        ToolRegistration(
            client_id=CLIENT_ID,
            deployment_id=DEPLOYMENT_ID,
            login_url=server.url + "/lti/login",
            redirect_uris=[server.url + "/lti/launch"],
            jwks_url=server.url + "/lti/jwks.json",
            target_link_uri=server.url + "/lti/launch",
        )
    )
    return built, server
