"""Wave windows in Europe/Amsterdam time: not yet open, open, late (flagged), closed (read-only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from steun_lti.plumbing.db import Database
from steun_lti.study.models import Answer, Attempt
from tests.steun_lti.study.conftest import set_clock, write_study
from tests.steun_lti.study.test_views import add_child, save, start


@pytest.fixture
def study_settings(settings: Any, tmp_path: Path) -> Any:
    waves = """
  - {id: t1, title: {nl: Een, en: One}, opens: "2027-02-08T07:00", closes: "2027-02-26T23:59",
     late_until: "2027-03-05T23:59", instruments: [demo-relationship]}
  - {id: t2, title: {nl: Twee, en: Two}, opens: "2027-03-08T07:00", closes: "2027-03-26T23:59",
     instruments: [demo-relationship]}
"""
    settings.study_file = write_study(tmp_path, waves)
    return settings


@pytest.mark.usefixtures("study_settings")
def test_windows_open_close_and_late_answers_are_flagged(
    client: FlaskClient, study_app: Flask, teacher: Callable[..., str], database: Database
) -> None:
    set_clock(study_app, datetime(2027, 2, 10, 12, 0, tzinfo=UTC))
    token = teacher()
    add_child(client, token)
    attempt = start(client, "A")
    assert save(client, token, attempt, "rel01", 2).status_code == 200
    # t2 is not open yet
    assert client.get("/study/wave/t2/A/demo-relationship").status_code == 409
    page = client.get("/study/wave/t2")
    assert "Deze meting gaat open op" in page.text
    # after closing, within late_until: allowed and flagged
    set_clock(study_app, datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
    assert save(client, token, attempt, "rel02", 2).status_code == 200
    with database.session() as session:
        rows = {a.item_id: a.late for a in session.scalars(select(Answer))}
        assert rows == {"rel01": False, "rel02": True}
        stored = session.get(Attempt, attempt)
        assert stored is not None and stored.late
    assert "te laat" in client.get("/study/wave/t1").text
    # after late_until: read-only
    set_clock(study_app, datetime(2027, 3, 6, 12, 0, tzinfo=UTC))
    assert save(client, token, attempt, "rel03", 2).status_code == 409
    assert client.get(f"/study/attempt/{attempt}").location.endswith("/review")
    review = client.get(f"/study/attempt/{attempt}/review")
    assert "Deze meting is gesloten." in review.text and "Inleveren" not in review.text
    form = client.post(
        f"/study/attempt/{attempt}/page/1",
        data={"rel03": "2", "action": "next", "csrf_token": token},
    )
    assert form.location.endswith("/review")
    # Amsterdam time: 2027-02-08T07:00 CET is 06:00 UTC
    set_clock(study_app, datetime(2027, 2, 8, 5, 59, tzinfo=UTC))
    assert "Deze meting gaat open op" in client.get("/study/wave/t1").text
