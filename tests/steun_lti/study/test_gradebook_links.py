"""What the teacher's views report to the LMS gradebook, per kind of link (AGS stubbed)."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.steun_lti.study.test_views import add_child, answer_all, save, start

LINEITEMS = "https://lms.example/ags/course-1/lineitems"


def finish_wave_one(client: FlaskClient, token: str) -> None:
    add_child(client, token)
    first = start(client, "A")
    answer_all(client, token, first, "rel", 28, 4)
    assert client.post(f"/study/attempt/{first}/submit", data={"csrf_token": token}).status_code
    second = start(client, "A", "demo-strengths")
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
