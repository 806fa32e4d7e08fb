"""`steun withdraw` reaches the study tables through the ``study`` withdrawal hook."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from steun_lti.plumbing.db import Database
from steun_lti.questionnaires import load_registry
from steun_lti.records.withdrawal import Scope, withdraw
from steun_lti.study import service
from steun_lti.study.definition import bundled_study_path, load_study
from steun_lti.study.models import Answer, Attempt, Child, Consent, child_seq
from xapi.statements import StatementFactory

TEACHER, OTHER = "tch-withdraw-1", "tch-withdraw-2"


def seed(database: Database) -> None:
    registry = load_registry()
    study = load_study(bundled_study_path(), registry)
    now = datetime.now(UTC)
    with database.session() as session:
        for teacher in (TEACHER, OTHER):
            service.give_consent(session, study, teacher, now)
            for _ in range(2):
                child = service.add_child(session, study, teacher, ["poverty"], "kort", now)
                attempt = service.open_attempt(
                    session,
                    study,
                    registry,
                    child,
                    study.waves[0],
                    "demo-relationship",
                    "teacher",
                    now,
                )
                service.save_answer(
                    session, study, registry.get("demo-relationship"), attempt, "rel01", 3, now
                )


def count(database: Database, model: type, *where: object) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_one_child_then_the_whole_teacher(database: Database) -> None:
    seed(database)
    factory = StatementFactory("http://127.0.0.1:8000")
    withdraw(database, Scope(pseudonym=TEACHER, child_code="A"), factory, None)
    assert count(database, Answer) == 3
    with database.session() as session:
        child_a = session.scalars(
            select(Child).where(Child.teacher == TEACHER, Child.seq == 1)
        ).one()
        assert (
            child_a.withdrawn_at is not None and child_a.reasons == [] and child_a.comment is None
        )
    assert count(database, Child, Child.teacher == OTHER, Child.withdrawn_at.is_(None)) == 2
    withdraw(database, Scope(pseudonym=TEACHER), factory, None)
    assert count(database, Child, Child.teacher == TEACHER) == 0
    assert count(database, Consent, Consent.teacher == TEACHER) == 0
    assert count(database, Attempt, Attempt.teacher == TEACHER) == 0
    assert count(database, Answer) == 2  # the other teacher's two answers


def test_codes_are_parsed_back() -> None:
    assert [child_seq(c) for c in ("A", "b", "Leerling C", "AA", "A1", "")] == [
        1,
        2,
        3,
        27,
        None,
        None,
    ]
