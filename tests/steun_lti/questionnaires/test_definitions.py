"""Loading and validating questionnaire definitions; the demo instruments' shapes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from steun_lti.questionnaires import (
    InstrumentError,
    load_instrument,
    load_registry,
    parse_instrument,
)
from steun_lti.questionnaires.definition import schema
from tests.steun_lti.questionnaires.conftest import minimal, write


def test_the_shipped_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(schema())


def test_demo_instruments_have_the_shapes_of_the_real_ones() -> None:
    registry = load_registry()
    rel = registry.get("demo-relationship")
    assert len(rel.items) == 28
    assert {r.id: len(r.items) for r in rel.subscales} == {
        "closeness": 11,
        "conflict": 12,
        "dependency": 5,
    }
    assert {tuple(c.value for c in i.options) for i in rel.items} == {(1, 2, 3, 4, 5)}
    sd = registry.get("demo-strengths")
    scored = [i for i in sd.items if i.subscales]
    assert len(scored) == 25
    assert {r.id: len(r.items) for r in sd.subscales} == dict.fromkeys(
        ["emotion", "conduct", "hyperactivity", "peer", "prosocial"], 5
    )
    assert sum(i.reverse for i in sd.items) == 5
    assert {tuple(c.value for c in i.options) for i in scored} == {(0, 1, 2)}
    child = registry.get("demo-child")
    assert child.informant == "child"
    assert {i.display for i in child.items} == {"smiley"}
    assert all(c.face for i in child.items for c in i.options)
    for instrument in registry.instruments.values():
        assert instrument.languages == ("nl", "en")
        assert all("en" in i.text and "nl" in i.text for i in instrument.items)


BROKEN: list[tuple[str, Any, str | None, str]] = [
    (
        "no text",
        lambda d: d["sections"][0]["pages"][0]["items"][0].pop("text"),
        "q1",
        "'text' is a required property",
    ),
    (
        "unknown type",
        lambda d: d["sections"][0]["pages"][0]["items"][1].update(type="slider"),
        "q2",
        "at sections/0/pages/0/items/1/type",
    ),
    (
        "bad id",
        lambda d: d["sections"][0]["pages"][0]["items"][0].update(id="Q 1"),
        "Q 1",
        "does not match",
    ),
    (
        "unknown scale",
        lambda d: d["sections"][0]["pages"][0]["items"][0].update(scale="nope"),
        "q1",
        "unknown scale 'nope'",
    ),
    (
        "duplicate id",
        lambda d: d["sections"][0]["pages"][1]["items"][0].update(id="q1", type="yesno"),
        "q1",
        "used twice",
    ),
    (
        "forward show_if",
        lambda d: d["sections"][0]["pages"][0]["items"][0].update(
            show_if={"item": "q3", "equals": 1}
        ),
        "q1",
        "not an earlier item",
    ),
    (
        "undeclared subscale",
        lambda d: d["sections"][0]["pages"][0]["items"][0].update(subscales=["b"]),
        "q1",
        "subscale 'b' is not declared",
    ),
    (
        "reverse text",
        lambda d: d["sections"][0]["pages"][1]["items"][2].update(reverse=True),
        "q5",
        "reverse-keyed",
    ),
    (
        "missing english",
        lambda d: d["sections"][0]["pages"][1]["items"][0]["text"].pop("en"),
        "q3",
        "no 'en' text",
    ),
    (
        "english first",
        lambda d: d.update(languages=["en", "nl"]),
        None,
        "first language must be 'nl'",
    ),
    (
        "scale on yes/no",
        lambda d: d["sections"][0]["pages"][1]["items"][0].update(scale="agree"),
        "q3",
        "'scale' does not apply",
    ),
    (
        "too many missing",
        lambda d: d["scoring"]["subscales"][0].update(max_missing=3),
        None,
        "max_missing must be below its 3 items",
    ),
    (
        "prorated mean",
        lambda d: d["scoring"]["subscales"][0].update(method="mean"),
        None,
        "prorate applies to sums only",
    ),
    (
        "total of nothing",
        lambda d: d["scoring"].update(totals=[{"id": "t", "of": ["zz"]}]),
        None,
        "unknown subscale 'zz'",
    ),
    (
        "text without length",
        lambda d: d["sections"][0]["pages"][1]["items"][2].pop("max_length"),
        "q5",
        "'max_length' is a required property",
    ),
]


@pytest.mark.parametrize(("case", "breaker", "item", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_bad_definition_is_refused_with_file_item_and_reason(
    tmp_path: Path, case: str, breaker: Any, item: str | None, reason: str
) -> None:
    data = copy.deepcopy(minimal())
    breaker(data)
    path = write(tmp_path, data)
    with pytest.raises(InstrumentError) as caught:
        load_instrument(path)
    error = caught.value
    assert error.source == str(path)
    assert error.item == item
    assert reason in error.reason
    assert str(path) in error.message and reason in error.message


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: x\nsections: [\n  - oops: {\n", encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"bad.yaml: not valid YAML at line \d+"):
        load_instrument(path)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InstrumentError, match="must hold a mapping"):
        load_instrument(write(tmp_path, ["a", "list"]))


def test_private_instruments_replace_bundled_ones_and_bad_ones_stop_startup(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir()
    licensed = minimal(id="demo-relationship", version="licensed-2")
    write(private, licensed, "relationship.yaml")
    write(private, minimal(id="extra"), "extra.yml")
    registry = load_registry(private)
    assert registry.get("demo-relationship").version == "licensed-2"
    assert "extra" in registry and "demo-strengths" in registry
    write(private, minimal(id="extra"), "twice.yaml")
    with pytest.raises(InstrumentError, match="also defined in"):
        load_registry(private)
    with pytest.raises(InstrumentError, match="does not exist"):
        load_registry(tmp_path / "missing")


def test_a_bad_private_instrument_stops_the_app_at_startup(tmp_path: Path, settings: Any) -> None:
    from steun_lti.app import create_app

    private = tmp_path / "private"
    private.mkdir()
    data = minimal()
    data["sections"][0]["pages"][0]["items"][0]["scale"] = "nope"
    write(private, data)
    settings.instruments_dir = private
    with pytest.raises(InstrumentError, match=r"mini.yaml, item 'q1': unknown scale 'nope'"):
        create_app(settings)


@pytest.mark.parametrize(
    ("item_id", "raw", "expected"),
    [
        ("q1", "2", 2),
        ("q1", 3, 3),
        ("q3", "0", 0),
        ("q5", "  kort  ", "kort"),
        ("q5", "   ", None),
        ("q1", None, None),
    ],
)
def test_answers_are_cleaned(item_id: str, raw: Any, expected: Any) -> None:
    instrument = parse_instrument(minimal())
    assert instrument.item(item_id).clean(raw) == expected


@pytest.mark.parametrize(
    ("item", "raw", "reason"),
    [
        ({"type": "likert", "scale": "agree"}, "4", "not_an_option"),
        ({"type": "likert", "scale": "agree"}, ["1"], "not_an_option"),
        ({"type": "number", "min": 0, "max": 10, "integer": True}, "2,5", "not_whole"),
        ({"type": "number", "min": 0, "max": 10}, "11", "too_large"),
        ({"type": "number", "min": 0, "max": 10}, "-1", "too_small"),
        ({"type": "number"}, "abc", "not_a_number"),
        ({"type": "number"}, "nan", "not_a_number"),
        ({"type": "text", "max_length": 3}, "four", "too_long"),
        ({"type": "text", "max_length": 3}, 4, "not_text"),
        (
            {"type": "multiple", "choices": [{"value": "a", "label": {"nl": "A", "en": "A"}}]},
            ["b"],
            "not_an_option",
        ),
    ],
)
def test_bad_answers_are_refused_with_a_reason(item: dict[str, Any], raw: Any, reason: str) -> None:
    data = minimal()
    data["sections"][0]["pages"][1]["items"].append(
        {"id": "qx", "text": {"nl": "X", "en": "X"}, **item}
    )
    instrument = parse_instrument(data)
    with pytest.raises(ValueError, match=reason):
        instrument.item("qx").clean(raw)


def test_numbers_and_multiple_choice_are_normalised() -> None:
    data = minimal()
    data["sections"][0]["pages"][1]["items"] += [
        {"id": "n", "text": {"nl": "N", "en": "N"}, "type": "number", "min": 0},
        {
            "id": "m",
            "text": {"nl": "M", "en": "M"},
            "type": "multiple",
            "choices": [
                {"value": "a", "label": {"nl": "A", "en": "A"}},
                {"value": "b", "label": {"nl": "B", "en": "B"}},
            ],
        },
    ]
    instrument = parse_instrument(data)
    assert instrument.item("n").clean("2,5") == 2.5
    assert instrument.item("n").clean("3") == 3
    assert instrument.item("m").clean(["b", "a", "b"]) == ["a", "b"]
