"""The ``steun`` command line. Settings are built here, per invocation, never at import time."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from steun_lti import __version__
from steun_lti.exceptions import SteunError
from steun_lti.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("steun.cli")


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


@click.group()
@click.version_option(__version__, prog_name="steun")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Steun in het onderwijs: the LTI tool, the embedded LRS and their tools."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if ctx.obj is None:
        ctx.obj = {}


def get_settings(ctx: click.Context) -> Settings:
    """The settings for this invocation (tests may pass their own through ``obj``)."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings()
    settings: Settings = obj["settings"]
    return settings


# -- database -----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.pass_context
@friendly_errors
def db_upgrade(ctx: click.Context) -> None:
    """Apply every pending migration."""
    from steun_lti.db import Database
    from steun_lti.migrations import current_heads, upgrade

    settings = get_settings(ctx)
    from steun_lti.secrets import ensure_data_dir

    ensure_data_dir(settings.data_dir)
    database = Database(settings.resolved_database_url)
    try:
        upgrade(database)
        click.echo(f"Database at revision {', '.join(sorted(current_heads(database)))}.")
    finally:
        database.dispose()


# -- serving ------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: STEUN_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: STEUN_PORT).")
@click.option(
    "--workers", type=int, default=None, help="gunicorn workers (default: STEUN_WORKERS)."
)
@click.option(
    "--debug", is_flag=True, help="Flask's development server with reloader (never in production)."
)
@click.pass_context
@friendly_errors
def serve(
    ctx: click.Context, host: str | None, port: int | None, workers: int | None, debug: bool
) -> None:
    """Serve the tool: gunicorn with several workers, or Flask's server with --debug."""
    from steun_lti.app import create_app
    from steun_lti.db import Database
    from steun_lti.migrations import upgrade

    settings = get_settings(ctx)
    host = host or settings.host
    port = port or settings.port
    from steun_lti.secrets import ensure_data_dir

    ensure_data_dir(settings.data_dir)
    from steun_lti.web.teacher_support import load_runtime

    load_runtime(settings)  # a bad instrument or study file stops here: file, item and reason
    database = Database(settings.resolved_database_url)
    upgrade(database)  # once, before the workers fork
    database.dispose()
    if debug:
        settings = settings.model_copy(update={"debug": True})
        create_app(settings).run(host=host, port=port, debug=True)
        return
    from steun_lti.records_cli import app_with_sender
    from steun_lti.server import run_gunicorn

    run_gunicorn(
        lambda: app_with_sender(create_app(settings)),
        bind=f"{host}:{port}",
        workers=workers or settings.workers,
        log_level=settings.log_level,
    )


def _mount_optional_groups() -> None:
    """Command groups that other parts of the project provide, mounted when present."""
    from steun_lti.cli_lrs import lrs
    from steun_lti.questionnaires.cli import instruments

    main.add_command(lrs)
    main.add_command(instruments)


_mount_optional_groups()

from steun_lti.records_cli import mount as _mount_records  # noqa: E402

_mount_records(main)


def _mount_lti_groups() -> None:
    from steun_lti.lti.cli import keys, platform

    main.add_command(platform)
    main.add_command(keys)


_mount_lti_groups()


# -- demo ---------------------------------------------------------------------------------


@main.command()
@click.option(
    "--seed",
    is_flag=True,
    help="Fill in answers for a few demo teachers and children, then run the export and report.",
)
@click.option(
    "--no-serve", is_flag=True, help="Prepare the demo but do not keep the services running."
)
@click.pass_context
@friendly_errors
def demo(ctx: click.Context, seed: bool, no_serve: bool) -> None:
    """Build the course, start the LRS, the tool and a local demo LMS; print what to open."""
    from steun_lti.demo.run import run_demo

    run_demo(get_settings(ctx), seed=seed, serve=not no_serve)
