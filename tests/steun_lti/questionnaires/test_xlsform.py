"""XLSForm import: what maps clearly is imported, anything else is refused with sheet and row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from steun_lti.questionnaires import InstrumentError, load_instrument, load_registry

SURVEY_HEADER = [
    "type",
    "name",
    "label::Dutch (nl)",
    "label::English (en)",
    "hint::Dutch (nl)",
    "hint::English (en)",
    "required",
    "relevant",
    "constraint",
    "reverse",
    "subscale",
]


def workbook(path: Path, survey: list[list[Any]], choices: list[list[Any]] | None = None) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    sheet.append(SURVEY_HEADER)
    for row in survey:
        sheet.append(row)
    choice_sheet = book.create_sheet("choices")
    choice_sheet.append(["list_name", "name", "label::Dutch (nl)", "label::English (en)"])
    for row in (
        choices
        if choices is not None
        else [
            ["agree", 0, "Niet waar", "Not true"],
            ["agree", 1, "Een beetje waar", "Somewhat true"],
            ["agree", 2, "Zeker waar", "Certainly true"],
            ["yn", "yes", "Ja", "Yes"],
            ["yn", "no", "Nee", "No"],
        ]
    ):
        choice_sheet.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "form_title::Dutch (nl)", "form_title::English (en)"])
    settings.append(["licensed_scale", "2024.1", "Gelicentieerde schaal", "Licensed scale"])
    book.save(path)
    return path


GOOD = [
    ["begin group", "page1", "Deel 1", "Part 1"],
    [
        "select_one agree",
        "a1",
        "Is vrolijk",
        "Is cheerful",
        None,
        None,
        "yes",
        None,
        None,
        None,
        "mood",
    ],
    [
        "select_one agree",
        "a2",
        "Is somber",
        "Is gloomy",
        "Denk aan deze week",
        "Think of this week",
        "yes",
        None,
        None,
        "yes",
        "mood",
    ],
    ["end group"],
    ["begin group", "page2", "Deel 2", "Part 2"],
    ["note", "n1", "Nog een paar vragen", "A few more"],
    [
        "select_one yn",
        "talked",
        "Heeft u met de ouders gesproken?",
        "Did you talk with the parents?",
        None,
        None,
        "true",
    ],
    [
        "integer",
        "times",
        "Hoe vaak?",
        "How often?",
        None,
        None,
        "yes",
        "${talked} = 'yes'",
        ". >= 0 and . <= 20",
    ],
    [
        "text",
        "note",
        "Toelichting",
        "Comment",
        None,
        None,
        None,
        "selected(${talked}, 'yes')",
        "string-length(.) <= 120",
    ],
    ["end group"],
]


def test_a_clear_xlsform_is_imported(tmp_path: Path) -> None:
    instrument = load_instrument(workbook(tmp_path / "scale.xlsx", GOOD))
    assert (instrument.id, instrument.version) == ("licensed_scale", "2024.1")
    assert instrument.title == {"nl": "Gelicentieerde schaal", "en": "Licensed scale"}
    assert instrument.languages == ("nl", "en")
    assert [p.id for p in instrument.pages] == ["page1", "page2"]
    a2 = instrument.item("a2")
    assert (
        a2.reverse
        and a2.subscales == ("mood",)
        and a2.hint == {"nl": "Denk aan deze week", "en": "Think of this week"}
    )
    assert [c.value for c in a2.options] == [0, 1, 2]
    times = instrument.item("times")
    assert (times.type, times.integer, times.min, times.max) == ("number", True, 0, 20)
    assert times.show_if == {"item": "talked", "equals": "yes"}
    note = instrument.item("note")
    assert (note.type, note.max_length, note.required) == ("text", 120, False)
    assert note.show_if == {"item": "talked", "includes": "yes"}
    assert [r.id for r in instrument.subscales] == ["mood"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (["begin repeat", "r"], "question type 'begin repeat' is not supported"),
        (["calculate", "c"], "question type 'calculate' is not supported"),
        (["select_one nolist", "x", "X", "X"], "no choices list 'nolist'"),
        (
            ["integer", "x", "X", "X", None, None, None, "${a1} > 1"],
            "relevant expression '${a1} > 1' is not supported",
        ),
        (
            ["integer", "x", "X", "X", None, None, None, None, ". != 3"],
            "constraint '. != 3' is not supported",
        ),
    ],
)
def test_what_does_not_map_clearly_is_refused_with_the_row(
    tmp_path: Path, row: list[Any], reason: str
) -> None:
    survey = [*GOOD[:4], row]
    with pytest.raises(InstrumentError) as caught:
        load_instrument(workbook(tmp_path / "bad.xlsx", survey))
    assert "survey row 6" in caught.value.message
    assert reason in caught.value.message


def test_an_unreadable_spreadsheet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(InstrumentError, match="cannot read the spreadsheet"):
        load_instrument(path)


def test_xlsforms_load_from_the_private_folder(tmp_path: Path) -> None:
    workbook(tmp_path / "scale.xlsx", GOOD)
    assert "licensed_scale" in load_registry(tmp_path)


def test_dutch_only_forms_are_dutch_only(tmp_path: Path) -> None:
    survey = [["select_one agree", "a1", "Is vrolijk", None]]
    choices = [["agree", 0, "Nee", None], ["agree", 1, "Ja", None]]
    instrument = load_instrument(workbook(tmp_path / "nl.xlsx", survey, choices))
    assert instrument.languages == ("nl",)
    assert instrument.item("a1").required is False
