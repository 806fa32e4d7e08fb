"""`steun withdraw` against the real embedded LRS process: one child's statements are deleted
for good (the LRS's admin extension), a teacher's too; where the tool may not hard-delete, they
stay voided."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from pydantic import SecretStr

from steun_lti.app import create_app
from steun_lti.cli import main
from steun_lti.plumbing.db import Database
from steun_lti.plumbing.migrations import upgrade
from steun_lti.plumbing.settings import Settings
from steun_lti.records.outbox import Backoff, Sender
from steun_lti.records.statements import client_factory, researcher_credentials
from tests.steun_lti.records.test_relay_privacy_withdrawal import whole_study
from tests.support.lrs_process import start_lrs, stop_lrs
from xapi.client import LrsClient
from xapi.lrs.admin import add_credential

TEACHER, OTHER = "p-" + "a" * 32, "p-" + "b" * 32
CHILD_EXT = "http://127.0.0.1:8000/xapi/ext/child-code"


@dataclass
class Setup:
    settings: Settings
    app: Flask
    db: Database
    endpoint: str
    reader: LrsClient

    def deliver(self) -> None:
        Sender(self.db, client_factory(self.settings), backoff=Backoff(0.01, 0.05)).run(
            threading.Event(), until_empty=True, idle_wait=0.01
        )

    def withdraw(self, *args: str, settings: Settings | None = None) -> Any:
        return CliRunner().invoke(
            main, ["withdraw", *args, "--yes"], obj={"settings": settings or self.settings}
        )

    def statements(self, actor: str) -> list[dict[str, Any]]:
        agent = {
            "objectType": "Agent",
            "account": {"homePage": "http://127.0.0.1:8000", "name": actor},
        }
        return list(self.reader.iter_statements(agent=agent))

    def held(self, statement_id: str) -> bool:
        """Whether the LRS still holds the statement, voided or not."""
        for param in ("statementId", "voidedStatementId"):
            response = self.reader.session.get(
                self.endpoint + "statements", params={param: statement_id}, timeout=10
            )
            if response.status_code == 200:
                return True
        return False


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    data_dir = tmp_path / "var"
    proc, endpoint = start_lrs(data_dir, workers=1)
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{tmp_path / 'steun.sqlite3'}",
        base_url="http://127.0.0.1:8000",
        lrs={"endpoint": endpoint, "timeout": 10.0},  # type: ignore[arg-type]
    )
    db = Database(settings.resolved_database_url)
    upgrade(db)
    app = create_app(settings, database=db)
    reader = LrsClient(endpoint, *researcher_credentials(settings))
    try:
        yield Setup(settings, app, db, endpoint, reader)
    finally:
        reader.close()
        db.dispose()
        stop_lrs(proc)


def child_of(st: dict[str, Any]) -> str | None:
    return ((st.get("context") or {}).get("extensions") or {}).get(CHILD_EXT)


def test_one_child_is_deleted_for_good(setup: Setup) -> None:
    for teacher in (TEACHER, OTHER):
        for child in ("B", "D"):
            whole_study(setup.app, teacher, child=child)
    setup.deliver()
    before = setup.statements(TEACHER)
    gone = [st["id"] for st in before if child_of(st) == "B"]
    assert len(gone) == 6  # child added, 3 answers, page, questionnaire completed
    others_b = [st["id"] for st in setup.statements(OTHER) if child_of(st) == "B"]

    result = setup.withdraw(TEACHER, "--child", "B")
    assert result.exit_code == 0, result.output
    assert "Removed 6 row(s)" in result.output  # the outbox's copies (no study tables here)
    assert "Voided 6 statement(s)" in result.output
    assert "The LRS deleted them for good." in result.output
    for sid in gone:
        assert not setup.held(sid), sid  # not even by voidedStatementId
    after = setup.statements(TEACHER)
    assert {child_of(st) for st in after} == {None, "D"}
    assert len(after) == len(before) - len(gone)  # the voiding statements went too
    assert all(setup.held(sid) for sid in others_b)

    again = setup.withdraw(TEACHER, "--child", "B")  # nothing left: still fine
    assert again.exit_code == 0, again.output
    assert again.output.startswith(
        f"Nothing left of child B: withdrawn before, on {datetime.now(UTC).date()}"
    )


def test_a_teacher_is_deleted_for_good(setup: Setup) -> None:
    whole_study(setup.app, TEACHER, child="B")
    whole_study(setup.app, OTHER, child="B")
    setup.deliver()
    ids = [st["id"] for st in setup.statements(TEACHER)]
    result = setup.withdraw(TEACHER)
    assert result.exit_code == 0, result.output
    assert "The LRS deleted them for good." in result.output
    assert setup.statements(TEACHER) == [] and not any(setup.held(sid) for sid in ids)
    assert len(setup.statements(OTHER)) == 9


def test_without_admin_rights_the_child_stays_voided(setup: Setup, tmp_path: Path) -> None:
    """An LRS that will not hard-delete for this tool (as any LRS without Steun's extension):
    the statements are voided, the command says they stay retrievable, and exits 0."""
    whole_study(setup.app, TEACHER, child="B")
    whole_study(setup.app, TEACHER, child="D")
    setup.deliver()
    gone = [st["id"] for st in setup.statements(TEACHER) if child_of(st) == "B"]
    key, secret = add_credential(
        setup.settings.resolved_lrs_database_url,
        ["statements/read", "statements/write"],
        "plain xAPI client",
    )
    elsewhere = setup.settings.model_copy(
        update={
            "data_dir": tmp_path / "elsewhere",  # no admin secret, no local LRS store
            "lrs": setup.settings.lrs.model_copy(update={"key": key, "secret": SecretStr(secret)}),
        }
    )
    (tmp_path / "elsewhere").mkdir()
    result = setup.withdraw(TEACHER, "--child", "B", settings=elsewhere)
    assert result.exit_code == 0, result.output
    assert "Voided 6 statement(s)" in result.output
    assert "keeps voided statements" in result.output
    assert all(setup.held(sid) for sid in gone)  # by voidedStatementId only
    assert {child_of(st) for st in setup.statements(TEACHER)} == {None, "D"}


def test_a_child_code_alone_must_name_one_known_teacher(setup: Setup) -> None:
    """Codes are per teacher: a code nobody (or several) used is refused before anything goes."""
    whole_study(setup.app, TEACHER, child="B")
    whole_study(setup.app, OTHER, child="B")
    setup.deliver()
    unknown = setup.withdraw("--child", "Q")
    assert unknown.exit_code == 2 and unknown.output.startswith("Error: The tool knows no teacher")
    several = setup.withdraw("--child", "B")
    assert several.exit_code == 2 and "used by 2 teachers" in several.output
    assert len(setup.statements(TEACHER)) == len(setup.statements(OTHER)) == 9


def test_an_unknown_pseudonym_or_child_is_said_and_exits_1(setup: Setup) -> None:
    """A mistyped pseudonym reported "Removed 0 row(s)" and exited 0 (issue 17)."""
    whole_study(setup.app, TEACHER, child="B")
    setup.deliver()
    typo = "p-" + "c" * 32
    unknown = setup.withdraw(typo)
    assert unknown.exit_code == 1, unknown.output
    assert unknown.output == (
        f"Nothing was found for pseudonym '{typo}', in the tool or in the LRS, so nothing was "
        "removed: check the spelling (as in the export's pseudonym column).\n"
    )
    no_child = setup.withdraw(TEACHER, "--child", "Q")
    assert no_child.exit_code == 1, no_child.output
    assert no_child.output.startswith(
        f"Nothing was found for child code 'Q' of pseudonym '{TEACHER}'"
    )
    assert len(setup.statements(TEACHER)) == 9


def test_the_teachers_own_removal_reaches_the_lrs(setup: Setup) -> None:
    """A teacher removing a pupil's data (or all of their own) in the tool runs the same
    withdrawal: with the embedded LRS the statements are deleted for good."""
    from steun_lti.web.teacher import remove_child_everywhere

    whole_study(setup.app, TEACHER, child="B")
    whole_study(setup.app, TEACHER, child="D")
    setup.deliver()
    gone = [st["id"] for st in setup.statements(TEACHER) if child_of(st) == "B"]
    with setup.app.test_request_context():
        remove_child_everywhere(TEACHER, "B")
    assert gone and not any(setup.held(sid) for sid in gone)
    assert {child_of(st) for st in setup.statements(TEACHER)} == {None, "D"}
