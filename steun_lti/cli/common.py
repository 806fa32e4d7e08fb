"""What every ``steun`` command shares: the settings of this invocation and friendly errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from steun_lti.exceptions import ConfigurationError, SteunError
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.secrets import ensure_data_dir
from steun_lti.plumbing.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn Steun's own errors into a message and exit code 2 instead of a stack trace."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SteunError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def check_port_free(host: str, port: int, setting: str) -> None:
    """Say so at once when the port is taken (gunicorn retries for 5 s, then prints a traceback)."""
    from steun_lti.plumbing.server import bind_error  # gunicorn: only for the serve commands

    problem = bind_error(host, port)
    if problem:
        raise ConfigurationError(
            f"Cannot listen on {host}:{port} ({problem}): is Steun already running? "
            f"Choose another port with --port or {setting}."
        )


def open_database(settings: Settings) -> Database:
    """The tool's database for a command: data dir made, schema brought up to date. Dispose it."""
    ensure_data_dir(settings.data_dir)
    database = Database(settings.resolved_database_url)
    try:
        upgrade(database)
    except BaseException:
        database.dispose()
        raise
    return database


def get_settings(ctx: click.Context) -> Settings:
    """The settings for this invocation (tests may pass their own through ``obj``)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings()
    settings: Settings = obj["settings"]
    return settings
