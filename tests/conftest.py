"""Shared fixtures: settings, the app and its clients, databases (SQLite and PostgreSQL).

Browser and fake-platform fixtures live in their own plugin modules under tests/support/.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from steun_lti.app import create_app
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.settings import ENV_FILE_VARIABLE, Settings
from tests.support.postgres import PostgresServer, start_postgres

pytest_plugins = ["tests.support.browser"]

# load_settings() reads .env in the working directory: a developer's own .env in the repository
# must not reach a test. A test that wants one sets STEUN_ENV_FILE itself (monkeypatch).
os.environ[ENV_FILE_VARIABLE] = ""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the whole run (or the one named in the env)."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A clean, empty database per test, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'steun.sqlite3'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = "t_" + uuid.uuid4().hex[:16]
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for one test: a private data dir, no environment leaking in."""
    for key in [k for k in os.environ if k.startswith("STEUN_") and k != ENV_FILE_VARIABLE]:
        os.environ.pop(key)
    return Settings(
        data_dir=tmp_path / "var",
        base_url="http://127.0.0.1:8000",
        lrs={"endpoint": "http://127.0.0.1:9/xapi/", "timeout": 0.5},  # type: ignore[arg-type]
    )


@pytest.fixture
def app(settings: Settings, tmp_path: Path) -> Iterator[Flask]:
    db = Database(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    upgrade(db)
    application = create_app(settings, database=db)
    application.config["TESTING"] = True
    yield application
    db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(settings: Settings) -> CliRunner:
    return CliRunner()


def table_names(db: Database) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(db.engine).get_table_names())


def count_rows(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
