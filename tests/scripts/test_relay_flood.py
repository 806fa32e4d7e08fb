"""scripts/relay_flood.py replays issue 14's forged-records flood against a live tool: none gets
through, while the same tool takes a consenting teacher's keyed post (so the zero means something)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import requests
from sqlalchemy import func, select

from steun_lti.plumbing.db import Database
from steun_lti.plumbing.settings import Settings
from steun_lti.records.outbox import OutboxStatement
from tests.steun_lti.lti.conftest import Tool, registered_tool
from tests.support.course_channel import open_channel, signed
from tests.support.platform import FakePlatform

SCRIPT = Path(__file__).parents[2] / "scripts" / "relay_flood.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relay_flood", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tool(settings: Settings, database: Database) -> Iterator[Tool]:
    platform = FakePlatform().start()
    built, server = registered_tool(settings, database, platform)
    yield built
    server.stop()
    platform.stop()


def test_the_flood_stores_nothing(tool: Tool) -> None:
    flood = load_script()
    key = open_channel(tool.app, tool.platform.issuer, "teacher1")

    def rows() -> int:
        with tool.database.session() as session:
            return int(session.scalar(select(func.count()).select_from(OutboxStatement)) or 0)

    report = flood.flood(tool.url, 4, key, count=rows)
    assert len(report["variants"]) == 6
    assert report["accepted"] == 0 and report["stored"] == 0, report
    for answers in report["variants"].values():
        assert set(answers) <= {400, 403, 429}
    control = {**signed(key, "teacher1"), "course": "c", "event": "course_completed"}
    assert requests.post(tool.url + "/relay/course", json=control, timeout=10).status_code == 202
    assert rows() == 1
