"""Fixtures of the study tests: an app on both databases, launches, captured domain events.

The launch is made by ``login`` (Flask client) or ``launch_url`` (browser): a test-only route
that calls :func:`steun_lti.lti.launch.remember`, exactly what the LTI layer does after it verified a
real launch. Swap it for the fake platform's launch at integration; nothing else changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, redirect, request
from flask.testing import FlaskClient

from steun_lti.app import create_app
from steun_lti.lti.launch import ROLE_LEARNER, ROLE_TEACHER, SESSION_KEY, LaunchContext, remember
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from steun_lti.records.events import Event, add_handler

TEACHER = "tch-" + "a" * 40
OTHER_TEACHER = "tch-" + "b" * 40


def launch_context(pseudonym: str = TEACHER, **overrides: Any) -> LaunchContext:
    data: dict[str, Any] = {
        "pseudonym": pseudonym,
        "context_pseudonym": "ctx-1",
        "roles": (ROLE_TEACHER,),
        "launch_id": "launch-" + pseudonym[-6:],
    }
    data.update(overrides)
    return LaunchContext(**data)


def launch_blueprint() -> Blueprint:
    """GET /_test/launch?p=...&target=...&role=... remembers a launch, as the LTI layer would."""
    bp = Blueprint("test_launch", __name__)

    @bp.get("/_test/launch")
    def launch() -> Any:
        role = request.args.get("role", ROLE_TEACHER)
        remember(
            launch_context(
                request.args.get("p", TEACHER),
                target=request.args.get("target"),
                roles=(role,),
                locale=request.args.get("locale", "nl"),
            )
        )
        return redirect("/study/")

    return bp


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def study_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def study_app(study_settings: Settings, database: Database, events: list[Event]) -> Iterator[Flask]:
    app = create_app(study_settings, database=database)
    app.config["TESTING"] = True
    add_handler(app, lambda _session, event: events.append(event))
    app.register_blueprint(launch_blueprint())
    yield app


@pytest.fixture
def client(study_app: Flask) -> FlaskClient:
    return study_app.test_client()


def login(client: FlaskClient, pseudonym: str = TEACHER, **overrides: Any) -> None:
    with client.session_transaction() as session:
        session[SESSION_KEY] = launch_context(pseudonym, **overrides).to_dict()


def csrf(client: FlaskClient) -> str:
    page = client.get("/study/consent")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


@pytest.fixture
def teacher(client: FlaskClient) -> Callable[..., str]:
    """Log in as a teacher who consented; returns their CSRF token."""

    def make(pseudonym: str = TEACHER, consent: bool = True, **overrides: Any) -> str:
        login(client, pseudonym, **overrides)
        token = csrf(client)
        if consent:
            response = client.post("/study/consent", data={"agree": "yes", "csrf_token": token})
            assert response.status_code == 302
        return token

    return make


def set_clock(app: Flask, moment: datetime) -> None:
    app.config["STEUN_CLOCK"] = lambda: moment


def learner_role() -> tuple[str, ...]:
    return (ROLE_LEARNER,)


def write_study(tmp_path: Path, waves: str, child_form: bool = True) -> Path:
    """A small study file with the given waves block (YAML text)."""
    path = tmp_path / "study.yaml"
    path.write_text(
        f"""
id: test-study
title: {{nl: Teststudie, en: Test study}}
consent: {{version: v1, letter: {{nl: "Brief", en: "Letter"}}}}
child_form: {{enabled: {str(child_form).lower()}}}
reasons:
  - {{id: poverty, label: {{nl: Armoede, en: Poverty}}}}
  - {{id: other, label: {{nl: Anders, en: Other}}}}
waves:
{waves}
""",
        encoding="utf-8",
    )
    return path
