"""``steun demo --seed``: answers for a few demo teachers and children, then export and report.

The answers go through the same service layer the teacher's views use (consent, children under
codes, attempts, autosaved answers, submit), inside an app context, so every step emits its domain
event and its statements are queued in the outbox in the same transaction, exactly as when a
teacher clicks. The tool's sender then delivers them to the LRS. The seeded teachers are LMS users
of the demo LMS who never launch (``demo-seed-1`` ...), so teacher 1 and 2 stay fresh for a newcomer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steun_lti.demo.lms import DemoError
from steun_lti.plumbing.settings import Settings

if TYPE_CHECKING:
    from steun_lti.demo.lms import DemoLms


@dataclass(frozen=True)
class SeedTeacher:
    sub: str
    children: int
    waves_done: int  # the first N waves submitted for every child; the next one half answered


SEED_TEACHERS = (
    SeedTeacher("demo-seed-1", 2, 3),
    SeedTeacher("demo-seed-2", 2, 2),
    SeedTeacher("demo-seed-3", 1, 1),
)


@dataclass
class SeedResult:
    teachers: int = 0
    children: int = 0
    submitted: int = 0
    answers: int = 0

    def __str__(self) -> str:
        return (
            f"Seeded {self.teachers} demo teachers, {self.children} children, "
            f"{self.submitted} submitted questionnaires, {self.answers} answers."
        )


def _study_modules() -> Any:
    here = Path(__file__).resolve().parents[1]
    try:
        if not (here / "study" / "service.py").exists():
            raise ImportError("steun_lti.study")
        from steun_lti.questionnaires import branching
        from steun_lti.questionnaires.registry import load_registry
        from steun_lti.study import service
        from steun_lti.study.definition import bundled_study_path, load_study
    except ImportError as exc:
        raise DemoError(
            "`steun demo --seed` needs the questionnaire flow (steun_lti.study), "
            "which this checkout does not have yet."
        ) from exc
    return branching, load_registry, service, bundled_study_path, load_study


def pick(item: Any, rng: random.Random, tendency: float) -> Any:
    """A plausible answer: numbered options lean towards the child's tendency (0..1)."""
    if item.type == "text":
        return None  # free text about a child: the demo leaves it empty
    if item.type == "number":
        low = item.min if item.min is not None else 0
        high = item.max if item.max is not None else low + 10
        return int(low + (high - low) * tendency)
    options = list(item.options)
    if not options:
        return None
    if item.type == "multiple":
        return [options[0].value]
    if item.numeric_options and item.type == "likert":
        ordered = sorted(options, key=lambda c: int(c.value))
        centre = tendency * (len(ordered) - 1)
        index = round(min(len(ordered) - 1, max(0.0, rng.gauss(centre, 0.8))))
        chosen = ordered[len(ordered) - 1 - index] if item.reverse else ordered[index]
        return chosen.value
    return rng.choice(options).value


def answer_all(
    service: Any,
    branching: Any,
    session: Any,
    study: Any,
    instrument: Any,
    attempt: Any,
    rng: random.Random,
    tendency: float,
    now: datetime,
    *,
    fraction: float = 1.0,
) -> int:
    """Answer the visible items in order (``fraction`` of them), one every 20 seconds from
    ``now``; returns how many were saved."""
    answers: dict[str, Any] = dict(service.answers_of(session, attempt))
    skipped: set[str] = set()
    saved = 0
    total = max(1, len(instrument.items_by_id))
    while saved < fraction * total:
        pending = [
            item
            for item in branching.visible_items(instrument, answers)
            if item.id not in answers and item.id not in skipped
        ]
        if not pending:
            break
        item = pending[0]
        value = pick(item, rng, tendency)
        if value is None:
            skipped.add(item.id)
            continue
        answers[item.id] = service.save_answer(
            session, study, instrument, attempt, item.id, value, now + timedelta(seconds=20 * saved)
        )
        saved += 1
    return saved


def seed_demo(settings: Settings, lms: DemoLms) -> str:
    """Fill in the demo study for the seed teachers, then run the export and the report."""
    branching, load_registry, service, bundled_study_path, load_study = _study_modules()
    from steun_lti.app import create_app
    from steun_lti.plumbing.db import db_session
    from steun_lti.records.statements import hmac_key
    from xapi.pseudonym import pseudonymise

    registry = load_registry(settings.instruments_dir)
    study = load_study(settings.study_file or bundled_study_path(), registry)
    app = create_app(settings)
    key = hmac_key(settings)
    now = datetime.now(UTC)
    waves_open = [w for w in study.waves if w.accepts_answers(now)]
    result = SeedResult()
    with app.app_context():
        session = db_session()
        for number, teacher in enumerate(SEED_TEACHERS, 1):
            rng = random.Random(f"steun-demo-{teacher.sub}")
            pseudonym = pseudonymise(key, lms.platform.issuer, teacher.sub)
            if service.current_consent(session, study, pseudonym) is not None:
                continue  # seeded before: running --seed twice adds nothing twice

            # Spread over the past weeks as a real study would be: wave k about four weeks
            # after wave k-1, each teacher on a day of their own, the last wave a week ago.
            def wave_day(index: int, number: int = number) -> datetime:
                weeks_back = 4 * (len(waves_open) - 1 - index)
                day = now - timedelta(weeks=weeks_back, days=14 - 2 * number)
                return day.replace(hour=15 + number, minute=0, second=0, microsecond=0)

            consented = wave_day(0) - timedelta(days=1)
            service.give_consent(session, study, pseudonym, consented)
            reasons = [r.id for r in study.reasons]
            children = [
                service.add_child(
                    session,
                    study,
                    pseudonym,
                    rng.sample(reasons, k=min(2, len(reasons))),
                    None,
                    consented,
                )
                for _ in range(teacher.children)
            ]
            result.teachers += 1
            result.children += len(children)
            for index, wave in enumerate(waves_open[: teacher.waves_done + 1]):
                finished = index < teacher.waves_done
                when = wave_day(index)
                for child in children:
                    tendency = rng.uniform(0.3, 0.8) + 0.05 * index * (number % 2)
                    for instrument_id in wave.instruments:
                        instrument = registry.get(instrument_id)
                        attempt = service.open_attempt(
                            session, study, registry, child, wave, instrument_id, "teacher", when
                        )
                        saved = answer_all(
                            service,
                            branching,
                            session,
                            study,
                            instrument,
                            attempt,
                            rng,
                            min(1.0, tendency),
                            when,
                            fraction=1.0 if finished else 0.5,
                        )
                        result.answers += saved
                        when += timedelta(seconds=20 * saved + 30)
                        if finished:
                            service.submit(session, study, registry, instrument, attempt, when)
                            result.submitted += 1
                        when += timedelta(minutes=2)
            session.commit()
    app.extensions["steun.db"].dispose()
    log = lms.run_export()
    lines = [str(result), "Ran `steun export` and `steun report` into " + str(lms.export_dir)]
    if "Error" in log:
        lines.append(log)
    return "\n".join(lines)
