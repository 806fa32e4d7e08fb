"""The foundation: settings, data dir and secrets, database on both engines, health, CLI."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from steun_lti import __version__
from steun_lti.cli import main
from steun_lti.plumbing.audit import record
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.secrets import load_or_create_secret
from steun_lti.plumbing.settings import Settings, load_settings
from tests.conftest import count_rows, table_names


def test_settings_read_prefixed_and_nested_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEUN_BASE_URL", "https://steun.example.nl")
    monkeypatch.setenv("STEUN_LRS__ENDPOINT", "https://lrs.example.nl/xapi/")
    monkeypatch.setenv("STEUN_LRS__KEY", "tool")
    settings = load_settings()
    assert settings.base_url == "https://steun.example.nl"
    assert settings.lrs.endpoint == "https://lrs.example.nl/xapi/"
    assert settings.lrs.key == "tool"


def test_every_setting_is_documented_in_env_example() -> None:
    text = (Path(__file__).parents[3] / ".env.example").read_text()
    names: list[str] = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        sub = getattr(annotation, "model_fields", None)
        if sub:
            names += [f"STEUN_{name.upper()}__{s.upper()}" for s in sub]
        else:
            names.append(f"STEUN_{name.upper()}")
    missing = [n for n in names if n not in text]
    assert not missing, f"undocumented in .env.example: {missing}"


def test_secrets_are_generated_once_with_owner_only_rights(tmp_path: Path) -> None:
    data = tmp_path / "var"
    first = load_or_create_secret(data, "hmac_key")
    assert load_or_create_secret(data, "hmac_key") == first
    assert len(first) >= 32
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "secrets" / "hmac_key").stat().st_mode) == 0o600


def test_migrations_create_the_schema_and_rows_commit(database: Database) -> None:
    assert "audit_event" in table_names(database)
    with database.session() as session:
        record(session, "test.event", actor="p-123", what="nothing personal")
    assert count_rows(database, "audit_event") == 1


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    db.dispose()


def test_healthz_reports_version_database_and_lrs(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == __version__
    assert body["database"] is True
    assert body["lrs"] is False  # nothing listens on the test's LRS address


def test_unknown_page_is_a_friendly_dutch_page_without_trace(client: FlaskClient) -> None:
    response = client.get("/nope", headers={"Accept": "text/html"})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Pagina niet gevonden" in html
    assert "Traceback" not in html


def test_cli_db_upgrade_uses_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEUN_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "0001" in result.output
    assert (tmp_path / "data" / "steun.sqlite3").exists()


def test_cli_reports_bad_configuration_without_a_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("STEUN_DATA_DIR", str(blocker / "sub"))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "Cannot use data directory" in result.output
    assert "Traceback" not in result.output


def test_generated_secrets_never_look_like_command_line_options() -> None:
    """A key starting with "-" was read as an option by `steun lrs credentials revoke KEY`."""
    from steun_lti.plumbing.secrets import cli_safe_token

    assert not any(cli_safe_token(12).startswith("-") for _ in range(2000))


def test_a_relative_data_dir_is_made_absolute_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask's send_from_directory resolved ``./var`` against the package: the demo's 404s."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEUN_DATA_DIR", "var")
    assert load_settings().data_dir == tmp_path / "var"
