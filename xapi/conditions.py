"""Conditions on earlier answers (``show_if`` of an instrument's items), as plain data.

``{item: q3, equals: 1}``, ``{item: q4, in: [1, 2]}``, ``{item: q5, includes: "x"}`` (multiple
choice), ``{item: q6, answered: true}``, ``{item: q7, min: 3}``, ``not_equals``, ``max``,
combined with ``all``, ``any`` and ``not``. The questionnaire tool shows or hides items with
them; the export uses the same rules to treat answers of hidden items as not administered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


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
