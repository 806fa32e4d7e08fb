"""What the teacher's views report to the LMS gradebook, per kind of link (AGS stubbed)."""

from __future__ import annotations

import html
import re
import sys
import types
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from tests.steun_lti.study.test_views import add_child, answer_all, save, start

LINEITEMS = "https://lms.example/ags/course-1/lineitems"


def finish_wave_one(client: FlaskClient, token: str) -> None:
    add_child(client, token)
    finish_wave_one_for_child(client, token, "A")


def finish_wave_one_for_child(client: FlaskClient, token: str, code: str) -> None:
    first = start(client, code)
    answer_all(client, token, first, "rel", 28, 4)
    assert client.post(f"/study/attempt/{first}/submit", data={"csrf_token": token}).status_code
    second = start(client, code, "demo-strengths")
    for i in range(1, 26):
        save(client, token, second, f"sd{i:02d}", 1)
    save(client, token, second, "imp1", 0)
    client.post(f"/study/attempt/{second}/submit", data={"csrf_token": token})


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    calls: list[tuple[Any, dict[str, Any]]] = []
    fake = types.ModuleType("steun_lti.lti.ags")
    fake.report_completion = lambda launch, **kw: calls.append((launch, kw))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "steun_lti.lti.ags", fake)
    return calls


def test_plain_link_reports_the_share_of_waves_done(
    client: FlaskClient, teacher: Callable[..., str], reported: list[Any]
) -> None:
    """A link placed by hand (no target, only ``lineitems``) stands for the whole study."""
    token = teacher(target=None, ags_lineitems=LINEITEMS)
    finish_wave_one(client, token)
    [(launch, kwargs)] = reported
    assert launch.target is None and launch.ags_lineitem is None
    assert kwargs == {"given": 1, "maximum": 3}


def test_wave_link_without_line_item_reports_that_wave(
    client: FlaskClient, teacher: Callable[..., str], reported: list[Any]
) -> None:
    token = teacher(target="wave:t1", ags_lineitems=LINEITEMS)
    finish_wave_one(client, token)
    [(launch, kwargs)] = reported
    assert launch.target == "wave:t1" and kwargs == {}


def test_other_wave_links_and_links_without_ags_report_nothing(
    client: FlaskClient, teacher: Callable[..., str], reported: list[Any]
) -> None:
    token = teacher(target="wave:t2", ags_lineitems=LINEITEMS)
    finish_wave_one(client, token)
    assert reported == []


def return_link(page: str) -> str | None:
    match = re.search(r'id="steun-return" href="([^"]+)"', page)
    return html.unescape(match.group(1)) if match else None


def test_finished_wave_offers_the_way_back_with_lti_msg(
    client: FlaskClient, teacher: Callable[..., str], reported: list[Any]
) -> None:
    token = teacher(target="wave:t1", return_url="https://lms.example/return?course=5")
    add_child(client, token)
    before = client.get("/study/wave/t1")
    assert before.status_code == 200 and return_link(before.text) is None  # not done yet
    finish_wave_one_for_child(client, token, "A")
    page = client.get("/study/wave/t1")
    link = return_link(page.text)
    assert link is not None and "Terug naar de leeromgeving" in page.text
    query = parse_qs(urlsplit(link).query)
    assert query["course"] == ["5"]
    assert query["lti_msg"] == [
        "Meting 1 (half februari): alle vragenlijsten zijn klaar. Dank je wel!"
    ]
    assert query["lti_log"] == ["wave t1 complete"]


def test_no_way_back_without_a_return_url(
    client: FlaskClient, teacher: Callable[..., str], reported: list[Any]
) -> None:
    token = teacher(target="wave:t1")
    finish_wave_one(client, token)
    assert return_link(client.get("/study/wave/t1").text) is None
