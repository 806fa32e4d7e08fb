"""Typed settings, read from ``STEUN_*`` environment variables (nested with ``__``) and a
``.env`` file in the working directory; the environment wins over the file.

Build them with :func:`load_settings` in the app factory or the CLI, never at import time.
Every variable is documented in ``.env.example``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from steun_lti.exceptions import ConfigurationError


class LrsSettings(BaseModel):
    """Where the tool sends its statements (the embedded LRS or any conformant one)."""

    endpoint: str = Field(
        default="http://127.0.0.1:8300/xapi/",
        description="xAPI endpoint of the LRS, ending in a slash.",
    )
    key: str | None = Field(default=None, description="Basic-auth key (username) for the LRS.")
    secret: SecretStr | None = Field(default=None, description="Basic-auth secret for the LRS.")
    timeout: float = Field(default=5.0, description="Seconds before an LRS request is abandoned.")
    admin_key: str | None = Field(
        default=None,
        description="Admin credential of a Steun LRS for withdrawal's hard deletes; default: "
        "the embedded LRS's secrets/lrs_admin_key when present.",
    )
    admin_secret: SecretStr | None = Field(default=None, description="Its secret.")


class LrsServerSettings(BaseModel):
    """The embedded LRS that ``steun lrs`` serves."""

    host: str = "127.0.0.1"
    port: int = 8300
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the LRS store; default: SQLite file lrs.sqlite3 in the data dir.",
    )
    # The defaults are xapi.lrs.limits.LrsLimits's (docs/lrs.md, "Limits").
    max_statement_body: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest statement request body in bytes (attachments included); 413 above.",
    )
    max_document_body: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest State/Profile document (and other request body) in bytes; 413 above.",
    )


class Settings(BaseSettings):
    """Everything Steun can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="STEUN_",
        env_nested_delimiter="__",
        # No file here: load_settings() names it, so settings built by hand (tests) read only
        # what they are given, never a developer's own .env.
        env_file=None,
        # An empty value means "the default", as in .env.example (copied to .env: an empty
        # STEUN_INSTRUMENTS_DIR must not become the current directory).
        env_ignore_empty=True,
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path("var"),
        description="Holds the SQLite files and the keys and secrets generated on first start.",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        """Relative to the directory Steun starts in, made absolute at once: Flask resolves a
        relative folder against the package instead, so ``var`` served 404s (issue 17)."""
        return value.expanduser().absolute()

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the tool's database; default: SQLite steun.sqlite3 in data_dir.",
    )
    packages_dir: Path | None = Field(
        default=None,
        description="Folder with the built course packages (build_scorm.py --out) that /lti/admin "
        "hands out with each platform's package key; default: dist in data_dir.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public base URL of the tool, as the LMS and browsers reach it (no trailing slash).",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(
        default=2,
        description="gunicorn worker processes for `steun serve` (and `steun lrs serve`): one per "
        "core measured best (docs/benchmarks.md).",
    )
    threads: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Threads per worker for `steun serve` (gthread: an idle keep-alive connection "
        "never holds a worker).",
    )
    debug: bool = False
    demo_mode: bool = Field(
        default=False,
        description="Allow local-only conveniences such as http loopback registration.",
    )
    demo_lms_port: int = Field(
        default=8400, description="Port of the local demo LMS that `steun demo` starts."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Flask session key; generated in data_dir when unset."
    )
    hmac_key: SecretStr | None = Field(
        default=None,
        description="Key of the pseudonyms (HMAC-SHA256); generated in data_dir when unset. "
        "Losing it means new launches no longer match stored pseudonyms.",
    )
    proxy_hops: int = Field(
        default=0,
        description="How many reverse proxies to trust for X-Forwarded-* headers (0: trust none).",
    )
    admin_password: SecretStr | None = Field(
        default=None,
        description="Password of the operator page /lti/admin (user admin); generated in data_dir "
        "when unset.",
    )
    frame_ancestors: str = Field(
        default="",
        description="Space-separated origins that may show the tool in a frame besides the "
        "registered LMSs (their issuer and login URL origins), e.g. https://school.instructure.com.",
    )
    registration_allowed_hosts: str = Field(
        default="",
        description="Comma-separated LMS hosts that may use Dynamic Registration (empty: any host "
        "with a valid invite).",
    )
    registration_allow_private_addresses: bool = Field(
        default=False,
        description="Let the tool's requests to platforms (Dynamic Registration, key sets, token "
        "endpoints, AGS) reach private/loopback addresses (tests, a closed school network; demo "
        "mode allows loopback by itself).",
    )
    lti_clock_leeway: int = Field(
        default=60,
        description="Seconds of clock difference tolerated on iat/exp/nbf of LTI tokens.",
    )
    session_hours: float = Field(
        default=8,
        gt=0,
        le=24,
        description="Hours a launch (and the session resting on it) lasts; then the person "
        "starts again from the LMS. Also the longest the sealed LMS user id of a launch is kept.",
    )
    relay_rate: float = Field(
        default=2.0,
        gt=0,
        description="Course relay: requests a second each client address may send on average "
        "(shared by all workers).",
    )
    relay_burst: int = Field(
        default=60,
        ge=1,
        description="Course relay: requests a client address may send at once before the "
        "average rate applies.",
    )
    grades_retention_days: float = Field(
        default=30,
        gt=0,
        description="Days a gradebook score the LMS has not taken (refused or unreachable) keeps "
        "the sealed LMS user id; then it is given up and the id wiped.",
    )
    instruments_dir: Path | None = Field(
        default=None, description="Folder with private (licensed) instrument definitions."
    )
    study_file: Path | None = Field(
        default=None, description="Study definition YAML; default: the bundled demo study."
    )
    log_level: str = "INFO"
    lrs: LrsSettings = Field(default_factory=LrsSettings)
    lrs_server: LrsServerSettings = Field(default_factory=LrsServerSettings)

    @property
    def resolved_packages_dir(self) -> Path:
        return (self.packages_dir or self.data_dir / "dist").expanduser().absolute()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'steun.sqlite3').resolve()}"

    @property
    def resolved_lrs_database_url(self) -> str:
        return (
            self.lrs_server.database_url or f"sqlite:///{(self.data_dir / 'lrs.sqlite3').resolve()}"
        )


ENV_FILE_VARIABLE = "STEUN_ENV_FILE"


def env_file() -> Path | None:
    """The file of settings: ``.env`` in the working directory (read when it exists), or the one
    ``STEUN_ENV_FILE`` names (it must exist); ``STEUN_ENV_FILE=`` (empty) reads none."""
    named = os.environ.get(ENV_FILE_VARIABLE)
    if named is None:
        return Path(".env")
    if not named:
        return None
    path = Path(named).expanduser()
    if not path.is_file():
        raise ConfigurationError(f"{ENV_FILE_VARIABLE}: no such file: {path}.")
    return path


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and the :func:`env_file`; the environment wins over
    the file, keyword arguments over both.

    A bad value becomes a :class:`ConfigurationError` naming the variable (``STEUN_PORT: ...``),
    never pydantic's stack trace."""
    try:
        return Settings(_env_file=env_file(), **overrides)  # type: ignore[arg-type, call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "STEUN_" + "__".join(str(part) for part in error["loc"]).upper()
            secret = any(word in name for word in ("KEY", "SECRET", "PASSWORD", "URL"))
            shown = "" if secret else f" (got {error.get('input')!r})"
            problems.append(f"{name}: {error['msg']}{shown}")
        raise ConfigurationError("Invalid setting. " + "; ".join(problems)) from None


def get_settings() -> Settings:
    """The settings of the app handling the current request."""
    from flask import current_app

    settings: Settings = current_app.config["STEUN_SETTINGS"]
    return settings
