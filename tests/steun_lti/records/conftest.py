from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from steun_lti.app import create_app
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.settings import Settings
from tests.support.fake_lrs import FakeLrs, fake_lrs_fixture


@pytest.fixture
def fake_lrs() -> Iterator[FakeLrs]:
    yield from fake_lrs_fixture()


@pytest.fixture
def lrs_settings(tmp_path: Path, fake_lrs: FakeLrs, settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "lrs": settings.lrs.model_copy(
                update={"endpoint": fake_lrs.endpoint, "key": "k", "timeout": 2.0}
            ),
            "hmac_key": None,
        }
    )


@pytest.fixture
def records_app(lrs_settings: Settings, database: Database) -> Iterator[Flask]:
    """The tool on SQLite and PostgreSQL, with the fake LRS as its LRS."""
    app = create_app(lrs_settings, database=database)
    app.config["TESTING"] = True
    yield app


@pytest.fixture
def sqlite_app(lrs_settings: Settings, tmp_path: Path) -> Iterator[Flask]:
    db = Database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    upgrade(db)
    app = create_app(lrs_settings, database=db)
    app.config["TESTING"] = True
    yield app
    db.dispose()
