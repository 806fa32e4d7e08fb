"""What the report shows, as numbers: scores per wave, within-child change before and after the
course, the difference in change, the same by reason and by course progress, response and
missing data. The HTML and the figures are drawn from an :class:`Analysis`; tests read it too.

Scores come from the export's own wide table (:class:`xapi.export.writers.Exporter` with the same
scoring spec), so every number here can be recomputed from ``wide.csv`` or ``long.csv``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import pandas as pd

from xapi.export.dataset import Dataset
from xapi.export.spec import ScoringSpec, administered, variable_name
from xapi.export.writers import Exporter, shown_answers
from xapi.report.stats import Summary, summarise

CHILD = ["pseudonym", "study", "child_code"]


@dataclass(frozen=True)
class StudyLayout:
    """What the data do not say about the study: the waves in order with their labels, the
    reason categories with their labels, and the wave after which the course takes place (the
    change into the next wave is "after the course", the change into it "before").

    Everything is optional: without waves, their order is that of each wave's first answer;
    without ``course_after``, it is the second wave (t1, t2 before the course; t3 after)."""

    waves: Sequence[tuple[str, str]] = ()
    reasons: Sequence[tuple[str, str]] = ()
    course_after: str | None = None


@dataclass(frozen=True)
class Score:
    """One score column of the wide table: a subscale or a total of an instrument."""

    instrument: str
    instrument_label: str
    id: str
    label: str
    column: str


@dataclass(frozen=True)
class Change:
    """Within-child change of one score from wave ``a`` to wave ``b`` (paired differences)."""

    a: str
    b: str
    summary: Summary


@dataclass
class ScoreResult:
    score: Score
    per_wave: dict[str, Summary]
    changes: list[Change]
    before: Change | None
    after: Change | None
    # (b − a after) − (b − a before) per child: the course's effect beyond the change without it
    did: Summary | None


@dataclass
class GroupResult:
    """A group of children (a reason, a course status): change before, after, and their difference."""

    group: str
    label: str
    children: int
    before: Summary
    after: Summary
    did: Summary


@dataclass
class WaveResponse:
    wave: str
    teachers: int
    children: int
    started: int
    completed: int


@dataclass
class ItemMissing:
    instrument: str
    item: str
    label: str
    wave: str
    completed: int  # completed questionnaires of this instrument in this wave
    answered: int
    hidden: int  # not administered: branching hid the item
    missing: int  # administered, not answered


@dataclass
class Analysis:
    waves: list[str]
    wave_labels: dict[str, str]
    wave_first: dict[str, str]
    design: tuple[str, str, str] | None  # (before, course_after, after)
    scores: list[ScoreResult]
    by_reason: dict[str, list[GroupResult]]  # score column -> groups
    reason_labels: dict[str, str]
    by_course: dict[str, list[GroupResult]]
    course_teachers: int
    course_completed: int
    course_modules: dict[int, int]
    response: list[WaveResponse]
    response_by_instrument: list[tuple[str, str, int, int]]  # wave, instrument, started, completed
    missing: list[ItemMissing]
    consent: dict[str, int]
    answers_per_day: dict[str, dict[str, int]]  # wave -> day -> answers
    wide: pd.DataFrame = field(repr=False)


def wide_frame(data: Dataset, spec: ScoringSpec) -> tuple[pd.DataFrame, Exporter]:
    """The wide table exactly as ``wide.csv`` holds it (numbers as numbers)."""
    exporter = Exporter(data, spec)
    names = [v.name for v in exporter.variables()]
    frame = pd.DataFrame(list(exporter.wide_rows()), columns=names)
    return frame, exporter


def _scores(exporter: Exporter) -> list[Score]:
    out = []
    for inst in exporter.instruments:
        label = inst.label or inst.id
        for scale in inst.scales:
            out.append(
                Score(
                    inst.id,
                    label,
                    scale.id,
                    scale.label or scale.id,
                    variable_name(inst.id, scale.id),
                )
            )
        for total in inst.totals:
            out.append(
                Score(
                    inst.id,
                    label,
                    total.id,
                    total.label or total.id,
                    variable_name(inst.id, total.id),
                )
            )
    return out


def wave_order(data: Dataset, layout: StudyLayout) -> tuple[list[str], dict[str, str]]:
    """The waves in the study's order, then any other wave by its first answer (then by id)."""
    first: dict[str, str] = {}
    for key, per in data.started.items():
        for ts in per.values():
            if key[3] not in first or ts < first[key[3]]:
                first[key[3]] = ts
    for key in data.answers:
        first.setdefault(key[3], "")
    known = [w for w, _ in layout.waves]
    rest = sorted((w for w in first if w not in known), key=lambda w: (first[w] or "~", w))
    return [*known, *rest], first


def _design(waves: list[str], layout: StudyLayout) -> tuple[str, str, str] | None:
    pivot = layout.course_after if layout.course_after in waves else None
    if pivot is None and len(waves) >= 3:
        pivot = waves[1]
    if pivot is None:
        return None
    i = waves.index(pivot)
    if i < 1 or i + 1 >= len(waves):
        return None
    return waves[i - 1], pivot, waves[i + 1]


def _by_child(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Child (teacher, study, code) × wave table of one score."""
    if frame.empty:
        return pd.DataFrame()
    values = pd.to_numeric(frame[column], errors="coerce")
    table = frame[[*CHILD, "wave"]].assign(value=values)
    return table.set_index([*CHILD, "wave"])["value"].unstack("wave")


def _diff(wide: pd.DataFrame, a: str, b: str) -> pd.Series:
    if a not in wide.columns or b not in wide.columns:
        return pd.Series(dtype=float)
    return (wide[b] - wide[a]).dropna()


def _did(wide: pd.DataFrame, design: tuple[str, str, str]) -> pd.Series:
    w0, w1, w2 = design
    if not {w0, w1, w2} <= set(wide.columns):
        return pd.Series(dtype=float)
    return ((wide[w2] - wide[w1]) - (wide[w1] - wide[w0])).dropna()


def _group(
    wide: pd.DataFrame, members: pd.Index, design: tuple[str, str, str], group: str, label: str
) -> GroupResult:
    sub = wide.loc[wide.index.intersection(members)]
    w0, w1, w2 = design
    return GroupResult(
        group,
        label,
        len(sub),
        summarise(_diff(sub, w0, w1)),
        summarise(_diff(sub, w1, w2)),
        summarise(_did(sub, design)),
    )


def analyse(data: Dataset, spec: ScoringSpec, layout: StudyLayout | None = None) -> Analysis:
    layout = layout or StudyLayout()
    frame, exporter = wide_frame(data, spec)
    waves, first = wave_order(data, layout)
    labels = {w: lbl for w, lbl in layout.waves}
    design = _design(waves, layout)

    # children by reason and teachers by course status (index: pseudonym, study, child_code)
    children = frame[CHILD].drop_duplicates()
    index = (
        pd.MultiIndex.from_frame(children)
        if not children.empty
        else pd.MultiIndex.from_tuples([], names=CHILD)
    )
    reasons_of = {
        key: data.children[(key[0], key[1], key[2])].reasons
        if (key[0], key[1], key[2]) in data.children
        else ()
        for key in index
    }
    reason_labels = dict(layout.reasons)
    seen = sorted({r for rs in reasons_of.values() for r in rs} - set(reason_labels))
    reason_ids = [r for r, _ in layout.reasons] + seen
    for r in seen:
        reason_labels[r] = r

    def course_status(pseudonym: str) -> str:
        cp = data.course.get(pseudonym)
        if cp is None:
            return "none"
        return "completed" if cp.course_completed_at else "not_completed"

    scores: list[ScoreResult] = []
    by_reason: dict[str, list[GroupResult]] = {}
    by_course: dict[str, list[GroupResult]] = {}
    for score in _scores(exporter):
        wide = _by_child(frame, score.column)
        per_wave = {w: summarise(wide[w]) if w in wide.columns else summarise([]) for w in waves}
        changes = [Change(a, b, summarise(_diff(wide, a, b))) for a, b in pairwise(waves)]
        before = after = None
        did = None
        if design is not None:
            before = next((c for c in changes if (c.a, c.b) == design[:2]), None)
            after = next((c for c in changes if (c.a, c.b) == design[1:]), None)
            did = summarise(_did(wide, design))
            groups = []
            for r in reason_ids:
                members = pd.Index([k for k, rs in reasons_of.items() if r in rs])
                groups.append(_group(wide, members, design, r, reason_labels[r]))
            unknown = pd.Index([k for k, rs in reasons_of.items() if not rs])
            if len(unknown):
                groups.append(
                    _group(wide, unknown, design, "", "geen reden vastgelegd / no reason recorded")
                )
            by_reason[score.column] = groups
            if data.course:
                course_groups = []
                for status, label in COURSE_GROUPS:
                    members = pd.Index([k for k in index if course_status(k[0]) == status])
                    course_groups.append(_group(wide, members, design, status, label))
                by_course[score.column] = course_groups
        scores.append(ScoreResult(score, per_wave, changes, before, after, did))

    modules: dict[int, int] = defaultdict(int)
    for cp in data.course.values():
        modules[len(cp.modules_completed)] += 1
    per_day: dict[str, dict[str, int]] = defaultdict(dict)
    for (wave, day), n in data.answers_per_day.items():
        per_day[wave][day] = n
    return Analysis(
        waves=waves,
        wave_labels=labels,
        wave_first=first,
        design=design,
        scores=scores,
        by_reason=by_reason,
        reason_labels=reason_labels,
        by_course=by_course,
        course_teachers=len(data.course),
        course_completed=sum(1 for cp in data.course.values() if cp.course_completed_at),
        course_modules=dict(sorted(modules.items())),
        response=_response(data, waves),
        response_by_instrument=_response_by_instrument(data, waves),
        missing=_missing(data, exporter, waves),
        consent=_consent(data),
        answers_per_day=dict(per_day),
        wide=frame,
    )


COURSE_GROUPS = (
    ("completed", "cursus voltooid / course completed"),
    ("not_completed", "cursus begonnen, niet voltooid / started, not completed"),
    ("none", "geen cursusgegevens / no course records"),
)


def _response(data: Dataset, waves: list[str]) -> list[WaveResponse]:
    out = []
    keys = set(data.started) | set(data.answers) | set(data.completed)
    for wave in waves:
        in_wave = [k for k in keys if k[3] == wave]
        out.append(
            WaveResponse(
                wave,
                teachers=len({k[0] for k in in_wave}),
                children=len({(k[0], k[2], k[1]) for k in in_wave}),
                started=sum(len(data.started.get(k, {})) for k in in_wave),
                completed=sum(len(data.completed.get(k, {})) for k in in_wave),
            )
        )
    return out


def _response_by_instrument(data: Dataset, waves: list[str]) -> list[tuple[str, str, int, int]]:
    started: dict[tuple[str, str], int] = defaultdict(int)
    done: dict[tuple[str, str], int] = defaultdict(int)
    for key, per in data.started.items():
        for inst in per:
            started[(key[3], inst)] += 1
            if inst in data.completed.get(key, {}):
                done[(key[3], inst)] += 1
    order = {w: i for i, w in enumerate(waves)}
    return [
        (w, i, started[(w, i)], done[(w, i)])
        for w, i in sorted(started, key=lambda k: (order.get(k[0], len(order)), k[1]))
    ]


def _missing(data: Dataset, exporter: Exporter, waves: list[str]) -> list[ItemMissing]:
    """Per item and wave, over the completed questionnaires: answered, hidden by branching
    (not administered) and missing (administered, not answered)."""
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for key, per in data.completed.items():
        for inst in exporter.instruments:
            if inst.id not in per or not inst.items:
                continue
            answers = data.answers.get(key, {}).get(inst.id, {})
            shown = shown_answers(inst, answers)
            asked = administered(inst, {i: a.response for i, a in shown.items()})
            for item in inst.items:
                c = counts[(inst.id, item.id, key[3])]
                c[0] += 1
                if item.id in shown:
                    c[1] += 1
                elif item.id not in asked:
                    c[2] += 1
                else:
                    c[3] += 1
    out = []
    for inst in exporter.instruments:
        for item in inst.items:
            for wave in waves:
                found = counts.get((inst.id, item.id, wave))
                if found is not None:
                    out.append(ItemMissing(inst.id, item.id, item.label, wave, *found))
    return out


def _consent(data: Dataset) -> dict[str, int]:
    consented = sum(1 for c in data.consent.values() if c.consented_at)
    withdrawn = sum(
        1
        for c in data.consent.values()
        if c.withdrawn_at and (c.consented_at is None or c.withdrawn_at >= c.consented_at)
    )
    return {
        "consented": consented,
        "withdrawn": withdrawn,
        "children_added": sum(1 for c in data.children.values() if c.added_at),
        "children_withdrawn": sum(1 for c in data.children.values() if c.withdrawn_at),
        "children_with_reasons": sum(1 for c in data.children.values() if c.reasons),
    }


def wave_label(analysis: Analysis, wave: str) -> str:
    label = analysis.wave_labels.get(wave)
    return f"{wave}: {label}" if label else wave
