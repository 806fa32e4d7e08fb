"""``steun lrs``: serve the embedded LRS and manage its credentials (glue over ``xapi.lrs``)."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from steun_lti.cli.common import check_port_free, get_settings

F = TypeVar("F", bound=Callable[..., Any])


def _database_url(ctx: click.Context) -> str:
    from steun_lti.plumbing.secrets import ensure_data_dir

    settings = get_settings(ctx)
    ensure_data_dir(settings.data_dir)
    return settings.resolved_lrs_database_url


def lrs_errors(func: F) -> F:
    """LRS and configuration errors become ``Error: ...`` and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from steun_lti.exceptions import SteunError
        from xapi.lrs.exceptions import LrsError

        try:
            return func(*args, **kwargs)
        except (LrsError, SteunError) as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group()
def lrs() -> None:
    """The embedded xAPI Learning Record Store."""


@lrs.command()
@click.option(
    "--host", default=None, help="Address to listen on (default: STEUN_LRS_SERVER__HOST)."
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on (default: STEUN_LRS_SERVER__PORT).",
)
@click.option(
    "--workers", type=int, default=None, help="gunicorn workers (default: STEUN_WORKERS)."
)
@click.pass_context
@lrs_errors
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the LRS at http://HOST:PORT/xapi/ (creates its tables and credentials first)."""
    from steun_lti.plumbing.secrets import load_or_create_secret
    from steun_lti.plumbing.server import run_gunicorn
    from xapi.lrs.admin import provision
    from xapi.lrs.app import create_app
    from xapi.lrs.limits import LrsLimits

    settings = get_settings(ctx)
    url = _database_url(ctx)
    data = settings.data_dir
    provision(
        url,
        tool=(
            load_or_create_secret(data, "lrs_tool_key", 12),
            load_or_create_secret(data, "lrs_tool_secret"),
        ),
        researcher=(
            load_or_create_secret(data, "lrs_researcher_key", 12),
            load_or_create_secret(data, "lrs_researcher_secret"),
        ),
        admin=(
            load_or_create_secret(data, "lrs_admin_key", 12),
            load_or_create_secret(data, "lrs_admin_secret"),
        ),
    )
    host = host or settings.lrs_server.host
    port = port if port is not None else settings.lrs_server.port
    check_port_free(host, port, "STEUN_LRS_SERVER__PORT")

    def factory() -> Any:
        app = create_app(
            url,
            create_schema=False,
            limits=LrsLimits(
                statement_body=settings.lrs_server.max_statement_body,
                document_body=settings.lrs_server.max_document_body,
            ),
        )
        # The objects of the imports and the app go to the collector's permanent generation,
        # and young collections come every 20,000 allocations instead of 700: a batch of 100
        # statements makes some 10,000 containers, and with the defaults full collections of
        # the whole heap ran every few batches (per server CPU-second batch POST went from
        # about 2,900 to 3,300 statements, docs/lrs.md "Performance").
        gc.freeze()
        gc.set_threshold(20_000, 50, 50)
        return app

    run_gunicorn(
        factory,
        bind=f"{host}:{port}",
        workers=workers or settings.workers,
        log_level=settings.log_level,
        # Path only: query strings name agents, which stay out of the log.
        access_log_format='%(h)s %(u)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)s',
        # Threads, so that keep-alive connections are served (xAPI clients post request after
        # request: no TCP handshake and close per request) and a thread waiting on the disk
        # or the SQLite write lock does not idle the process.
        worker_class="steun_lti.plumbing.server.GracefulThreadWorker",
        threads=4,
    )


@lrs.group()
def credentials() -> None:
    """HTTP Basic credentials of the LRS and their scopes."""


@credentials.command("add")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="statements/write, statements/read, statements/read/mine, state, profile, all/read, all, admin.",
)
@click.option(
    "--label", default="", help="Who uses it (shown in `list` and as the authority name)."
)
@click.pass_context
@lrs_errors
def credentials_add(ctx: click.Context, scopes: tuple[str, ...], label: str) -> None:
    """Create a credential; its secret is shown once."""
    from xapi.lrs.admin import add_credential

    key, secret = add_credential(_database_url(ctx), list(scopes), label or "credential")
    click.echo(f"key:    {key}\nsecret: {secret}\nscopes: {' '.join(sorted(scopes))}")


@credentials.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@lrs_errors
def credentials_list(ctx: click.Context, as_json: bool) -> None:
    """List credentials (never their secrets)."""
    from xapi.lrs.admin import list_credentials

    rows = list_credentials(_database_url(ctx))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "revoked" if row["revoked"] else "active"
        click.echo(f"{row['key']}\t{state}\t{' '.join(row['scopes'])}\t{row['label']}")


@credentials.command("revoke")
@click.argument("key")
@click.pass_context
@lrs_errors
def credentials_revoke(ctx: click.Context, key: str) -> None:
    """Revoke a credential: it is refused from the next request on."""
    from xapi.lrs.admin import revoke_credential

    revoke_credential(_database_url(ctx), key)
    click.echo(f"Revoked {key}.")


@lrs.command("delete-agent")
@click.argument("agent")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@lrs_errors
def delete_agent(ctx: click.Context, agent: str, yes: bool) -> None:
    """Hard-delete every statement and document of AGENT (xAPI Agent JSON), for withdrawal."""
    from xapi.lrs.admin import delete_agent as delete
    from xapi.lrs.validation import parse_agent_param

    parsed = parse_agent_param(agent)
    if not yes:
        click.confirm("Delete this agent's statements and documents for good?", abort=True)
    counts = delete(_database_url(ctx), parsed)
    click.echo(f"Deleted {counts['statements']} statements and {counts['documents']} documents.")


@lrs.command("delete-statements")
@click.argument("statement_ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@lrs_errors
def delete_statements(ctx: click.Context, statement_ids: tuple[str, ...], yes: bool) -> None:
    """Hard-delete statements by id, with the statements that refer to them (voiding ones)."""
    from xapi.lrs.admin import delete_statements as delete
    from xapi.lrs.validation import parse_uuid_param

    ids = [parse_uuid_param(sid, "STATEMENT_ID") for sid in statement_ids]
    if not yes:
        click.confirm(f"Delete {len(ids)} statement(s) for good?", abort=True)
    counts = delete(_database_url(ctx), ids)
    click.echo(
        f"Deleted {counts['statements']} statements ({counts['referring']} referring to them) "
        f"and {counts['attachments']} attachments; {counts['not_found']} id(s) not found."
    )
