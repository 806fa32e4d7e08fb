"""The foundation: settings, data dir and secrets, database on both engines, health, CLI."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from steun_lti import __version__
from steun_lti.cli import main
from steun_lti.exceptions import ConfigurationError
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


def test_healthz_is_degraded_when_the_data_dir_takes_no_file(
    client: FlaskClient, app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: /healthz said ok on a full disk or an unwritable data directory."""
    import errno

    from steun_lti.web import health

    healthy = client.get("/healthz")
    assert healthy.status_code == 200 and healthy.get_json()["data_dir"] is True
    settings = app.config["STEUN_SETTINGS"]
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".healthz")]

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(health.os, "write", disk_full)
    full = client.get("/healthz")
    assert full.status_code == 503
    assert full.get_json()["status"] == "degraded" and full.get_json()["data_dir"] is False
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".healthz")]
    monkeypatch.undo()

    app.config["STEUN_SETTINGS"] = settings.model_copy(update={"data_dir": tmp_path / "gone"})
    gone = client.get("/healthz")
    assert gone.status_code == 503 and gone.get_json()["data_dir"] is False


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


def test_a_dot_env_in_the_working_directory_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Operators keep their settings in .env, as .env.example suggests (issue 17)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STEUN_ENV_FILE")  # the suite's guard: read none
    env_file = tmp_path / ".env"
    env_file.write_text(
        (Path(__file__).parents[3] / ".env.example").read_text()  # as copied, empty values too
        + "STEUN_BASE_URL=https://from-the-file.example.nl\nSTEUN_PORT=8123\n"
    )
    settings = load_settings()
    assert settings.base_url == "https://from-the-file.example.nl"
    assert settings.port == 8123
    assert settings.instruments_dir is None and settings.secret_key is None  # empty: default
    assert settings.data_dir == tmp_path / "var"

    monkeypatch.setenv("STEUN_PORT", "8999")
    assert load_settings().port == 8999  # the environment beats the file
    assert load_settings(port=8777).port == 8777  # and a command-line option beats both

    monkeypatch.setenv("STEUN_ENV_FILE", "")
    assert load_settings().base_url == "http://127.0.0.1:8000"  # no file read

    monkeypatch.setenv("STEUN_ENV_FILE", str(tmp_path / "elsewhere.env"))
    with pytest.raises(ConfigurationError, match="STEUN_ENV_FILE: no such file"):
        load_settings()
    env_file.rename(tmp_path / "elsewhere.env")
    monkeypatch.chdir(tmp_path.parent)
    assert load_settings().base_url == "https://from-the-file.example.nl"


def test_settings_built_by_hand_never_read_a_dot_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STEUN_ENV_FILE")
    (tmp_path / ".env").write_text("STEUN_BASE_URL=https://from-the-file.example.nl\n")
    assert Settings().base_url == "http://127.0.0.1:8000"


def test_a_relative_data_dir_is_made_absolute_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask's send_from_directory resolved ``./var`` against the package: the demo's 404s."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEUN_DATA_DIR", "var")
    assert load_settings().data_dir == tmp_path / "var"


def test_the_admin_password_file_exists_from_the_first_start(
    settings: Settings, client: FlaskClient
) -> None:
    """docs/admin.md sends the operator to secrets/admin_password; it appeared only after the
    first failed login (issue 17). ``client`` has started the tool once."""
    from pydantic import SecretStr

    from steun_lti.app import create_app

    password = settings.data_dir / "secrets" / "admin_password"
    assert password.is_file() and len(password.read_text().strip()) >= 18
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    page = client.get("/lti/admin/", auth=("admin", password.read_text().strip()))
    assert page.status_code == 200

    password.unlink()
    create_app(settings.model_copy(update={"admin_password": SecretStr("set-by-operator")}))
    assert not password.exists()


def test_pages_have_a_favicon(client: FlaskClient) -> None:
    page = client.get("/lti/")
    assert 'rel="icon"' in page.text
    icon = client.get("/static/brand/favicon.svg")
    try:
        assert icon.status_code == 200 and b"<svg" in icon.data
    finally:
        icon.close()  # a file response: close it (warnings are errors here)
