"""Items hidden by branching are not administered: missing in the wide table and in the scores,
kept in the long table with ``shown`` 0. Expected values computed by hand below.

Instrument demo-zorg v1:
  z1  yes/no (1 = ja, 0 = nee): "Maakt u zich zorgen?"
  z2  likert 1..5, shown only if z1 is yes (written `equals: true`, which 1 meets, as in the tool)
  z3  likert 1..5, shown only if z2 >= 4 (a chain: hidden when z2 is hidden)
  z4  likert 1..5, always shown
  zorg = sum(z2, z3, z4), at most 2 missing, prorated (sum × 3 / answered)

  p-a / A: z1 1, z2 4, z3 5, z4 2          → all shown; zorg 4 + 5 + 2 = 11
  p-a / B: z1 1, z2 5, z3 3, z4 1, then z1 changed to 0 (later)
           → z2 hidden, so z3 hidden too (its condition reads the shown z2 only);
             z2, z3 missing; zorg = 1 × 3 / 1 = 3; answered 2 (z1, z4)
  p-b / A: z1 1, z2 2, z3 5, z4 4 (z3 answered although z2 = 2 < 4 hides it: an older
           client, or an answer kept from before)
           → z3 hidden; zorg (2 + 4) × 3 / 2 = 9; answered 3
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.xapi.test_export import read_csv
from xapi.export import ScoringSpec, collect, export_all
from xapi.statements import Choice, ItemDefinition, StatementFactory

BASE = "https://steun.example.nl"
GOLDEN = Path(__file__).with_name("golden") / "branching"
F = StatementFactory(BASE)
FIVE = [[v, f"{v}"] for v in range(1, 6)]
SPEC = {
    "instruments": [
        {
            "id": "demo-zorg",
            "version": "1",
            "items": [
                {"id": "z1", "label": "Maakt u zich zorgen?", "type": "choice",
                 "choices": [[1, "ja"], [0, "nee"]]},
                {"id": "z2", "label": "Hoe groot?", "choices": FIVE,
                 "show_if": {"item": "z1", "equals": True}},
                {"id": "z3", "label": "Hoe vaak?", "choices": FIVE,
                 "show_if": {"item": "z2", "min": 4}},
                {"id": "z4", "label": "Steun", "choices": FIVE},
            ],
            "scales": [
                {"id": "zorg", "items": ["z2", "z3", "z4"], "method": "sum", "max_missing": 2,
                 "prorate": True},
            ],
        }
    ]
}  # fmt: skip
LIKERT = ItemDefinition("likert", None, tuple(Choice(str(v), str(v)) for v in range(1, 6)))


def dataset() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    clock = datetime(2027, 3, 15, 9, tzinfo=UTC)

    def answers(p: str, child: str, **values: int) -> None:
        nonlocal clock
        for item, value in values.items():
            clock += timedelta(minutes=1)
            out.append(
                F.item_answered(p, clock, study="steun", wave="t2", instrument="demo-zorg",
                                instrument_version="1", item=item, response=value,
                                child_code=child, attempt=1, definition=LIKERT)
            )  # fmt: skip

    answers("p-a", "A", z1=1, z2=4, z3=5, z4=2)
    answers("p-a", "B", z1=1, z2=5, z3=3, z4=1)
    answers("p-a", "B", z1=0)  # changed: z2 (and with it z3) are hidden now
    answers("p-b", "A", z1=1, z2=2, z3=5, z4=4)
    return out


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    export_all(collect(dataset(), BASE), ScoringSpec.from_dict(SPEC), tmp_path)
    return tmp_path


def test_hidden_items_are_missing_in_the_wide_table_and_scores(exported: Path) -> None:
    rows = {(r["pseudonym"], r["child_code"]): r for r in read_csv(exported / "wide.csv")}
    a, b, c = rows[("p-a", "A")], rows[("p-a", "B")], rows[("p-b", "A")]
    assert [a[f"demo_zorg_z{i}"] for i in range(1, 5)] == ["1", "4", "5", "2"]
    assert (a["demo_zorg_zorg"], a["demo_zorg_n_answered"]) == ("11", "4")
    assert [b[f"demo_zorg_z{i}"] for i in range(1, 5)] == ["0", "", "", "1"]
    assert (b["demo_zorg_zorg"], b["demo_zorg_n_answered"]) == ("3", "2")
    assert [c[f"demo_zorg_z{i}"] for i in range(1, 5)] == ["1", "2", "", "4"]
    assert (c["demo_zorg_zorg"], c["demo_zorg_n_answered"]) == ("9", "3")


def test_the_long_table_keeps_hidden_answers_marked(exported: Path) -> None:
    shown = {
        (r["pseudonym"], r["child_code"], r["item"]): (r["response"], r["shown"])
        for r in read_csv(exported / "long.csv")
    }
    assert shown[("p-a", "B", "z1")] == ("0", "1")
    assert shown[("p-a", "B", "z2")] == ("5", "0")
    assert shown[("p-a", "B", "z3")] == ("3", "0")
    assert shown[("p-b", "A", "z3")] == ("5", "0")
    assert shown[("p-a", "A", "z3")] == ("5", "1")


def test_the_data_dictionary_carries_the_branching_logic(exported: Path) -> None:
    logic = {
        r["Variable / Field Name"]: r["Branching Logic (Show field only if...)"]
        for r in read_csv(exported / "data_dictionary.csv")
    }
    assert logic["demo_zorg_z2"] == "[demo_zorg_z1] = '1'"
    assert logic["demo_zorg_z3"] == "[demo_zorg_z2] >= 4"
    assert logic["demo_zorg_z4"] == ""
    assert "shown only if [demo_zorg_z1] = '1'" in (exported / "codebook.md").read_text()


@pytest.mark.parametrize("name", ["wide.csv", "long.csv", "data_dictionary.csv", "codebook.md"])
def test_golden_files(exported: Path, name: str) -> None:
    produced = (exported / name).read_text(encoding="utf-8")
    golden = GOLDEN / name
    if os.environ.get("STEUN_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert produced == golden.read_text(encoding="utf-8")


def test_a_malformed_condition_is_refused_with_its_place() -> None:
    bad = {"instruments": [{"id": "x", "items": [{"id": "q1", "show_if": "q0 == 1"}]}]}
    with pytest.raises(ValueError, match=r"instruments\[0\].*item q1: show_if"):
        ScoringSpec.from_dict(bad)
