"""Branching: ``show_if`` conditions on earlier answers.

A condition is data, not code: ``{item: q3, equals: 1}``, ``{item: q4, in: [1, 2]}``,
``{item: q5, includes: "x"}`` (multiple choice), ``{item: q6, answered: true}``,
``{item: q7, min: 3}``, combined with ``all``, ``any`` and ``not``.
An item hidden by its condition is skipped: it is not required, not counted in progress, and an
answer it held does not count (for scoring, or for the conditions of later items).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

# The condition language lives in ``xapi`` so the export applies the same rules.
from xapi.conditions import holds, referenced_items

__all__ = [
    "first_unanswered",
    "holds",
    "is_visible",
    "missing_required",
    "referenced_items",
    "visible_answers",
    "visible_items",
]

if TYPE_CHECKING:
    from steun_lti.questionnaires.definition import Instrument, Item


def visible_answers(instrument: Instrument, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers of the items that are shown, walking the items in order."""
    visible: dict[str, Any] = {}
    for item in instrument.items:
        if is_visible(item, visible) and answers.get(item.id) is not None:
            visible[item.id] = answers[item.id]
    return visible


def is_visible(item: Item, earlier_visible_answers: Mapping[str, Any]) -> bool:
    return item.show_if is None or holds(item.show_if, earlier_visible_answers)


def visible_items(instrument: Instrument, answers: Mapping[str, Any]) -> list[Item]:
    """The items shown, given the answers so far."""
    shown: list[Item] = []
    visible: dict[str, Any] = {}
    for item in instrument.items:
        if is_visible(item, visible):
            shown.append(item)
            if answers.get(item.id) is not None:
                visible[item.id] = answers[item.id]
    return shown


def missing_required(instrument: Instrument, answers: Mapping[str, Any]) -> list[Item]:
    """Shown, required items without an answer, in order."""
    return [
        item
        for item in visible_items(instrument, answers)
        if item.required and answers.get(item.id) is None
    ]


def first_unanswered(instrument: Instrument, answers: Mapping[str, Any]) -> Item | None:
    """Where to resume: the first shown item without an answer (required or not)."""
    for item in visible_items(instrument, answers):
        if answers.get(item.id) is None:
            return item
    return None
