"""The records commands as a new user tries them: a wrong path, format, row or LRS address gets
one sentence and a non-zero exit, never a stack trace, a whole web page or a silent success
(issue 17)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from steun_lti.cli import main
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.settings import Settings
from steun_lti.records.outbox import DELIVERED, PARKED, OutboxStatement
from tests.support.browser import serve_wsgi

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def steun(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), obj={"settings": settings})


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture
def empty_file(tmp_path: Path) -> Path:
    source = tmp_path / "none.jsonl"
    source.write_text("")
    return source


def test_export_into_a_path_below_a_file_names_it(
    settings: Settings, tmp_path: Path, empty_file: Path
) -> None:
    """`steun export /etc/passwd/x` raised NotADirectoryError."""
    line = one_line_error(
        steun(settings, "export", f"{empty_file}/x", "--from-file", str(empty_file))
    )
    assert line == f"Error: Cannot make the folder {empty_file}/x: Not a directory."


def test_an_unknown_format_is_refused_before_any_statement_is_read(
    settings: Settings, tmp_path: Path
) -> None:
    """The settings' LRS (port 9) is unreachable: had the command read first, that would show."""
    result = steun(
        settings, "export", str(tmp_path / "out"), "--format", "wide", "--format", "bogus"
    )
    assert result.exit_code == 2
    assert "Invalid value for '--format': 'bogus': choose from long, wide, sav" in result.output
    assert "LRS" not in result.output
    assert not (tmp_path / "out").exists()


def test_a_report_into_a_missing_folder_is_refused_and_creates_nothing(
    settings: Settings, tmp_path: Path, empty_file: Path
) -> None:
    target = tmp_path / "nonexistent" / "dir" / "r.html"
    line = one_line_error(steun(settings, "report", str(target), "--from-file", str(empty_file)))
    assert line == f"Error: Cannot write {target}: the folder {target.parent} does not exist."
    assert not (tmp_path / "nonexistent").exists()
    ok = steun(settings, "report", str(tmp_path / "r.html"), "--from-file", str(empty_file))
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "r.html").is_file()


def web_site(status: str) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """A web site where the LRS should be (the tool's own address, say): a long HTML page."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "text/html; charset=utf-8")])
        return [
            b"<!doctype html><html><head><title>Steun</title></head><body>"
            + b"<p>Welkom</p>" * 400
            + b"</body></html>"
        ]

    return app


@pytest.mark.parametrize("status", ["200 OK", "404 NOT FOUND"])
def test_an_lrs_address_that_answers_html_gets_a_short_hint(
    settings: Settings, tmp_path: Path, status: str
) -> None:
    server = serve_wsgi(web_site(status))
    try:
        wrong = settings.model_copy(
            update={"lrs": settings.lrs.model_copy(update={"endpoint": server.url + "/"})}
        )
        line = one_line_error(steun(wrong, "export", str(tmp_path / "out")))
    finally:
        server.stop()
    assert "a web page titled 'Steun' (HTML), not xAPI: is STEUN_LRS__ENDPOINT right?" in line
    assert "<" not in line and len(line) < 250


@pytest.fixture
def outbox_rows(settings: Settings) -> Iterator[dict[str, int]]:
    """One parked and one delivered row in the tool's database."""
    settings.data_dir.mkdir(parents=True)
    database = Database(settings.resolved_database_url)
    upgrade(database)
    ids = {}
    with database.session() as session:
        for status in (PARKED, DELIVERED):
            row = OutboxStatement(statement_id=status, statement="{}", actor="p-x", status=status)
            session.add(row)
            session.flush()
            ids[status] = row.id
    yield ids
    database.dispose()


def test_requeue_of_unknown_rows_is_refused_and_requeues_nothing(
    settings: Settings, outbox_rows: dict[str, int]
) -> None:
    parked, delivered = outbox_rows[PARKED], outbox_rows[DELIVERED]
    line = one_line_error(steun(settings, "outbox", "requeue", "99999"))
    assert line == (
        "Error: Nothing requeued: row 99999 is not in the outbox. "
        "`steun outbox status` lists the parked rows."
    )
    mixed = one_line_error(
        steun(settings, "outbox", "requeue", str(parked), str(delivered), "99999")
    )
    assert f"row {delivered} is delivered; row 99999 is not in the outbox" in mixed
    assert "parked 1" in steun(settings, "outbox", "status").output
    ok = steun(settings, "outbox", "requeue", str(parked))
    assert ok.exit_code == 0 and "Requeued 1 statement(s)." in ok.output
