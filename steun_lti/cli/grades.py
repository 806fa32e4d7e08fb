"""``steun grades``: the queue of gradebook scores (LTI AGS) on their way to the LMSs.

``status`` shows what waits and what an LMS refused (with its answer and the platform, never a
user id); ``retry`` puts refused scores back after the cause was fixed in the LMS; ``send``
delivers due scores now (``steun serve`` does that by itself, in the background).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from steun_lti.cli.common import friendly_errors, get_settings, open_database


@click.group()
def grades() -> None:
    """Scores for the LMS gradebook: what waits, what was refused, and why."""


@grades.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@friendly_errors
def grades_status_cmd(ctx: click.Context, as_json: bool) -> None:
    """How many scores wait, were delivered or refused (with the LMS's answer and issuer)."""
    from steun_lti.lti.score_queue import grades_status, purge_expired

    settings = get_settings(ctx)
    database = open_database(settings)
    try:
        with database.session() as session:
            purge_expired(session, timedelta(days=settings.grades_retention_days))
            status = grades_status(session)
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(status.as_dict(), indent=2))
        return
    c = status.counts
    click.echo(
        f"pending {c['pending']}, sending {c['sending']}, delivered {c['delivered']}, "
        f"refused {c['refused']}, expired {c['expired']}"
    )
    if status.oldest_pending:
        click.echo(f"oldest waiting since {status.oldest_pending.isoformat(timespec='seconds')}")
    if status.last_error:
        click.echo(f"last delivery error: {status.last_error}")
    for r in status.refused:
        click.echo(
            f"refused row {r.id} by {r.issuer} (score of {r.since.isoformat(timespec='seconds')}):"
            f" {r.reason}"
        )
    if status.refused:
        click.echo(
            "Moodle refuses scores of users outside its graded roles (Site administration > "
            "Grades > General settings > Graded roles). Fix it, then: steun grades retry"
        )


@grades.command("retry")
@click.argument("rows", nargs=-1, type=int)
@click.pass_context
@friendly_errors
def grades_retry(ctx: click.Context, rows: tuple[int, ...]) -> None:
    """Put refused scores (all, or the given row numbers) back in the queue and send them."""
    from steun_lti.lti.score_queue import requeue_refused

    settings = get_settings(ctx)
    database = open_database(settings)
    try:
        with database.session() as session:
            n = requeue_refused(session, rows or None)
        click.echo(f"Requeued {n} score(s).")
        if n:
            _send(settings, database, ignore_backoff=False)
    finally:
        database.dispose()


@grades.command("send")
@click.option(
    "--all",
    "ignore_backoff",
    is_flag=True,
    help="Also the scores still waiting for their next try (after an outage was fixed).",
)
@click.pass_context
@friendly_errors
def grades_send(ctx: click.Context, ignore_backoff: bool) -> None:
    """Deliver the scores that are due now (refused ones wait for `steun grades retry`)."""
    settings = get_settings(ctx)
    database = open_database(settings)
    try:
        _send(settings, database, ignore_backoff=ignore_backoff)
    finally:
        database.dispose()


def _send(settings: Any, database: Any, *, ignore_backoff: bool) -> None:
    from steun_lti.lti.ags import ScoreSender
    from steun_lti.lti.service import LtiServices

    sender = ScoreSender(
        database,
        LtiServices(settings),
        retention=timedelta(days=settings.grades_retention_days),
    )
    total = sender.send_now(ignore_backoff=ignore_backoff)
    click.echo(
        f"Delivered {total.delivered}, refused {total.refused}, "
        f"waiting for a retry {total.retrying}."
    )
    if total.last_error:
        click.echo(f"last error: {total.last_error}")
