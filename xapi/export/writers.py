"""Writers of the researchers' files: long and wide tables (CSV, SPSS .sav), course progress,
a REDCap-style data dictionary and a readable Markdown codebook."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xapi.export.dataset import Answer, Dataset, WideKey, seconds_between
from xapi.export.spec import (
    InstrumentSpec,
    ItemSpec,
    ScoringSpec,
    score_scale,
    score_total,
    variable_name,
    visible,
)
from xapi.private_files import private_file, private_folder, seal_mode

LONG_COLUMNS = (
    "pseudonym",
    "child_code",
    "study",
    "wave",
    "instrument",
    "instrument_version",
    "item",
    "response",
    "value",
    "attempt",
    "registration",
    "timestamp",
    "statement_id",
    "shown",
)
PROGRESS_COLUMNS = (
    "pseudonym",
    "modules_started",
    "modules_completed",
    "exercises_answered",
    "course_completed",
    "course_completed_at",
    "time_spent_s",
    "first_activity",
    "last_activity",
    "provenance",
)


@dataclass
class Variable:
    name: str
    label: str
    form: str
    kind: str  # "text", "number", "score", "datetime", "identifier"
    value_labels: dict[float, str] = field(default_factory=dict)
    note: str = ""
    identifier: bool = False
    branching: str = ""  # REDCap branching logic: shown only if …


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer():
            return str(int(value))
        return f"{round(value, 4):.10g}"
    return str(value)


def _number(item: ItemSpec | None, response: str) -> float | None:
    if item is not None and not item.numeric:
        return None
    try:
        return float(response)
    except ValueError:
        return None


class Exporter:
    """Turns a :class:`Dataset` into tables, given the scoring spec."""

    def __init__(
        self, data: Dataset, spec: ScoringSpec, reasons: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.data = data
        self.spec = spec
        # The study's reason categories (id, label), for the codebook and the dictionary.
        self.reason_labels = tuple(reasons)
        seen = sorted(
            {i for per in data.answers.values() for i in per}
            | {i for per in data.completed.values() for i in per}
        )
        known = [s.id for s in spec.instruments]
        self.instruments: list[InstrumentSpec] = list(spec.instruments)
        for inst in seen:
            if inst not in known:
                items = sorted({it for per in data.answers.values() for it in per.get(inst, {})})
                self.instruments.append(
                    InstrumentSpec(inst, "", inst, tuple(ItemSpec(i, i, "fill-in") for i in items))
                )
        self.keys: list[WideKey] = sorted(set(data.answers) | set(data.completed))

    # -- long --
    def long_rows(self) -> Iterator[list[str]]:
        for key in self.keys:
            per = self.data.answers.get(key, {})
            for inst in self.instruments:
                answers = per.get(inst.id, {})
                order = [i.id for i in inst.items] + sorted(
                    set(answers) - {i.id for i in inst.items}
                )
                shown = shown_answers(inst, answers)
                for item_id in order:
                    a = answers.get(item_id)
                    if a is None:
                        continue
                    value = _number(inst.item(item_id), a.response)
                    yield [
                        key[0], key[1], key[2], key[3], inst.id, a.version, item_id, a.response,
                        fmt(value), a.attempt, a.registration, a.timestamp, a.statement_id,
                        "1" if item_id in shown else "0",
                    ]  # fmt: skip

    # -- wide --
    def variables(self) -> list[Variable]:
        v = [
            Variable("pseudonym", "Teacher (pseudonym)", "ids", "identifier", identifier=True),
            Variable("child_code", "Child (code)", "ids", "identifier", identifier=True),
            Variable("study", "Study", "ids", "text"),
            Variable("wave", "Wave", "ids", "text"),
            Variable(
                "reasons",
                "Why the teacher picked the child: reason category ids",
                "ids",
                "text",
                note=self._reasons_note(),
            ),
        ]
        for inst in self.instruments:
            for item in inst.items:
                kind = "number" if item.numeric else "text"
                v.append(
                    Variable(
                        variable_name(inst.id, item.id),
                        item.label or item.id,
                        inst.id,
                        kind,
                        {val: lbl for val, lbl in item.choices},
                        item.type,
                        branching=redcap_logic(item.show_if, inst) if item.show_if else "",
                    )
                )
            for scale in inst.scales:
                rule = f"{scale.method} of {', '.join(scale.items)}"
                if scale.reverse:
                    rule += f"; reversed: {', '.join(sorted(scale.reverse))}"
                rule += f"; missing if more than {scale.max_missing} item(s) unanswered"
                if scale.method == "sum" and scale.prorate:
                    rule += " (prorated)"
                v.append(
                    Variable(
                        variable_name(inst.id, scale.id),
                        scale.label or scale.id,
                        inst.id,
                        "score",
                        note=rule,
                    )
                )
            for total in inst.totals:
                rule = f"sum of {', '.join(total.of)}"
                if total.reverse:
                    rule += f"; mirrored: {', '.join(sorted(total.reverse))}"
                rule += "; missing if any part is missing"
                v.append(
                    Variable(
                        variable_name(inst.id, total.id),
                        total.label or total.id,
                        inst.id,
                        "score",
                        note=rule,
                    )
                )
            v.append(
                Variable(
                    variable_name(inst.id, "n_answered"),
                    f"{inst.id}: items answered",
                    inst.id,
                    "number",
                )
            )
            v.append(
                Variable(
                    variable_name(inst.id, "completed_at"),
                    f"{inst.id}: completed at (UTC)",
                    inst.id,
                    "datetime",
                )
            )
            v.append(
                Variable(
                    variable_name(inst.id, "duration_s"),
                    f"{inst.id}: seconds from first answer to completion",
                    inst.id,
                    "number",
                )
            )
        v += [
            Variable("course_modules_completed", "Course: modules completed", "course", "number"),
            Variable("course_completed", "Course: completed", "course", "number", {0.0: "nee / no", 1.0: "ja / yes"}),
            Variable("course_time_spent_s", "Course: time spent (seconds)", "course", "number"),
        ]  # fmt: skip
        return v

    def wide_rows(self) -> Iterator[list[Any]]:
        for key in self.keys:
            row: list[Any] = [*key, self.reasons(key)]
            per = self.data.answers.get(key, {})
            for inst in self.instruments:
                answers = shown_answers(inst, per.get(inst.id, {}))
                numeric: dict[str, float | None] = {}
                for item in inst.items:
                    a = answers.get(item.id)
                    if a is None:
                        row.append(None)
                        numeric[item.id] = None
                    elif item.numeric:
                        numeric[item.id] = _number(item, a.response)
                        row.append(numeric[item.id])
                    else:
                        row.append(a.response)
                scores = {}
                for scale in inst.scales:
                    scores[scale.id] = score_scale(scale, inst, numeric)
                    row.append(scores[scale.id])
                for total in inst.totals:
                    row.append(score_total(total, inst, scores))
                row.append(float(sum(1 for i in inst.items if i.id in answers)))
                done = self.data.completed.get(key, {}).get(inst.id)
                row.append(done)
                row.append(seconds_between(self.data.started.get(key, {}).get(inst.id), done))
            cp = self.data.course.get(key[0])
            if cp is None:
                row += [None, None, None]
            else:
                row += [
                    float(len(cp.modules_completed)),
                    1.0 if cp.course_completed_at else 0.0,
                    round(cp.seconds, 3),
                ]
            yield row

    def _reasons_note(self) -> str:
        note = "ids of the study's reasons, separated by ';' (empty: not recorded)"
        if self.reason_labels:
            note += ": " + "; ".join(f"{rid} = {label}" for rid, label in self.reason_labels)
        return note

    def reasons(self, key: WideKey) -> str:
        """The child's reason category ids, ';'-separated (children added before the
        statements carried them: empty)."""
        child = self.data.children.get((key[0], key[2], key[1]))
        return ";".join(child.reasons) if child else ""

    def progress_rows(self) -> Iterator[list[str]]:
        for pseudonym in sorted(self.data.course):
            cp = self.data.course[pseudonym]
            yield [
                pseudonym, str(len(cp.modules_started)), str(len(cp.modules_completed)),
                str(len(cp.exercises_answered)), "1" if cp.course_completed_at else "0",
                cp.course_completed_at or "", fmt(round(cp.seconds, 3)), cp.first or "", cp.last or "",
                ";".join(sorted(cp.provenance)),
            ]  # fmt: skip

    # -- files --
    def write_long_csv(self, path: Path) -> int:
        return _write_csv(path, LONG_COLUMNS, self.long_rows())

    def write_wide_csv(self, path: Path) -> int:
        names = [v.name for v in self.variables()]
        return _write_csv(path, names, ([fmt(x) for x in row] for row in self.wide_rows()))

    def write_progress_csv(self, path: Path) -> int:
        return _write_csv(path, PROGRESS_COLUMNS, self.progress_rows())

    def write_sav(self, path: Path) -> None:
        import pandas as pd
        import pyreadstat

        variables = self.variables()
        columns: dict[str, list[Any]] = {v.name: [] for v in variables}
        for row in self.wide_rows():
            for v, value in zip(variables, row, strict=True):
                columns[v.name].append(value)
        frame = pd.DataFrame(
            {
                v.name: pd.Series(
                    columns[v.name], dtype="float64" if v.kind in ("number", "score") else "object"
                )
                for v in variables
            }
        )
        for v in variables:
            if v.kind not in ("number", "score"):
                frame[v.name] = frame[v.name].fillna("").astype(str)
        pyreadstat.write_sav(
            frame,
            str(path),
            file_label="Steun export (wide)",
            column_labels={v.name: v.label[:255] for v in variables},
            variable_value_labels={v.name: v.value_labels for v in variables if v.value_labels},
            variable_measure={v.name: ("scale" if v.kind in ("number", "score") else "nominal") for v in variables},
        )  # fmt: skip

    def write_data_dictionary(self, path: Path) -> int:
        """REDCap's data dictionary layout (18 columns)."""
        header = (
            "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
            "Choices, Calculations, OR Slider Labels", "Field Note",
            "Text Validation Type OR Show Slider Number", "Text Validation Min",
            "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
            "Required Field?", "Custom Alignment", "Question Number (surveys only)",
            "Matrix Group Name", "Matrix Ranking?", "Field Annotation",
        )  # fmt: skip

        def rows() -> Iterator[list[str]]:
            for v in self.variables():
                if v.value_labels:
                    ftype = "radio"
                    choices = " | ".join(
                        f"{fmt(val)}, {lbl}" for val, lbl in v.value_labels.items()
                    )
                    validation = ""
                elif v.kind == "score":
                    ftype, choices, validation = "calc", v.note, ""
                elif v.kind == "number":
                    ftype, choices, validation = "text", "", "number"
                elif v.kind == "datetime":
                    ftype, choices, validation = "text", "", "datetime_seconds_ymd"
                else:
                    ftype, choices, validation = "text", "", ""
                vmin = vmax = ""
                if v.value_labels:
                    vmin, vmax = fmt(min(v.value_labels)), fmt(max(v.value_labels))
                yield [
                    v.name, v.form, "", ftype, v.label, choices, v.note if v.kind != "score" else "",
                    validation, vmin, vmax, "y" if v.identifier else "", v.branching, "", "", "",
                    "", "",
                    "@READONLY" if v.kind == "score" else "",
                ]  # fmt: skip

        return _write_csv(path, header, rows())

    def write_codebook_md(self, path: Path) -> None:
        lines = [
            "# Codebook — Steun export",
            "",
            "One row per teacher (pseudonym) × child (code) × wave in `wide.csv` / `wide.sav`;",
            "one row per final answer in `long.csv`. Empty cells are missing. Times are UTC.",
            "An answer to an item that branching hid is not administered: missing in `wide`,",
            "not counted in scores or `n_answered`, and `shown` = 0 in `long.csv`.",
            "",
        ]
        form = None
        for v in self.variables():
            if v.form != form:
                form = v.form
                lines += [
                    "",
                    f"## {form}",
                    "",
                    "| variable | label | type | values / rule |",
                    "|---|---|---|---|",
                ]
            values = "; ".join(f"{fmt(k)} = {lbl}" for k, lbl in v.value_labels.items()) or v.note
            if v.branching:
                values += f" — shown only if {v.branching}; missing when hidden"
            lines.append(f"| `{v.name}` | {_md(v.label)} | {v.kind} | {_md(values)} |")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def shown_answers(inst: InstrumentSpec, answers: dict[str, Answer]) -> dict[str, Answer]:
    """The answers of the items shown (see :func:`xapi.export.spec.visible`)."""
    if not answers or not any(item.show_if for item in inst.items):
        return answers
    shown = visible(inst, {item_id: a.response for item_id, a in answers.items()})
    return {item_id: a for item_id, a in answers.items() if item_id in shown}


def redcap_logic(condition: Any, inst: InstrumentSpec) -> str:
    """A ``show_if`` condition in REDCap's branching-logic syntax (``[var] = '1'``)."""

    def var(item_id: str) -> str:
        return f"[{variable_name(inst.id, item_id)}]"

    def lit(value: Any) -> str:
        if isinstance(value, bool):
            return "'1'" if value else "'0'"
        return f"'{fmt(value) if isinstance(value, float) else value}'"

    if "all" in condition:
        return "(" + " and ".join(redcap_logic(c, inst) for c in condition["all"]) + ")"
    if "any" in condition:
        return "(" + " or ".join(redcap_logic(c, inst) for c in condition["any"]) + ")"
    if "not" in condition:
        return "not(" + redcap_logic(condition["not"], inst) + ")"
    v = var(str(condition["item"]))
    parts = []
    if "answered" in condition:
        parts.append(f"{v} <> ''" if condition["answered"] else f"{v} = ''")
    if "equals" in condition:
        parts.append(f"{v} = {lit(condition['equals'])}")
    if "not_equals" in condition:
        parts.append(f"{v} <> {lit(condition['not_equals'])}")
    if "in" in condition:
        parts.append("(" + " or ".join(f"{v} = {lit(x)}" for x in condition["in"]) + ")")
    if "includes" in condition:
        parts.append(f"{v[:-1]}({condition['includes']})] = '1'")
    if "min" in condition:
        parts.append(f"{v} >= {fmt(float(condition['min']))}")
    if "max" in condition:
        parts.append(f"{v} <= {fmt(float(condition['max']))}")
    return " and ".join(parts) or f"{v} <> ''"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _write_csv(path: Path, header: Sequence[str], rows: Iterator[Sequence[str]]) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        width = len(header)
        for row in rows:
            if len(row) != width:  # a table whose rows do not fit its header is worse than none
                raise ValueError(
                    f"{path.name}: row {n + 1} has {len(row)} cells for {width} columns"
                )
            writer.writerow(row)
            n += 1
    return n


FORMATS = ("long", "wide", "sav", "progress", "dictionary", "codebook")


def export_all(
    data: Dataset,
    spec: ScoringSpec,
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    reasons: Sequence[tuple[str, str]] = (),
) -> dict[str, Path]:
    """Write the chosen files into ``out_dir``; returns what was written. ``reasons`` are the
    study's reason categories (id, label): the codebook and the dictionary name them."""
    private_folder(out_dir)
    exporter = Exporter(data, spec, reasons)
    written: dict[str, Path] = {}
    targets = {
        "long": ("long.csv", exporter.write_long_csv),
        "wide": ("wide.csv", exporter.write_wide_csv),
        "sav": ("wide.sav", exporter.write_sav),
        "progress": ("course_progress.csv", exporter.write_progress_csv),
        "dictionary": ("data_dictionary.csv", exporter.write_data_dictionary),
        "codebook": ("codebook.md", exporter.write_codebook_md),
    }
    for fmt_name in formats:
        if fmt_name not in targets:
            raise ValueError(
                f"unknown export format {fmt_name!r}; choose from {', '.join(FORMATS)}"
            )
        filename, write = targets[fmt_name]
        write(private_file(out_dir / filename))  # 0600 before the first byte is written
        written[fmt_name] = seal_mode(out_dir / filename)
    return written
