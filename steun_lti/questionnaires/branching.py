"""Branching: ``show_if`` conditions on earlier answers.

A condition is data, not code: ``{item: q3, equals: 1}``, ``{item: q4, in: [1, 2]}``,
``{item: q5, includes: "x"}`` (multiple choice), ``{item: q6, answered: true}``,
``{item: q7, min: 3}``, combined with ``all``, ``any`` and ``not``.
An item hidden by its condition is skipped: it is not required, not counted in progress, and an
answer it held does not count (for scoring, or for the conditions of later items).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from steun_lti.questionnaires.definition import Instrument, Item


def referenced_items(condition: Mapping[str, Any]) -> Iterator[str]:
    if "item" in condition:
        yield condition["item"]
    for key in ("all", "any"):
        for sub in condition.get(key, ()):
            yield from referenced_items(sub)
    if "not" in condition:
        yield from referenced_items(condition["not"])


def _same(a: Any, b: Any) -> bool:
    return str(a) == str(b) if not isinstance(a, bool) and not isinstance(b, bool) else a == b


def holds(condition: Mapping[str, Any], answers: Mapping[str, Any]) -> bool:
    """Does the condition hold for these (visible) answers?"""
    if "all" in condition:
        return all(holds(c, answers) for c in condition["all"])
    if "any" in condition:
        return any(holds(c, answers) for c in condition["any"])
    if "not" in condition:
        return not holds(condition["not"], answers)
    value = answers.get(condition["item"])
    if "answered" in condition and (value is not None) != condition["answered"]:
        return False
    if value is None:
        # every test other than "answered: false" needs an answer
        return set(condition) <= {"item", "answered"} and condition.get("answered") is False
    if "equals" in condition and not _same(value, condition["equals"]):
        return False
    if "not_equals" in condition and _same(value, condition["not_equals"]):
        return False
    if "in" in condition and not any(_same(value, v) for v in condition["in"]):
        return False
    if "includes" in condition:
        chosen = value if isinstance(value, list) else [value]
        if not any(_same(v, condition["includes"]) for v in chosen):
            return False
    for key, ok in (("min", lambda n, b: n >= b), ("max", lambda n, b: n <= b)):
        if key in condition:
            try:
                number = float(value)
            except (TypeError, ValueError):
                return False
            if not ok(number, condition[key]):
                return False
    return True


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
