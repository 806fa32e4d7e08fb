"""The ``steun`` command line. Settings are built here, per invocation, never at import time."""

from __future__ import annotations

import logging

import click

from steun_lti import __version__
from steun_lti.cli.common import check_port_free, friendly_errors, get_settings


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


# -- database -----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@click.pass_context
@friendly_errors
def db_upgrade(ctx: click.Context) -> None:
    """Apply every pending migration."""
    from steun_lti.plumbing.db import Database
    from steun_lti.plumbing.migrations import current_heads, upgrade

    settings = get_settings(ctx)
    from steun_lti.plumbing.secrets import ensure_data_dir

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
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on (default: STEUN_PORT).",
)
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
    from steun_lti.plumbing.db import Database
    from steun_lti.plumbing.migrations import upgrade

    settings = get_settings(ctx)
    host = host or settings.host
    port = port or settings.port
    check_port_free(host, port, "STEUN_PORT")
    from steun_lti.plumbing.secrets import ensure_data_dir

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
    from steun_lti.app import app_with_sender
    from steun_lti.plumbing.server import run_gunicorn

    run_gunicorn(
        lambda: app_with_sender(create_app(settings)),
        bind=f"{host}:{port}",
        workers=workers or settings.workers,
        log_level=settings.log_level,
        threads=settings.threads,
    )


def _mount_groups() -> None:
    """The command groups, one module each."""
    from steun_lti.cli.grades import grades
    from steun_lti.cli.instruments import instruments
    from steun_lti.cli.lrs import lrs
    from steun_lti.cli.platforms import keys, platform
    from steun_lti.cli.records import mount as mount_records

    main.add_command(lrs)
    main.add_command(instruments)
    mount_records(main)
    main.add_command(platform)
    main.add_command(keys)
    main.add_command(grades)


_mount_groups()


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
