"""CLI commands of the learning records: ``steun outbox``, ``steun export``, ``steun report``,
``steun withdraw``; and the sender thread that ``steun serve`` starts in each worker."""

from __future__ import annotations

import dataclasses
import errno
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml

from steun_lti.cli.common import friendly_errors, get_settings, open_database
from steun_lti.exceptions import SteunError


class RecordsError(SteunError):
    default_message = "The learning records could not be processed."


# -- outbox -------------------------------------------------------------------------------


@click.group()
def outbox() -> None:
    """The queue of statements on their way to the LRS."""


@outbox.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@friendly_errors
def outbox_status_cmd(ctx: click.Context, as_json: bool) -> None:
    """How many statements wait, are delivered or parked (with the LRS's reasons)."""
    from steun_lti.records.outbox import outbox_status

    database = open_database(get_settings(ctx))
    try:
        with database.session() as session:
            status = outbox_status(session)
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(status.as_dict(), indent=2))
        return
    c = status.counts
    click.echo(
        f"pending {c['pending']}, sending {c['sending']}, delivered {c['delivered']}, "
        f"parked {c['parked']}"
    )
    if status.oldest_pending:
        click.echo(f"oldest waiting since {status.oldest_pending.isoformat()}")
    if status.last_error:
        click.echo(f"last delivery error: {status.last_error}")
    for row, sid, reason in status.parked:
        click.echo(f"parked row {row} (statement {sid}): {reason}")


@outbox.command("run")
@click.option("--until-empty", is_flag=True, help="Stop when nothing is waiting any more.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option(
    "--max-backoff", type=float, default=60.0, show_default=True, help="Longest wait (s)."
)
@click.pass_context
@friendly_errors
def outbox_run(ctx: click.Context, until_empty: bool, batch_size: int, max_backoff: float) -> None:
    """Deliver queued statements to the LRS (Ctrl-C to stop)."""
    from steun_lti.records.outbox import Backoff, Sender
    from steun_lti.records.statements import client_factory

    settings = get_settings(ctx)
    database = open_database(settings)
    sender = Sender(
        database,
        client_factory(settings),
        batch_size=batch_size,
        backoff=Backoff(cap=max_backoff),
    )
    stop = threading.Event()
    try:
        result = sender.run(stop, until_empty=until_empty, idle_wait=0.2)
    except KeyboardInterrupt:
        stop.set()
        click.echo("Stopped.")
        return
    finally:
        database.dispose()
    click.echo(f"Delivered {result.delivered}, parked {result.parked}.")


@outbox.command("requeue")
@click.argument("rows", nargs=-1, type=int)
@click.pass_context
@friendly_errors
def outbox_requeue(ctx: click.Context, rows: tuple[int, ...]) -> None:
    """Put parked statements (all, or the given row numbers) back in the queue.

    Row numbers that are not parked are refused (exit 2) and nothing is requeued."""
    from steun_lti.records.outbox import not_parked, requeue_parked

    database = open_database(get_settings(ctx))
    try:
        with database.session() as session:
            refused = not_parked(session, rows)
            if refused:
                raise RecordsError(
                    "Nothing requeued: "
                    + "; ".join(f"row {row} is {why}" for row, why in refused.items())
                    + ". `steun outbox status` lists the parked rows."
                )
            n = requeue_parked(session, rows or None)
    finally:
        database.dispose()
    click.echo(f"Requeued {n} statement(s).")


@outbox.command("purge")
@click.option(
    "--days",
    type=click.IntRange(0, None),
    default=30,
    show_default=True,
    help="Delete delivered statements older than this many days (the LRS keeps them).",
)
@click.pass_context
@friendly_errors
def outbox_purge(ctx: click.Context, days: int) -> None:
    """Delete the tool's copies of statements the LRS has had for a while."""
    from datetime import timedelta

    from steun_lti.records.outbox import purge_delivered

    database = open_database(get_settings(ctx))
    try:
        with database.session() as session:
            n = purge_delivered(session, timedelta(days=days))
    finally:
        database.dispose()
    click.echo(f"Deleted {n} delivered statement(s) older than {days} day(s).")


# -- export and report --------------------------------------------------------------------


def _load_spec(path: Path | None, settings: Any) -> Any:
    from xapi.export import ScoringSpec

    if path is None:
        # The instruments the tool knows (bundled demo ones plus STEUN_INSTRUMENTS_DIR).
        from steun_lti.questionnaires.registry import load_registry
        from steun_lti.records.export_spec import scoring_spec_from_registry

        return scoring_spec_from_registry(load_registry(settings.instruments_dir))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ScoringSpec.from_dict(raw or {})
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise RecordsError(f"Scoring spec {path}: {exc}") from exc


def _file_statements(source: Path) -> Iterator[dict[str, Any]]:
    """Statements from a JSON-lines file."""
    try:
        with source.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise RecordsError(f"{source}, line {n}: not JSON ({exc})") from exc
    except OSError as exc:
        raise RecordsError(f"Cannot read {source}: {exc.strerror}") from exc


def _make_folder(folder: Path) -> None:
    from xapi.private_files import private_folder

    try:
        private_folder(folder)  # 0700 when made here; the files are 0600 in any case
    except OSError as exc:
        raise RecordsError(f"Cannot make the folder {folder}: {exc.strerror}.") from None


def _check_writable_file(path: Path) -> None:
    """A report goes into a folder that exists: a typo in it should not create folders."""
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise RecordsError(f"Cannot write {path}: the folder {folder} {problem}.")


def _collect(ctx: click.Context, source: Path | None, filters: dict[str, Any]) -> Any:
    """Read the statements (from the LRS, paging through ``more``, or from a file) into a
    dataset, with a progress bar on a terminal and a line every 10 s elsewhere."""
    from steun_lti.cli.progress import Progress
    from steun_lti.records.statements import make_client
    from xapi.exceptions import LrsError
    from xapi.export import collect

    settings = get_settings(ctx)
    if source is not None:
        with Progress() as progress:
            return collect(_file_statements(source), settings.base_url, progress=progress.update)
    client = make_client(settings, researcher=True)
    try:
        # Steun's LRS counts cheaply (an extension); elsewhere the bar shows a running count.
        total = client.count_statements(**filters)
        with Progress(total=total) as progress:
            return collect(
                client.iter_statements(**filters), settings.base_url, progress=progress.update
            )
    except LrsError as exc:
        raise RecordsError(exc.message) from exc
    finally:
        client.close()


def _filters(
    since: str | None,
    until: str | None,
    verb: str | None,
    activity: str | None,
    registration: str | None,
) -> dict[str, Any]:
    return {
        "since": since,
        "until": until,
        "verb": verb,
        "activity": activity,
        "registration": registration,
        "related_activities": True if activity else None,
    }


_filter_options = [
    click.option("--since", help="Only statements stored after this ISO 8601 time."),
    click.option("--until", help="Only statements stored up to this ISO 8601 time."),
    click.option("--verb", help="Only statements with this verb IRI."),
    click.option("--activity", help="Only statements about this activity IRI (or under it)."),
    click.option("--registration", help="Only statements of this registration (UUID)."),
    click.option(
        "--from-file",
        "source",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Read statements from a JSON-lines file instead of the LRS.",
    ),
]


def _with_filters(func: Any) -> Any:
    for option in reversed(_filter_options):
        func = option(func)
    return func


@click.command("export")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "formats",
    multiple=True,
    help="long, wide, sav, progress, dictionary, codebook (default: all).",
)
@click.option(
    "--spec",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Scoring spec (YAML/JSON): items, choices, scales, reverse-keyed items, missing rule.",
)
@_with_filters
@click.pass_context
@friendly_errors
def export_cmd(
    ctx: click.Context,
    out_dir: Path,
    formats: tuple[str, ...],
    spec: Path | None,
    source: Path | None,
    **filters: Any,
) -> None:
    """Export the statements as analysis-ready tables into OUT_DIR (created when missing)."""
    from xapi.export import FORMATS, export_all

    # Bad input is refused before the statements are read: that can take minutes.
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(map(repr, unknown))}: choose from {', '.join(FORMATS)}.",
            param_hint="'--format'",
        )
    _make_folder(out_dir)
    settings = get_settings(ctx)
    scoring = _load_spec(spec, settings)
    try:  # labels for the codebook; the export itself does not need the study definition
        reasons = _study_layout(settings).reasons
    except RecordsError as exc:
        click.echo(f"The codebook names reason ids only: {exc}", err=True)
        reasons = ()
    data = _collect(ctx, source, _filters(**filters))
    try:
        written = export_all(data, scoring, out_dir, formats or FORMATS, reasons)
    except ValueError as exc:
        raise RecordsError(str(exc)) from exc
    except OSError as exc:  # e.g. a symlink in a file's place: refused, not followed
        why = "a symbolic link is where a file goes" if exc.errno == errno.ELOOP else exc.strerror
        raise RecordsError(f"Cannot write into {out_dir}: {why}.") from None
    click.echo(f"Read {data.statements_read:,} statements.")
    if data.unreadable:
        click.echo(
            f"Left out {data.unreadable:,} statement(s) that could not be read (not strict JSON "
            "or broken values); the log above names the first ones.",
            err=True,
        )
    for name, path in written.items():
        click.echo(f"  {name:<11} {path}")


def _study_layout(settings: Any) -> Any:
    """The study's waves (in order) and reasons with their labels, for the report."""
    from steun_lti.questionnaires.errors import InstrumentError
    from steun_lti.questionnaires.registry import load_registry
    from steun_lti.study.definition import bundled_study_path, load_study, report_layout

    try:
        registry = load_registry(settings.instruments_dir)
        return report_layout(load_study(settings.study_file or bundled_study_path(), registry))
    except InstrumentError as exc:
        raise RecordsError(f"Study definition: {exc}") from exc


@click.command("report")
@click.argument("out_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--spec",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Scoring spec (YAML/JSON) as for `steun export` (default: the tool's instruments).",
)
@click.option(
    "--course-after",
    metavar="WAVE",
    help="The wave after which the course takes place (default: the study's second wave).",
)
@_with_filters
@click.pass_context
@friendly_errors
def report_cmd(
    ctx: click.Context,
    out_file: Path,
    spec: Path | None,
    course_after: str | None,
    source: Path | None,
    **filters: Any,
) -> None:
    """Write an HTML report to OUT_FILE, in a folder that exists (opens in a browser, no
    server needed): scores per wave, change before and after the course, by reason and by
    course progress, response and missing data. Scored as `steun export` scores."""
    from xapi.report import write_report

    _check_writable_file(out_file)
    settings = get_settings(ctx)
    scoring = _load_spec(spec, settings)
    layout = _study_layout(settings)
    if course_after is not None:
        if course_after not in [w for w, _ in layout.waves]:
            raise click.BadParameter(
                f"{course_after!r} is not a wave of the study "
                f"({', '.join(w for w, _ in layout.waves)}).",
                param_hint="'--course-after'",
            )
        layout = dataclasses.replace(layout, course_after=course_after)
    data = _collect(ctx, source, _filters(**filters))
    try:
        write_report(data, out_file, scoring, layout)
    except OSError as exc:
        raise RecordsError(f"Cannot write {out_file}: {exc.strerror}.") from None
    click.echo(f"Report of {data.statements_read:,} statements: {out_file}")
    if data.unreadable:
        click.echo(
            f"Left out {data.unreadable:,} statement(s) that could not be read; the report "
            "says so too.",
            err=True,
        )


# -- withdrawal ---------------------------------------------------------------------------


@click.command("withdraw")
@click.argument("pseudonym", required=False)
@click.option("--child", "child_code", help="Withdraw one child (by code) only.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
@friendly_errors
def withdraw_cmd(
    ctx: click.Context, pseudonym: str | None, child_code: str | None, yes: bool
) -> None:
    """Remove a teacher's (PSEUDONYM) or one child's (--child CODE) answers everywhere.

    Exits 1 when nothing was found for them (and they were never withdrawn before): a mistyped
    pseudonym must not look like a done withdrawal, yet the command did run, so not 2, which
    is for input refused before anything happened. Exits 1 too when the LRS is not finished."""
    from steun_lti.records.withdrawal import Scope, withdraw_everywhere

    if not pseudonym and not child_code:
        raise RecordsError("Name a PSEUDONYM, a --child CODE, or both.")
    what = f"child {child_code}" if child_code else f"teacher {pseudonym}"
    if not yes:
        click.confirm(f"Remove every answer of {what} from the tool and the LRS?", abort=True)
    settings = get_settings(ctx)
    database = open_database(settings)
    try:
        result = withdraw_everywhere(database, Scope(pseudonym, child_code), settings)
    finally:
        database.dispose()
    if result.found_nothing:
        if result.withdrawn_before is not None:
            when = result.withdrawn_before.strftime("%Y-%m-%d %H:%M")
            click.echo(f"Nothing left of {what}: withdrawn before, on {when} (UTC).")
            return
        whose = f"pseudonym {pseudonym!r}" if pseudonym else ""
        if child_code:
            whose = f"child code {child_code!r}" + (f" of {whose}" if whose else "")
        click.echo(
            f"Nothing was found for {whose}, in the tool or in the LRS, so nothing was "
            "removed: check the spelling (as in the export's pseudonym column).",
            err=True,
        )
        sys.exit(1)
    click.echo(f"Removed {result.rows_removed} row(s) from the tool's database.")
    click.echo(f"Voided {result.statements_voided} statement(s) in the LRS.")
    if result.lrs_erased:
        click.echo("The LRS deleted them for good.")
    elif not result.lrs_error:
        click.echo(
            "The LRS keeps voided statements (retrievable by voidedStatementId): it offers no "
            "hard delete to this tool. Ask its operator to delete them."
        )
    if result.lrs_error:
        click.echo(f"LRS not finished: {result.lrs_error}. Run the same command again later.")
        sys.exit(1)


def mount(main: click.Group) -> None:
    for command in (outbox, export_cmd, report_cmd, withdraw_cmd):
        main.add_command(command)
