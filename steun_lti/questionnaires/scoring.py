"""Scoring: reverse keys, subscale sums or means, a missing-data rule with proration, totals.

For a subscale of n items with at most ``max_missing`` missing:
- ``sum``: the sum of the answered (reverse-keyed where marked) values; with ``prorate`` the sum
  is scaled to n items: ``sum * n / answered``;
- ``mean``: the mean of the answered values.
More missing than allowed gives no score (``None``). A total is the sum of its subscales, where
a subscale in ``reverse`` enters mirrored on its own range; a total with a missing part is ``None``.
Scores are rounded to 4 decimals so exports are stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from steun_lti.questionnaires.branching import visible_answers
from steun_lti.questionnaires.definition import Instrument, Item


@dataclass(frozen=True)
class SubscaleScore:
    id: str
    score: float | None
    answered: int
    missing: int


def keyed_value(item: Item, value: Any) -> int:
    """The value that counts in scores: mirrored on the item's range when reverse-keyed."""
    number = int(value)
    if not item.reverse:
        return number
    values = [int(c.value) for c in item.options]
    return min(values) + max(values) - number


def score(instrument: Instrument, answers: Mapping[str, Any]) -> dict[str, float | None]:
    """Every subscale and total score of the instrument, by id."""
    detailed = score_subscales(instrument, answers)
    result: dict[str, float | None] = {k: v.score for k, v in detailed.items()}
    for total in instrument.totals:
        parts: list[float] = []
        for name in total.of:
            part = result.get(name)
            if part is None:
                parts = []
                break
            if name in total.reverse:
                rule = next(r for r in instrument.subscales if r.id == name)
                first = instrument.item(rule.items[0])
                low = min(int(c.value) for c in first.options)
                high = max(int(c.value) for c in first.options)
                span = 1 if rule.method == "mean" else len(rule.items)
                part = (low + high) * span - part
            parts.append(part)
        result[total.id] = round(sum(parts), 4) if parts else None
    return result


def score_subscales(instrument: Instrument, answers: Mapping[str, Any]) -> dict[str, SubscaleScore]:
    shown = visible_answers(instrument, answers)
    scores: dict[str, SubscaleScore] = {}
    for rule in instrument.subscales:
        values = [
            keyed_value(instrument.item(item_id), shown[item_id])
            for item_id in rule.items
            if shown.get(item_id) is not None
        ]
        n = len(rule.items)
        missing = n - len(values)
        value: float | None
        if missing > rule.max_missing or not values:
            value = None
        elif rule.method == "mean":
            value = sum(values) / len(values)
        else:
            value = float(sum(values))
            if rule.prorate and missing:
                value = value * n / len(values)
        scores[rule.id] = SubscaleScore(
            id=rule.id,
            score=None if value is None else round(value, 4),
            answered=len(values),
            missing=missing,
        )
    return scores
