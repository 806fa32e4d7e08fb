"""The study definition: waves with their windows, instruments per wave, reasons, consent letter.

Dates are data: wave windows are local date-times in the study's time zone (Europe/Amsterdam),
stored and compared as aware datetimes, so summer time is handled by the zone database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from jsonschema import Draft202012Validator

from steun_lti.questionnaires.definition import SAFE_LOADER, Text, tr
from steun_lti.questionnaires.errors import InstrumentError
from steun_lti.questionnaires.registry import InstrumentRegistry

if TYPE_CHECKING:
    from xapi.report.analysis import StudyLayout

OPEN, UPCOMING, LATE, CLOSED = "open", "upcoming", "late", "closed"


@dataclass(frozen=True)
class Reason:
    id: str
    label: Text


@dataclass(frozen=True)
class Wave:
    id: str
    title: Text
    opens: datetime
    closes: datetime
    instruments: tuple[str, ...]
    child_instruments: tuple[str, ...] = ()
    late_until: datetime | None = None

    def state(self, now: datetime) -> str:
        if now < self.opens:
            return UPCOMING
        if now < self.closes:
            return OPEN
        if self.late_until is not None and now < self.late_until:
            return LATE
        return CLOSED

    def accepts_answers(self, now: datetime) -> bool:
        return self.state(now) in (OPEN, LATE)


@dataclass(frozen=True)
class Study:
    id: str
    title: Text
    timezone: ZoneInfo
    consent_version: str
    letter: Text
    reasons: tuple[Reason, ...]
    waves: tuple[Wave, ...]
    child_form: bool = False
    parental_consent_text: Text | None = None
    max_children: int = 10
    reason_comment_max: int = 200
    source: str = ""

    def wave(self, wave_id: str) -> Wave | None:
        return next((w for w in self.waves if w.id == wave_id), None)

    def current_wave(self, now: datetime) -> Wave:
        """The wave a teacher should see first: the open one, else the next, else the last."""
        for state in (OPEN, LATE):
            for wave in self.waves:
                if wave.state(now) == state:
                    return wave
        upcoming = [w for w in self.waves if w.state(now) == UPCOMING]
        return upcoming[0] if upcoming else self.waves[-1]

    def reason_label(self, reason_id: str, lang: str) -> str:
        reason = next((r for r in self.reasons if r.id == reason_id), None)
        return tr(reason.label, lang) if reason else reason_id


@cache
def schema() -> dict[str, Any]:
    text = resources.files("steun_lti.study").joinpath("study.schema.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


def bundled_study_path() -> Path:
    return Path(str(resources.files("steun_lti.study").joinpath("demo_study.yaml")))


def _normalise(node: Any) -> Any:
    """YAML turns some date-times into objects; the schema wants the text the author wrote."""
    if isinstance(node, datetime):
        return node.replace(tzinfo=None).isoformat(timespec="minutes")
    if isinstance(node, date):
        return node.isoformat()
    if isinstance(node, dict):
        return {k: _normalise(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_normalise(v) for v in node]
    return node


def load_study(path: Path, registry: InstrumentRegistry) -> Study:
    source = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506
    except OSError as exc:
        raise InstrumentError(source, f"cannot read the study file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InstrumentError(source, f"not valid YAML{where}") from None
    return parse_study(data, registry, source)


def parse_study(data: Any, registry: InstrumentRegistry, source: str = "<study>") -> Study:
    if not isinstance(data, dict):
        raise InstrumentError(source, "the study file must hold a mapping")
    data = _normalise(data)
    errors = sorted(
        Draft202012Validator(schema()).iter_errors(data), key=lambda e: list(e.absolute_path)
    )
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise InstrumentError(source, f"at {where}: {first.message}")
    try:
        zone = ZoneInfo(data.get("timezone", "Europe/Amsterdam"))
    except (ZoneInfoNotFoundError, ValueError):
        raise InstrumentError(source, f"unknown time zone {data.get('timezone')!r}") from None

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=zone)

    child_form = data.get("child_form", {}).get("enabled", False)
    waves: list[Wave] = []
    for raw in data["waves"]:
        label = f"wave {raw['id']!r}"
        if any(w.id == raw["id"] for w in waves):
            raise InstrumentError(source, f"{label} is defined twice")
        wave = Wave(
            id=raw["id"],
            title=raw["title"],
            opens=when(raw["opens"]),
            closes=when(raw["closes"]),
            late_until=when(raw["late_until"]) if raw.get("late_until") else None,
            instruments=tuple(raw["instruments"]),
            child_instruments=tuple(raw.get("child_instruments", ())) if child_form else (),
        )
        if wave.closes <= wave.opens:
            raise InstrumentError(source, f"{label} closes before it opens")
        if wave.late_until is not None and wave.late_until <= wave.closes:
            raise InstrumentError(source, f"{label}: late_until must be after closes")
        for instrument_id in wave.instruments:
            if instrument_id not in registry:
                raise InstrumentError(source, f"{label} names unknown instrument {instrument_id!r}")
            if registry.get(instrument_id).informant != "teacher":
                raise InstrumentError(
                    source, f"{label}: {instrument_id!r} is not a teacher questionnaire"
                )
        for instrument_id in wave.child_instruments:
            if instrument_id not in registry:
                raise InstrumentError(source, f"{label} names unknown instrument {instrument_id!r}")
            if registry.get(instrument_id).informant != "child":
                raise InstrumentError(source, f"{label}: {instrument_id!r} is not a child form")
        waves.append(wave)
    ids = [r["id"] for r in data["reasons"]]
    if len(set(ids)) != len(ids):
        raise InstrumentError(source, "a reason id is used twice")
    return Study(
        id=data["id"],
        title=data["title"],
        timezone=zone,
        consent_version=data["consent"]["version"],
        letter=data["consent"]["letter"],
        reasons=tuple(Reason(id=r["id"], label=r["label"]) for r in data["reasons"]),
        waves=tuple(waves),
        child_form=child_form,
        parental_consent_text=data.get("child_form", {}).get("parental_consent_text"),
        max_children=data.get("max_children", 10),
        reason_comment_max=data.get("reason_comment_max", 200),
        source=source,
    )


def _both(text: Text) -> str:
    nl, en = tr(text, "nl"), tr(text, "en")
    return nl if nl == en or not en else f"{nl} / {en}"


def report_layout(study: Study) -> StudyLayout:
    """What ``steun report`` needs to know of the study: the waves in order and the reason
    categories, labelled Dutch / English (the course follows the second wave: the default)."""
    from xapi.report.analysis import StudyLayout

    return StudyLayout(
        waves=tuple((w.id, _both(w.title)) for w in study.waves),
        reasons=tuple((r.id, _both(r.label)) for r in study.reasons),
    )


def format_when(moment: datetime, zone: ZoneInfo, lang: str) -> str:
    """A wave time as a teacher reads it, in the study's zone (e.g. 'ma 15 februari 2027, 08:00')."""
    from babel.dates import format_datetime

    return format_datetime(
        moment.astimezone(zone), "EEE d MMMM y, HH:mm", locale="nl_NL" if lang == "nl" else "en_GB"
    )
