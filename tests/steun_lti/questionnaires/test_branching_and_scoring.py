"""Branching and scoring, against golden values computed by hand."""

from __future__ import annotations

from typing import Any

import pytest

from steun_lti.questionnaires import load_registry, parse_instrument
from steun_lti.questionnaires.branching import (
    first_unanswered,
    holds,
    missing_required,
    visible_answers,
    visible_items,
)
from steun_lti.questionnaires.scoring import score, score_subscales
from tests.steun_lti.questionnaires.conftest import minimal


@pytest.mark.parametrize(
    ("condition", "answers", "expected"),
    [
        ({"item": "a", "equals": 1}, {"a": 1}, True),
        ({"item": "a", "equals": 1}, {"a": "1"}, True),
        ({"item": "a", "equals": 1}, {"a": 2}, False),
        ({"item": "a", "equals": 1}, {}, False),
        ({"item": "a", "not_equals": 1}, {"a": 2}, True),
        ({"item": "a", "not_equals": 1}, {}, False),
        ({"item": "a", "in": [1, 2]}, {"a": 2}, True),
        ({"item": "a", "includes": "x"}, {"a": ["y", "x"]}, True),
        ({"item": "a", "includes": "x"}, {"a": ["y"]}, False),
        ({"item": "a", "answered": True}, {"a": 0}, True),
        ({"item": "a", "answered": False}, {}, True),
        ({"item": "a", "answered": False}, {"a": 0}, False),
        ({"item": "a", "min": 3}, {"a": 3}, True),
        ({"item": "a", "min": 3, "max": 5}, {"a": 6}, False),
        ({"item": "a", "min": 3}, {"a": "abc"}, False),
        ({"all": [{"item": "a", "equals": 1}, {"item": "b", "equals": 2}]}, {"a": 1, "b": 2}, True),
        ({"all": [{"item": "a", "equals": 1}, {"item": "b", "equals": 2}]}, {"a": 1}, False),
        ({"any": [{"item": "a", "equals": 1}, {"item": "b", "equals": 2}]}, {"b": 2}, True),
        ({"not": {"item": "a", "equals": 1}}, {"a": 1}, False),
    ],
)
def test_conditions(condition: dict[str, Any], answers: dict[str, Any], expected: bool) -> None:
    assert holds(condition, answers) is expected


def test_hidden_items_are_skipped_and_do_not_count() -> None:
    instrument = parse_instrument(minimal())
    answers: dict[str, Any] = {"q1": 1, "q2": 1, "q3": 0, "q4": 3}
    # q3 = no: q4 is hidden, so its stale answer does not count
    assert [i.id for i in visible_items(instrument, answers)] == ["q1", "q2", "q3", "q5"]
    assert "q4" not in visible_answers(instrument, answers)
    assert missing_required(instrument, answers) == []
    assert first_unanswered(instrument, answers) is not None  # q5 is optional but unanswered
    answers["q3"] = 1
    assert [i.id for i in missing_required(instrument, {"q1": 1, "q3": 1})] == ["q2", "q4"]
    assert first_unanswered(instrument, {"q1": 1, "q3": 1}).id == "q2"  # type: ignore[union-attr]


def test_a_chain_of_conditions_hides_what_depends_on_a_hidden_item() -> None:
    data = minimal()
    data["sections"][0]["pages"][1]["items"].append(
        {
            "id": "q6",
            "text": {"nl": "Zes", "en": "Six"},
            "type": "yesno",
            "show_if": {"item": "q4", "answered": True},
        }
    )
    instrument = parse_instrument(data)
    shown = [i.id for i in visible_items(instrument, {"q3": 0, "q4": 2})]
    assert "q4" not in shown and "q6" not in shown


def test_reverse_keys_sums_and_proration_in_a_small_instrument() -> None:
    instrument = parse_instrument(minimal())
    # q1 = 3, q2 = 1 reversed to 3, q4 = 2 → 8
    assert score(instrument, {"q1": 3, "q2": 1, "q3": 1, "q4": 2}) == {"a": 8.0}
    # one missing (q4 hidden counts as missing too): (3 + 3) · 3/2 = 9
    assert score(instrument, {"q1": 3, "q2": 1, "q3": 0, "q4": 2}) == {"a": 9.0}
    # two missing: more than max_missing → no score
    detail = score_subscales(instrument, {"q1": 3})
    assert detail["a"].score is None and detail["a"].missing == 2


RELATIONSHIP_CASES = [
    # closeness items all 4, conflict all 2, dependency all 3
    (
        {"closeness": 4, "conflict": 2, "dependency": 3},
        set(),
        {
            "closeness": 44.0,
            "conflict": 24.0,
            "dependency": 15.0,
            "relationship_total": 44 + (72 - 24),
        },
    ),
    # one closeness item missing: 10 · 4 = 40, prorated to 11 items → 44
    (
        {"closeness": 4, "conflict": 2, "dependency": 3},
        {"rel01"},
        {"closeness": 44.0, "conflict": 24.0, "dependency": 15.0, "relationship_total": 92.0},
    ),
    # two closeness items missing: no closeness, so no total
    (
        {"closeness": 4, "conflict": 2, "dependency": 3},
        {"rel01", "rel03"},
        {"closeness": None, "conflict": 24.0, "dependency": 15.0, "relationship_total": None},
    ),
    # one dependency item missing: 4 · 5 = 20 prorated to 5 items → 25
    (
        {"closeness": 1, "conflict": 5, "dependency": 5},
        {"rel06"},
        {
            "closeness": 11.0,
            "conflict": 60.0,
            "dependency": 25.0,
            "relationship_total": 11 + (72 - 60),
        },
    ),
]


@pytest.mark.parametrize(("values", "missing", "expected"), RELATIONSHIP_CASES)
def test_relationship_scale_golden_scores(
    values: dict[str, int], missing: set[str], expected: dict[str, Any]
) -> None:
    instrument = load_registry().get("demo-relationship")
    answers = {
        item.id: values[item.subscales[0]] for item in instrument.items if item.id not in missing
    }
    assert score(instrument, answers) == expected


def test_strengths_scale_golden_scores() -> None:
    instrument = load_registry().get("demo-strengths")
    scored = [i for i in instrument.items if i.subscales]
    # everything "certainly true" (2): reverse-keyed items count 0
    answers: dict[str, Any] = {i.id: 2 for i in scored}
    result = score(instrument, answers)
    assert result == {
        "emotion": 10.0,  # 5 × 2
        "conduct": 8.0,  # 4 × 2 + 1 reversed × 0
        "hyperactivity": 6.0,  # 3 × 2 + 2 reversed × 0
        "peer": 6.0,  # 3 × 2 + 2 reversed × 0
        "prosocial": 10.0,
        "total_difficulties": 30.0,  # prosocial is not a difficulty
    }
    # two emotion items missing: 3 × 2 = 6 prorated to 5 items → 10; three missing → none
    emotion = [i.id for i in scored if i.subscales == ("emotion",)]
    for item_id in emotion[:2]:
        del answers[item_id]
    assert score(instrument, answers)["emotion"] == 10.0
    del answers[emotion[2]]
    result = score(instrument, answers)
    assert result["emotion"] is None and result["total_difficulties"] is None
    # everything "not true" (0): only the reverse-keyed items count, as 2
    zero = score(instrument, {i.id: 0 for i in scored})
    assert zero == {
        "emotion": 0.0,
        "conduct": 2.0,
        "hyperactivity": 4.0,
        "peer": 4.0,
        "prosocial": 0.0,
        "total_difficulties": 10.0,
    }


def test_strengths_scale_impact_questions_branch() -> None:
    instrument = load_registry().get("demo-strengths")
    assert "imp2" not in {i.id for i in visible_items(instrument, {"imp1": 0})}
    assert "imp2" in {i.id for i in visible_items(instrument, {"imp1": 2})}


def test_child_form_mean_with_one_missing() -> None:
    instrument = load_registry().get("demo-child")
    answers = {"c1": 5, "c2": 4, "c3": 3, "c4": 2, "c5": 1}
    # c6 missing (one allowed): (5+4+3+2+1)/5
    assert score(instrument, answers) == {"wellbeing": 3.0}
    # c5 and c6 missing: more than one → no score
    del answers["c5"]
    assert score(instrument, answers) == {"wellbeing": None}
