"""`steun export` against the real embedded LRS process: paging through `more`, the total from
the LRS's count extension for the progress line, and clear errors for wrong credentials or an
LRS that is gone. The progress display itself: a bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from pydantic import SecretStr

from steun_lti.cli import main
from steun_lti.cli.progress import Progress
from steun_lti.plumbing.settings import Settings
from steun_lti.records.statements import tool_credentials
from tests.support.lrs_process import start_lrs, stop_lrs
from xapi.statements import StatementFactory

BASE = "https://steun.example.nl"
TEACHERS, ITEMS = 12, 50  # 12 teachers × 2 children × 51 statements = 1,224: three pages


def statements() -> Iterator[dict[str, Any]]:
    factory = StatementFactory(BASE)
    at = datetime(2027, 2, 16, 9, tzinfo=UTC)
    for t in range(TEACHERS):
        for child in ("A", "B"):
            keys = dict(study="steun", wave="t1", instrument="demo-relatie",
                        instrument_version="1", child_code=child, attempt=1)  # fmt: skip
            for i in range(ITEMS):
                yield factory.item_answered(
                    f"p-{t:032x}", at + timedelta(seconds=i), item=f"q{i:02d}",
                    response=str(1 + (i + t) % 5), **keys,
                )  # fmt: skip
            yield factory.questionnaire_completed(f"p-{t:032x}", at + timedelta(hours=1), **keys)


@pytest.fixture(scope="module")
def lrs_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    data_dir = tmp_path_factory.mktemp("export-lrs") / "var"
    proc, endpoint = start_lrs(data_dir, workers=1)
    settings = Settings(data_dir=data_dir, base_url=BASE, lrs={"endpoint": endpoint})  # type: ignore[arg-type]
    try:
        batch = list(statements())
        for start in range(0, len(batch), 500):
            posted = requests.post(
                endpoint + "statements",
                data=json.dumps(batch[start : start + 500]),
                auth=tool_credentials(settings),
                headers={"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"},
                timeout=30,
            )
            assert posted.status_code == 200, posted.text
        yield settings
    finally:
        stop_lrs(proc)


def export(settings: Settings, out: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["export", str(out), *args], obj={"settings": settings})


def test_export_pages_through_the_lrs(lrs_settings: Settings, tmp_path: Path) -> None:
    result = export(lrs_settings, tmp_path, "--format", "wide", "--format", "long")
    assert result.exit_code == 0, result.output
    n = TEACHERS * 2 * (ITEMS + 1)
    assert f"Read {n:,} statements." in result.stdout
    # Not a terminal: no bar, one plain line with the total the LRS counted.
    assert f"Read {n:,} of {n:,} statements (100%)" in result.stderr
    assert "\r" not in result.stderr
    with (tmp_path / "wide.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == TEACHERS * 2
    with (tmp_path / "long.csv").open(encoding="utf-8") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == TEACHERS * 2 * ITEMS


def test_filters_reach_the_count_and_the_query(lrs_settings: Settings, tmp_path: Path) -> None:
    verb = "http://adlnet.gov/expapi/verbs/completed"
    result = export(lrs_settings, tmp_path, "--format", "wide", "--verb", verb)
    assert result.exit_code == 0, result.output
    assert f"Read {TEACHERS * 2} of {TEACHERS * 2} statements (100%)" in result.stderr


def test_wrong_credentials_are_a_clear_error(lrs_settings: Settings, tmp_path: Path) -> None:
    wrong = lrs_settings.model_copy(
        update={"lrs": lrs_settings.lrs.model_copy(update={"key": "k", "secret": SecretStr("x")})}
    )
    result = export(wrong, tmp_path)
    assert result.exit_code == 2
    assert result.output.startswith("Error: The LRS at ") and "refused the credentials (401)" in (
        result.output
    )
    assert "Traceback" not in result.output and not (tmp_path / "wide.csv").exists()


def test_an_lrs_that_is_gone_is_a_clear_error(lrs_settings: Settings, tmp_path: Path) -> None:
    from tests.support.postgres import free_port

    gone = lrs_settings.model_copy(
        update={
            "lrs": lrs_settings.lrs.model_copy(
                update={"endpoint": f"http://127.0.0.1:{free_port()}/xapi/", "timeout": 2.0}
            )
        }
    )
    result = export(gone, tmp_path)
    assert result.exit_code == 2 and result.output.startswith("Error: The LRS at ")
    assert "cannot be reached" in result.output and "Traceback" not in result.output


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal() -> None:
    screen = Terminal()
    with Progress(total=2000, stream=screen) as progress:
        for n in range(0, 2001, 500):
            progress.update(n)
    text = screen.getvalue()
    assert "100%" in text and "2000/2000" in text and "statements/s" in text
    unknown = Terminal()
    with Progress(stream=unknown) as progress:
        progress.update(1500)
    assert "1500 statements" in unknown.getvalue() and "%" not in unknown.getvalue()


def test_progress_is_plain_lines_elsewhere() -> None:
    log = io.StringIO()
    with Progress(total=2000, stream=log, every=0) as progress:
        progress.update(1000)
        progress.update(2000)
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("Read 1,000 of 2,000 statements (50%) in ")
    assert lines[-1].startswith("Read 2,000 of 2,000 statements (100%)") and lines[-1].endswith(".")
    assert "\r" not in log.getvalue()
    quiet = io.StringIO()
    with pytest.raises(RuntimeError), Progress(stream=quiet, every=3600) as progress:
        progress.update(10)
        raise RuntimeError  # a failed run prints no final line; the error says it all
    assert quiet.getvalue() == ""
