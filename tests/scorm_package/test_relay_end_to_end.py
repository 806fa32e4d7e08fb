"""The package as the tool hands it to one LMS (with that LMS's package key), run in Chromium,
reaches the tool's real relay endpoint; the same package without consent records nothing."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from werkzeug.middleware.shared_data import SharedDataMiddleware

from scorm_package.build import build
from steun_lti.plumbing.db import get_database
from steun_lti.records.course_channel import keyed_package
from steun_lti.records.statements import hmac_key
from tests.scorm_package.browser_lms import click_through, launch
from tests.scorm_package.conftest import MINI, _not_found
from tests.support.browser import LiveServer, serve_wsgi
from tests.support.course_channel import open_channel
from xapi.pseudonym import pseudonymise

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# started, 2 x (module started, completed), 5 exercises, 2 final-check questions, completed, terminated
EXPECTED = 1 + 4 + 5 + 2 + 1 + 1


def test_events_land_in_the_outbox_under_a_pseudonym(
    page: Any, app: Flask, live_server: LiveServer, node_modules: Path, tmp_path: Path
) -> None:
    issuer = "https://moodle.school.example"
    _, results = build(MINI, tmp_path, ("scorm2004",))  # the plain build, as in dist/
    kid, key = open_channel(app, issuer, "lms-user-42")
    keyed = keyed_package(results[0].path, f"{live_server.url}/relay/course", kid, key)
    folder = tmp_path / "scorm2004"
    with zipfile.ZipFile(io.BytesIO(keyed)) as zf:
        zf.extractall(folder)
    lms = serve_wsgi(
        SharedDataMiddleware(
            _not_found,
            {
                "/scorm2004": str(folder),
                "/vendor/scorm-again": str(node_modules / "scorm-again" / "dist"),
            },
        )
    )
    try:
        prior = {"cmi": {"entry": "ab-initio", "learner_id": "lms-user-42"}}
        s = launch(page, lms.url, "scorm2004", "iframe", prior)
        click_through(s.sco)
        s.close()
    finally:
        lms.stop()
    with app.app_context():
        engine = get_database().engine

    def rows() -> list[Any]:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT * FROM xapi_outbox")).mappings().all())

    # keepalive requests outlive the frame; wait (bounded) until the last events have arrived
    deadline = time.monotonic() + 10
    while len(rows()) < EXPECTED and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    found = rows()
    assert len(found) == EXPECTED
    dumped = " ".join(str(dict(r)) for r in found)
    assert "lms-user-42" not in dumped
    assert "course/mini-cursus" in dumped
    # The key names the LMS's registration: the course pseudonym is the one an LTI launch of the
    # same user gets, so course progress joins the questionnaire data.
    with app.app_context():
        expected = pseudonymise(hmac_key(app.config["STEUN_SETTINGS"]), issuer, "lms-user-42")
    assert expected in dumped
