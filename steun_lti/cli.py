"""The ``steun`` command line. Settings are built here, per invocation, never at import time."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
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

    main.add_command(lrs)


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
@click.option("--seed", is_flag=True, help="Fill in answers for a few demo teachers and children.")
@click.option("--no-serve", is_flag=True, help="Prepare the demo but do not start the services.")
@click.pass_context
@friendly_errors
def demo(ctx: click.Context, seed: bool, no_serve: bool) -> None:
    """Build what there is, start the services on 127.0.0.1 and print what to open."""
    settings = get_settings(ctx)
    env = dict(os.environ)
    env.setdefault("STEUN_DEMO_MODE", "true")
    env.setdefault("STEUN_DATA_DIR", str(settings.data_dir.resolve()))
    steun = [sys.executable, "-m", "steun_lti"]
    subprocess.run([*steun, "db", "upgrade"], env=env, check=True)
    if no_serve:
        return
    # The course packages (scorm_package runs as its own process: the two parts never import each other).
    base = settings.base_url.rstrip("/")
    course = [sys.executable, "-m", "scorm_package", "--out", "dist"]
    subprocess.run([*course, "--relay-url", f"{base}/relay/course"], env=env, check=False)
    services: list[tuple[str, list[str]]] = [
        ("tool", [*steun, "serve", "--workers", "2"]),
    ]
    if "lrs" in main.commands:
        services.insert(0, ("lrs", [*steun, "lrs", "serve"]))
    # Own process groups: Ctrl-C reaches only this supervisor, which stops each service gracefully.
    procs = [
        (name, subprocess.Popen(cmd, env=env, start_new_session=True)) for name, cmd in services
    ]
    click.echo("")
    click.echo("Steun demo is running. Open, in this order:")
    click.echo(f"  1. {base}/healthz   (the tool: version, database and LRS status)")
    if "lrs" in main.commands:
        lrs = f"http://{settings.lrs_server.host}:{settings.lrs_server.port}/xapi/about"
        click.echo(f"  2. {lrs}   (the embedded Learning Record Store)")
    click.echo(
        "  3. dist/*.zip   (the course packages: import one into an LMS, or unzip and open index.html)"
    )
    click.echo("Press Ctrl-C to stop everything.")
    _supervise(procs)


def _supervise(procs: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, proc in procs:
                if proc.poll() is not None and not stopping:
                    click.echo(f"The {name} process stopped (exit {proc.returncode}).", err=True)
                    stopping = True
            time.sleep(0.2)
    finally:
        for _name, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _name, proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        click.echo("Steun demo stopped.")
