"""Fixtures of the study tests: an app on both databases, launches, captured domain events.

The launch is made by ``login`` (Flask client) or ``launch_url`` (browser): a test-only route
that calls :func:`steun_lti.lti.launch.remember`, exactly what the LTI layer does after it verified a
real launch. Swap it for the fake platform's launch at integration; nothing else changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, current_app, redirect, request
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


TEST_ISSUER = "https://lms.test.example"
TEST_DEPLOYMENT = "dep-test"


def stored(app: Flask, launch: LaunchContext) -> LaunchContext:
    """The launch with a record behind it, as a verified launch has: every request re-checks it
    (issue 14), so a session without its record, deployment and registration is refused."""
    from sqlalchemy import select

    from steun_lti.lti import flow
    from steun_lti.lti.models import LtiLaunch, LtiRegistration
    from steun_lti.lti.registration import add_platform
    from steun_lti.plumbing.db import db_session

    with app.app_context():
        session = db_session()
        registration = session.scalars(
            select(LtiRegistration).where(LtiRegistration.issuer == TEST_ISSUER)
        ).first()
        if registration is None:
            registration = add_platform(
                session,
                issuer=TEST_ISSUER,
                client_id="test",
                auth_login_url=TEST_ISSUER + "/auth",
                auth_token_url=TEST_ISSUER + "/token",
                key_set_url=TEST_ISSUER + "/jwks",
                deployment_ids=(TEST_DEPLOYMENT,),
            )
        launch = replace(launch, registration_id=registration.id, deployment_id=TEST_DEPLOYMENT)
        if session.get(LtiLaunch, launch.launch_id) is None:
            flow.store_launch(
                session, launch, {}, registration_id=registration.id, sealed_subject=None
            )
            session.commit()
    return launch


def launch_blueprint() -> Blueprint:
    """GET /_test/launch?p=...&target=...&role=... remembers a launch, as the LTI layer would."""
    bp = Blueprint("test_launch", __name__)

    @bp.get("/_test/launch")
    def launch() -> Any:
        role = request.args.get("role", ROLE_TEACHER)
        remember(
            stored(
                current_app,
                launch_context(
                    request.args.get("p", TEACHER),
                    target=request.args.get("target"),
                    roles=(role,),
                    locale=request.args.get("locale", "nl"),
                    launch_id=flow_secret(),
                ),
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
    launch = stored(client.application, launch_context(pseudonym, **overrides))
    with client.session_transaction() as session:
        session[SESSION_KEY] = launch.to_dict()


def flow_secret() -> str:
    from steun_lti.lti.flow import new_secret

    return new_secret()


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
