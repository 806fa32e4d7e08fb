"""The report: its numbers recomputed by hand from the export's files, its statistics against
known values, its sections and figures on empty, one-day and demo-like data."""

from __future__ import annotations

import csv
import math
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.xapi.demo_like import BASE, LIKERT, SPEC, F, statements
from xapi.export import ScoringSpec, collect, export_all
from xapi.report import StudyLayout, analyse, build_report, write_report
from xapi.report.figures import answers_per_day_axes
from xapi.report.stats import summarise, t_central_probability, t_quantile

# Student's t, 97.5% quantiles (any statistics table)
T_TABLE = {1: 12.7062, 2: 4.3027, 3: 3.1824, 5: 2.5706, 10: 2.2281, 20: 2.0860, 30: 2.0423,
           60: 2.0003, 120: 1.9799}  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("export")
    data = collect(statements(), BASE)
    export_all(data, ScoringSpec.from_dict(SPEC), out, ("long", "wide"))
    return out, data


def test_t_quantile_matches_the_table_and_scipy() -> None:
    for df, value in T_TABLE.items():
        assert t_quantile(0.975, df) == pytest.approx(value, abs=5e-5)
    assert t_central_probability(t_quantile(0.975, 7), 7) == pytest.approx(0.95, abs=1e-12)
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 4, 9, 17, 50, 333, 2000):
        for p in (0.9, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), abs=1e-9)


def test_summary_by_hand() -> None:
    s = summarise([1.0, 2.0, 4.0])
    sd = statistics.stdev([1, 2, 4])
    half = 4.302652729749 * sd / math.sqrt(3)
    assert (s.n, s.mean, s.sd) == (3, pytest.approx(7 / 3), pytest.approx(sd))
    assert (s.ci_low, s.ci_high) == (pytest.approx(7 / 3 - half), pytest.approx(7 / 3 + half))
    assert s.d_z == pytest.approx((7 / 3) / sd)
    assert summarise([2.0]).ci_low is None and summarise([]).mean is None


def _by_hand(rows: list[dict[str, str]], teacher: str, child: str, wave: str) -> dict[str, Any]:
    """Closeness = mean(r1..r3); conflict = r4 + r5 + (6 − r6), one missing allowed, prorated
    (sum × 3 / answered): the spec in demo_like.py, computed here without it."""
    values = {
        r["item"]: float(r["value"])
        for r in rows
        if (r["pseudonym"], r["child_code"], r["wave"]) == (teacher, child, wave)
        and r["shown"] == "1"
    }
    close = [values[i] for i in ("r1", "r2", "r3") if i in values]
    conflict = [values.get("r4"), values.get("r5"),
                6 - values["r6"] if "r6" in values else None]  # fmt: skip
    answered = [v for v in conflict if v is not None]
    return {
        "closeness": sum(close) / 3 if len(close) == 3 else None,
        "conflict": sum(answered) * 3 / len(answered) if len(answered) >= 2 else None,
    }


def test_a_paired_difference_recomputed_by_hand_from_long_csv(export: tuple[Path, Any]) -> None:
    """Teacher p-01's child B missed one conflict item at t2 (prorated): its change t2→t3 by
    hand from long.csv, then every child's, against the report's table and its HTML row."""
    out, data = export
    rows = read_csv(out / "long.csv")
    t2, t3 = _by_hand(rows, "p-01", "B", "t2"), _by_hand(rows, "p-01", "B", "t3")
    assert not any(r["item"] == "r5" and r["wave"] == "t2" and r["pseudonym"] == "p-01"
                   and r["child_code"] == "B" for r in rows)  # fmt: skip
    own = t3["conflict"] - t2["conflict"]
    wide = {(r["pseudonym"], r["child_code"], r["wave"]): r for r in read_csv(out / "wide.csv")}
    assert float(wide[("p-01", "B", "t2")]["demo_rel_conflict"]) == pytest.approx(t2["conflict"])

    children = sorted({(r["pseudonym"], r["child_code"]) for r in rows})
    diffs = []
    for teacher, child in children:
        a, b = (_by_hand(rows, teacher, child, w)["conflict"] for w in ("t2", "t3"))
        if a is not None and b is not None:
            diffs.append(b - a)
    assert own in diffs and len(diffs) == 24
    mean, sd = statistics.mean(diffs), statistics.stdev(diffs)
    half = t_quantile(0.975, len(diffs) - 1) * sd / math.sqrt(len(diffs))

    analysis = analyse(data, ScoringSpec.from_dict(SPEC))
    result = next(r for r in analysis.scores if r.score.column == "demo_rel_conflict")
    assert result.after is not None and (result.after.a, result.after.b) == ("t2", "t3")
    s = result.after.summary
    assert (s.n, s.mean, s.sd) == (24, pytest.approx(mean), pytest.approx(sd))
    assert s.ci_low == pytest.approx(mean - half) and s.d_z == pytest.approx(mean / sd)

    page = build_report(data, ScoringSpec.from_dict(SPEC))
    row = re.search(r'<tr id="change-demo_rel_conflict-t2-t3">(.*?)</tr>', page)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[3:] == ["24", f"{mean:.2f}", f"{sd:.2f}",
                         f"[{mean - half:.2f}; {mean + half:.2f}]", f"{mean / sd:.2f}"]  # fmt: skip


def test_wave_means_and_difference_in_change_match_wide_csv(export: tuple[Path, Any]) -> None:
    out, data = export
    wide = read_csv(out / "wide.csv")
    analysis = analyse(data, ScoringSpec.from_dict(SPEC))
    assert analysis.waves == ["t1", "t2", "t3"] and analysis.design == ("t1", "t2", "t3")
    closeness = next(r for r in analysis.scores if r.score.id == "closeness")
    score: dict[tuple[str, str], dict[str, float]] = {}
    for r in wide:
        score.setdefault((r["pseudonym"], r["child_code"]), {})[r["wave"]] = float(
            r["demo_rel_closeness"]
        )
        assert r["reasons"]  # every demo-like child has its reasons in wide.csv
    for wave in ("t1", "t2", "t3"):
        values = [v[wave] for v in score.values()]
        assert closeness.per_wave[wave].mean == pytest.approx(statistics.mean(values))
        assert closeness.per_wave[wave].n == 24
    did = [(v["t3"] - v["t2"]) - (v["t2"] - v["t1"]) for v in score.values()]
    assert closeness.did is not None
    assert closeness.did.mean == pytest.approx(statistics.mean(did))
    assert closeness.did.sd == pytest.approx(statistics.stdev(did))
    # the demo-like data were made with closeness rising after the course only
    assert closeness.did.ci_low is not None and closeness.did.ci_low > 0


def test_by_reason_and_by_course_progress(export: tuple[Path, Any]) -> None:
    _, data = export
    layout = StudyLayout(
        waves=(("t1", "Meting 1"), ("t2", "Meting 2"), ("t3", "Meting 3")),
        reasons=(("loss", "Verlies / Loss"), ("other", "Anders / Other")),
    )
    analysis = analyse(data, ScoringSpec.from_dict(SPEC), layout)
    groups = {g.group: g for g in analysis.by_reason["demo_rel_closeness"]}
    with_loss = sum(1 for c in data.children.values() if "loss" in c.reasons)
    assert groups["loss"].children == with_loss and groups["loss"].label == "Verlies / Loss"
    assert groups["other"].children == 0 and groups["other"].did.mean is None
    assert "poverty" in groups  # seen in the data, not in the layout: still shown
    course = {g.group: g for g in analysis.by_course["demo_rel_closeness"]}
    # teachers 0, 4 completed; 2, 6 started only; the odd ones have no course records
    assert (course["completed"].children, course["not_completed"].children) == (6, 6)
    assert course["none"].children == 12
    assert analysis.course_teachers == 4 and analysis.course_completed == 2


def test_response_missing_and_consent(export: tuple[Path, Any]) -> None:
    _, data = export
    analysis = analyse(data, ScoringSpec.from_dict(SPEC))
    assert [(r.wave, r.teachers, r.children, r.started, r.completed) for r in analysis.response] == [
        ("t1", 8, 24, 24, 24), ("t2", 8, 24, 24, 24), ("t3", 8, 24, 24, 24)
    ]  # fmt: skip
    r5 = {m.wave: m for m in analysis.missing if m.item == "r5"}
    assert (r5["t2"].completed, r5["t2"].answered, r5["t2"].missing) == (24, 23, 1)
    assert r5["t1"].missing == 0
    assert analysis.consent == {"consented": 8, "withdrawn": 0, "children_added": 24,
                                "children_withdrawn": 0, "children_with_reasons": 24}  # fmt: skip


def test_the_page_is_one_file_answering_the_question_first(
    export: tuple[Path, Any], tmp_path: Path
) -> None:
    _, data = export
    path = write_report(data, tmp_path / "r.html", ScoringSpec.from_dict(SPEC))
    page = path.read_text(encoding="utf-8")
    body = page.split("<body>")[1]
    assert "http" not in re.sub(r'src="data:[^"]*"', "", body)
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings[0].startswith("1. De vraag") and len(headings) == 8
    assert page.count('src="data:image/png;base64,') >= 6
    assert 'id="did-demo_rel_closeness"' in page


def test_empty_and_early_data_give_sentences_not_empty_charts(tmp_path: Path) -> None:
    page = build_report(collect([], BASE), ScoringSpec.from_dict(SPEC))
    assert "data:image" not in page and "onleesbaar" not in page
    assert "Nog geen cursusgegevens. / No course records yet." in page
    assert "Nog geen antwoorden. / No answers yet." in page
    # one wave only: no comparison yet, but the wave's means are drawn
    one_wave = [s for s in statements(teachers=2) if "/wave/t1" in str(s.get("context"))]
    page = build_report(collect(one_wave, BASE), ScoringSpec.from_dict(SPEC))
    assert "Nog geen vergelijking" in page and page.count("data:image") >= 2
    # the study says three waves: the comparison's tables are there, its figures are sentences
    layout = StudyLayout(waves=(("t1", "M1"), ("t2", "M2"), ("t3", "M3")), reasons=(("loss", "L"),))
    page = build_report(collect(one_wave, BASE), ScoringSpec.from_dict(SPEC), layout)
    assert 'id="did-demo_rel_closeness"' in page
    assert "Nog geen kinderen met scores op twee opeenvolgende meetmomenten" in page
    assert "Nog geen kinderen met redenen en scores" in page
    # a statement that cannot be read is left out, and the report says so
    broken = [*one_wave, {"id": "x", "actor": {"account": {"name": 5}}, "verb": []}]
    page = build_report(collect(broken, BASE), ScoringSpec.from_dict(SPEC), layout)
    assert "1 statements waren onleesbaar" in page


def test_one_day_of_answers_gets_a_date_axis_of_days() -> None:
    at = datetime(2026, 12, 7, 10, tzinfo=UTC)
    answers = [
        F.item_answered("p-1", at, study="s", wave=w, instrument="demo-rel", instrument_version="1",
                        item="r1", response=3, child_code="A", attempt=1, definition=LIKERT)
        for w in ("t1", "t2", "t3")
    ]  # fmt: skip
    analysis = analyse(collect(answers, BASE), ScoringSpec.from_dict(SPEC))
    ax = answers_per_day_axes(analysis)
    assert ax is not None
    import matplotlib.dates as mdates

    low, high = (mdates.num2date(x) for x in ax.get_xlim())
    assert (high - low).days <= 3
    assert all(float(tick).is_integer() for tick in ax.get_xticks())  # whole days, no hours
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["t1", "t2", "t3"]


def test_cli_report_with_spec_and_course_wave(tmp_path: Path, settings: Any) -> None:
    import json

    from click.testing import CliRunner

    from steun_lti.cli import main

    source = tmp_path / "statements.jsonl"
    source.write_text("\n".join(json.dumps(s) for s in statements(teachers=3)) + "\n")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    settings = settings.model_copy(update={"base_url": BASE})
    runner = CliRunner()

    def report(*extra: str) -> Any:
        args = ["report", str(tmp_path / "r.html"), "--from-file", str(source), "--spec", str(spec)]
        return runner.invoke(main, [*args, *extra], obj={"settings": settings})

    out = report()
    assert out.exit_code == 0, out.output
    page = (tmp_path / "r.html").read_text()
    assert 'id="did-demo_rel_closeness"' in page and "cursus na / course after t2" in page
    # the bundled demo study's reason labels, Dutch / English
    assert "Signalen van verwaarlozing / Signs of neglect" in page
    out = report("--course-after", "t1")  # nothing before t1: no comparison
    assert out.exit_code == 0, out.output
    assert "Nog geen vergelijking" in (tmp_path / "r.html").read_text()
    out = report("--course-after", "t9")
    assert out.exit_code == 2 and "'t9' is not a wave of the study (t1, t2, t3)" in out.output
