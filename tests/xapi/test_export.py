"""Export of a small hand-made dataset; the expected scores are computed by hand below.

Instrument demo-relatie v1, items q1..q4 on 1..5.
  nabijheid = mean(q1, q2), no missing item allowed
  conflict  = sum(q3, reversed q4), one missing item allowed (prorated: mean × 2)
              reversed q4 = 1 + 5 − q4

  p-a / A / t1: q1 2→4 (changed; the later answer counts), q2 5, q3 2, q4 1 (reversed 5)
                nabijheid (4+5)/2 = 4.5; conflict 2+5 = 7; first answer 10:00, completed 10:05 → 300 s
  p-a / B / t1: q1 3, q3 4 (q2, q4 missing)
                nabijheid missing (1 missing > 0); conflict prorated 4 × 2 = 8
  p-b / A / t2: q1 1, q2 2 (q3, q4 missing)
                nabijheid 1.5; conflict missing (2 missing > 1)
Reasons: p-a/A loss and poverty, p-a/B loss changed to behaviour (the latest counts); p-b/A was added before statements carried them.
Course: p-a completed m1 (PT10M) and started m2 → 1 module, 600 s, not completed;
        p-b completed the course (PT1H) → 0 modules, 3600 s, completed.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from xapi.export import ScoringSpec, collect, export_all
from xapi.statements import Choice, ItemDefinition, StatementFactory

BASE = "https://steun.example.nl"
GOLDEN = Path(__file__).with_name("golden")
F = StatementFactory(BASE)
LIKERT = ItemDefinition("likert", None, tuple(Choice(str(v), f"{v}") for v in range(1, 6)))
SPEC = {
    "instruments": [
        {
            "id": "demo-relatie",
            "version": "1",
            "label": "Demo relatie",
            "items": [
                {"id": f"q{i}", "label": f"Vraag {i}", "choices": [[v, lbl] for v, lbl in enumerate(
                    ["helemaal niet", "niet", "soms", "wel", "helemaal wel"], start=1)]}
                for i in range(1, 5)
            ],
            "scales": [
                {"id": "nabijheid", "label": "Nabijheid", "items": ["q1", "q2"], "method": "mean"},
                {"id": "conflict", "label": "Conflict", "items": ["q3", "q4"], "method": "sum",
                 "reverse": ["q4"], "max_missing": 1, "prorate": True},
            ],
        }
    ]
}  # fmt: skip


def t(hour: int, minute: int) -> datetime:
    return datetime(2027, 2, 15, hour, minute, tzinfo=UTC)


def dataset() -> list[dict[str, Any]]:
    out = []

    def answer(p: str, child: str, wave: str, item: str, value: int, at: datetime) -> None:
        out.append(
            F.item_answered(p, at, study="steun", wave=wave, instrument="demo-relatie",
                            instrument_version="1", item=item, response=value, child_code=child,
                            attempt=1, definition=LIKERT)
        )  # fmt: skip

    out.append(F.child("p-a", t(9, 50), study="steun", child_code="A", added=True, reasons=["loss", "poverty"]))  # fmt: skip
    out.append(F.child("p-a", t(9, 51), study="steun", child_code="B", added=True, reasons=["loss"]))  # fmt: skip
    out.append(F.child_reasons("p-a", t(9, 52), study="steun", child_code="B", reasons=["behaviour"]))  # fmt: skip
    out.append(F.consent("p-a", t(9, 40), study="steun", given=True, consent_version="1"))
    answer("p-a", "A", "t1", "q1", 2, t(10, 0))
    answer("p-a", "A", "t1", "q2", 5, t(10, 1))
    answer("p-a", "A", "t1", "q3", 2, t(10, 2))
    answer("p-a", "A", "t1", "q4", 1, t(10, 3))
    answer("p-a", "A", "t1", "q1", 4, t(10, 4))
    out.append(
        F.questionnaire_completed("p-a", t(10, 5), study="steun", wave="t1", instrument="demo-relatie",
                                  instrument_version="1", child_code="A", attempt=1)
    )  # fmt: skip
    answer("p-a", "B", "t1", "q1", 3, t(11, 0))
    answer("p-a", "B", "t1", "q3", 4, t(11, 1))
    answer("p-b", "A", "t2", "q1", 1, t(12, 0))
    answer("p-b", "A", "t2", "q2", 2, t(12, 1))
    key = {"provenance": "package-key:k1"}  # p-b's record has none: from before decision 0012
    out.append(F.course_event("p-a", t(9, 0), course="steun", event="module_started", module="m1", **key))  # fmt: skip
    out.append(F.course_event("p-a", t(9, 10), course="steun", event="module_completed", module="m1", duration="PT10M", **key))  # fmt: skip
    out.append(F.course_event("p-a", t(9, 11), course="steun", event="module_started", module="m2", **key))  # fmt: skip
    out.append(F.course_event("p-b", t(8, 0), course="steun", event="course_completed", duration="PT1H"))  # fmt: skip
    out.reverse()  # the LRS returns newest first; the export must not depend on order
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    export_all(collect(dataset(), BASE), ScoringSpec.from_dict(SPEC), tmp_path)
    return tmp_path


def test_wide_table_has_the_hand_computed_scores(exported: Path) -> None:
    rows = {
        (r["pseudonym"], r["child_code"], r["wave"]): r for r in read_csv(exported / "wide.csv")
    }
    a = rows[("p-a", "A", "t1")]
    assert (a["demo_relatie_q1"], a["demo_relatie_q4"]) == ("4", "1")
    assert a["demo_relatie_nabijheid"] == "4.5"
    assert a["demo_relatie_conflict"] == "7"
    assert a["demo_relatie_duration_s"] == "300"
    assert a["demo_relatie_completed_at"].startswith("2027-02-15T10:05:00")
    assert (a["course_modules_completed"], a["course_completed"], a["course_time_spent_s"]) == (
        "1",
        "0",
        "600",
    )
    b = rows[("p-a", "B", "t1")]
    assert b["demo_relatie_q2"] == "" and b["demo_relatie_nabijheid"] == ""
    assert b["demo_relatie_conflict"] == "8"
    assert b["demo_relatie_completed_at"] == "" and b["demo_relatie_n_answered"] == "2"
    assert (a["reasons"], b["reasons"]) == ("loss;poverty", "behaviour")
    c = rows[("p-b", "A", "t2")]
    assert c["reasons"] == ""
    assert c["demo_relatie_nabijheid"] == "1.5" and c["demo_relatie_conflict"] == ""
    assert (c["course_completed"], c["course_time_spent_s"]) == ("1", "3600")


def test_long_table_keeps_the_final_answer_per_item(exported: Path) -> None:
    rows = read_csv(exported / "long.csv")
    assert len(rows) == 8
    q1 = [
        r for r in rows if r["pseudonym"] == "p-a" and r["child_code"] == "A" and r["item"] == "q1"
    ]
    assert [r["response"] for r in q1] == ["4"]


def test_sav_has_variable_and_value_labels(exported: Path) -> None:
    import pyreadstat

    frame, meta = pyreadstat.read_sav(str(exported / "wide.sav"))
    assert meta.column_names_to_labels["demo_relatie_q1"] == "Vraag 1"
    assert meta.variable_value_labels["demo_relatie_q1"][5.0] == "helemaal wel"
    assert frame.loc[frame["child_code"] == "B", "demo_relatie_conflict"].item() == 8.0


def test_course_progress_and_codebooks(exported: Path) -> None:
    progress = {r["pseudonym"]: r for r in read_csv(exported / "course_progress.csv")}
    assert progress["p-a"]["modules_started"] == "2" and progress["p-a"]["modules_completed"] == "1"
    assert progress["p-a"]["provenance"] == "package-key:k1"
    assert progress["p-b"]["provenance"] == "unverified"
    dictionary = read_csv(exported / "data_dictionary.csv")
    assert len(dictionary[0]) == 18
    q1 = next(r for r in dictionary if r["Variable / Field Name"] == "demo_relatie_q1")
    assert q1["Field Type"] == "radio" and q1["Choices, Calculations, OR Slider Labels"].startswith(
        "1, helemaal niet | 2, niet"
    )
    assert "reversed: q4" in (exported / "codebook.md").read_text()


@pytest.mark.parametrize(
    "name", ["wide.csv", "long.csv", "course_progress.csv", "data_dictionary.csv", "codebook.md"]
)
def test_golden_files(exported: Path, name: str) -> None:
    produced = (exported / name).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if os.environ.get("STEUN_UPDATE_GOLDEN"):
        golden.write_text(produced, encoding="utf-8")
    assert produced == golden.read_text(encoding="utf-8")


def test_cli_export_and_report_from_a_file(tmp_path: Path, settings: Any) -> None:
    from steun_lti.cli import main

    source = tmp_path / "statements.jsonl"
    source.write_text("\n".join(json.dumps(s) for s in dataset()) + "\n")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))
    settings = settings.model_copy(update={"base_url": BASE})
    runner = CliRunner()
    out = runner.invoke(
        main,
        ["export", str(tmp_path / "out"), "--from-file", str(source), "--spec", str(spec)],
        obj={"settings": settings},
    )
    assert out.exit_code == 0, out.output
    assert read_csv(tmp_path / "out" / "wide.csv")[0]["demo_relatie_conflict"] == "7"
    out = runner.invoke(
        main,
        ["report", str(tmp_path / "report.html"), "--from-file", str(source)],
        obj={"settings": settings},
    )
    assert out.exit_code == 0, out.output
    page = (tmp_path / "report.html").read_text()
    assert "http" not in page.split("<body>")[1].split("data:")[0]
    # scored with the tool's instruments (no demo-relatie among them): no scores, and a
    # sentence saying so; the waves with the bundled demo study's labels
    assert "Nog geen scores" in page and "data:image/png;base64," in page
    assert "t1: Meting 1 (half februari) / Wave 1 (mid-February)" in page
    out = runner.invoke(
        main,
        ["report", str(tmp_path / "r2.html"), "--from-file", str(source), "--spec", str(spec)],
        obj={"settings": settings},
    )
    assert out.exit_code == 0, out.output
    page = (tmp_path / "r2.html").read_text()
    assert 'id="wave-demo_relatie_nabijheid-t1"' in page
    # t1 and t2 only: the comparison table is there, after the course nothing yet
    assert 'id="did-demo_relatie_nabijheid"' in page and "(n=0)" in page
    bad = runner.invoke(
        main, ["export", str(tmp_path / "o2"), "--spec", str(source)], obj={"settings": settings}
    )
    assert bad.exit_code == 2 and bad.output.startswith("Error: ")


def test_cli_export_reports_an_unreachable_lrs(tmp_path: Path, settings: Any) -> None:
    from steun_lti.cli import main

    settings = settings.model_copy(update={"lrs": settings.lrs.model_copy(update={"key": "k"})})
    out = CliRunner().invoke(main, ["export", str(tmp_path / "o")], obj={"settings": settings})
    assert out.exit_code == 2 and "cannot be reached" in out.output


@pytest.mark.browser
def test_report_opens_in_a_browser_without_a_server(tmp_path: Path, page: Any) -> None:
    from xapi.report import write_report

    report = write_report(collect(dataset(), BASE), tmp_path / "report.html")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri())
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert len(widths) >= 3 and all(w > 100 for w in widths)
    assert "voltooiing" in page.inner_text("body")
    assert all(u.startswith(("file:", "data:")) for u in requests)


def test_totals_are_columns_in_every_format(tmp_path: Path) -> None:
    """A total over subscales gets its own variable (wide CSV, .sav, dictionary), by hand:
    p-a/A/t1: nabijheid 4.5 + conflict mirrored on its range (1 + 5) × 2 − 7 = 5 → 9.5;
    p-a/B/t1: nabijheid missing → total missing; p-b/A/t2: conflict missing → total missing."""
    import copy

    import pyreadstat

    spec = copy.deepcopy(SPEC)
    spec["instruments"][0]["totals"] = [
        {
            "id": "totaal",
            "label": "Totaal",
            "of": ["nabijheid", "conflict"],
            "reverse": ["conflict"],
        }
    ]
    export_all(collect(dataset(), BASE), ScoringSpec.from_dict(spec), tmp_path)
    rows = {
        (r["pseudonym"], r["child_code"], r["wave"]): r for r in read_csv(tmp_path / "wide.csv")
    }
    assert rows[("p-a", "A", "t1")]["demo_relatie_totaal"] == "9.5"
    assert rows[("p-a", "B", "t1")]["demo_relatie_totaal"] == ""
    assert rows[("p-b", "A", "t2")]["demo_relatie_totaal"] == ""
    frame, meta = pyreadstat.read_sav(str(tmp_path / "wide.sav"))
    assert meta.column_names_to_labels["demo_relatie_totaal"] == "Totaal"
    assert sorted(frame["demo_relatie_totaal"].dropna()) == [9.5]
    dictionary = read_csv(tmp_path / "data_dictionary.csv")
    assert any(r["Variable / Field Name"] == "demo_relatie_totaal" for r in dictionary)


def test_exports_are_private_to_their_owner(tmp_path: Path, settings: Any) -> None:
    """Issue 14: ``steun export``/``report`` wrote world-readable files (umask 022: 0644/0755)."""
    import stat

    from steun_lti.cli import main

    source = tmp_path / "statements.jsonl"
    source.write_text("\n".join(json.dumps(s) for s in dataset()) + "\n")
    settings = settings.model_copy(update={"base_url": BASE})
    runner = CliRunner()
    old_umask = os.umask(0o022)
    try:
        out_dir = tmp_path / "new" / "export"
        done = runner.invoke(
            main, ["export", str(out_dir), "--from-file", str(source)], obj={"settings": settings}
        )
        assert done.exit_code == 0, done.output
        assert stat.S_IMODE(out_dir.stat().st_mode) == 0o700
        files = sorted(out_dir.iterdir())
        assert {f.name for f in files} >= {"wide.csv", "wide.sav", "codebook.md"}
        assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
        # an earlier, world-readable export file in the same place is tightened as well
        (out_dir / "long.csv").chmod(0o644)
        again = runner.invoke(
            main, ["export", str(out_dir), "--from-file", str(source), "--format", "long"],
            obj={"settings": settings},
        )  # fmt: skip
        assert again.exit_code == 0 and stat.S_IMODE((out_dir / "long.csv").stat().st_mode) == 0o600
        report = tmp_path / "report.html"
        done = runner.invoke(
            main, ["report", str(report), "--from-file", str(source)], obj={"settings": settings}
        )
        assert done.exit_code == 0 and stat.S_IMODE(report.stat().st_mode) == 0o600
        # a symlink planted where an export file goes is not followed
        elsewhere = tmp_path / "elsewhere.csv"
        elsewhere.write_text("keep")
        (out_dir / "wide.csv").unlink()
        (out_dir / "wide.csv").symlink_to(elsewhere)
        refused = runner.invoke(
            main, ["export", str(out_dir), "--from-file", str(source), "--format", "wide"],
            obj={"settings": settings},
        )  # fmt: skip
        assert refused.exit_code == 2 and "Error: Cannot write into" in refused.output
        assert "a symbolic link is where a file goes" in refused.output
        assert elsewhere.read_text() == "keep"
    finally:
        os.umask(old_umask)
