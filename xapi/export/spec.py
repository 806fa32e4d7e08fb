"""The scoring spec the exporter needs: items, their choices, scales and the missing-data rule.

A plain description, so ``xapi`` does not depend on the tool's instrument format: the CLI glue
builds it from the instrument definitions (or a researcher writes it as JSON/YAML).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xapi.conditions import holds


@dataclass(frozen=True)
class ItemSpec:
    id: str
    label: str = ""
    type: str = "likert"  # likert, choice, numeric, fill-in
    choices: Sequence[tuple[float, str]] = ()  # (value, label); empty for numeric/fill-in
    # Shown only when this condition on earlier answers holds (xapi.conditions); an answer
    # the item holds while hidden is not administered: missing in the wide table and scores.
    show_if: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def numeric(self) -> bool:
        return self.type in ("likert", "choice", "numeric")

    @property
    def bounds(self) -> tuple[float, float] | None:
        if not self.choices:
            return None
        values = [v for v, _ in self.choices]
        return min(values), max(values)


@dataclass(frozen=True)
class ScaleSpec:
    """A subscale: ``method`` mean or sum; ``reverse`` items are scored (min + max − value);
    with more than ``max_missing`` items unanswered the score is missing; with ``prorate`` a sum
    with some missing items is scaled to all items (sum × n / answered)."""

    id: str
    items: Sequence[str]
    label: str = ""
    method: str = "mean"
    reverse: frozenset[str] = frozenset()
    max_missing: int = 0
    prorate: bool = False


@dataclass(frozen=True)
class TotalSpec:
    """A total: the sum of subscales; a subscale in ``reverse`` enters mirrored on its own range
    (low + high) × (1 for a mean, n items for a sum) − score. Missing when any part is."""

    id: str
    of: Sequence[str]
    reverse: frozenset[str] = frozenset()
    label: str = ""


@dataclass(frozen=True)
class InstrumentSpec:
    id: str
    version: str
    label: str = ""
    items: Sequence[ItemSpec] = ()
    scales: Sequence[ScaleSpec] = ()
    totals: Sequence[TotalSpec] = ()

    def item(self, item_id: str) -> ItemSpec | None:
        for item in self.items:
            if item.id == item_id:
                return item
        return None


@dataclass(frozen=True)
class ScoringSpec:
    instruments: Sequence[InstrumentSpec] = field(default_factory=tuple)

    def instrument(self, instrument_id: str) -> InstrumentSpec | None:
        for spec in self.instruments:
            if spec.id == instrument_id:
                return spec
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringSpec:
        """``{"instruments": [{"id", "version", "label", "items": [{"id", "label", "type",
        "choices": [[value, label], ...]}], "scales": [{"id", "label", "items", "method",
        "reverse", "max_missing"}]}]}``"""
        instruments = []
        for i, raw in enumerate(data.get("instruments", [])):
            try:
                items = tuple(
                    ItemSpec(
                        id=str(it["id"]),
                        label=str(it.get("label", "")),
                        type=str(it.get("type", "likert")),
                        choices=tuple((float(v), str(lbl)) for v, lbl in it.get("choices", [])),
                        show_if=_condition(it.get("show_if"), str(it["id"])),
                    )
                    for it in raw.get("items", [])
                )
                scales = tuple(
                    ScaleSpec(
                        id=str(sc["id"]),
                        items=tuple(str(x) for x in sc["items"]),
                        label=str(sc.get("label", "")),
                        method=str(sc.get("method", "mean")),
                        reverse=frozenset(str(x) for x in sc.get("reverse", [])),
                        max_missing=int(sc.get("max_missing", 0)),
                        prorate=bool(sc.get("prorate", False)),
                    )
                    for sc in raw.get("scales", [])
                )
                totals = tuple(
                    TotalSpec(
                        id=str(tot["id"]),
                        of=tuple(str(x) for x in tot["of"]),
                        reverse=frozenset(str(x) for x in tot.get("reverse", [])),
                        label=str(tot.get("label", "")),
                    )
                    for tot in raw.get("totals", [])
                )
                instruments.append(
                    InstrumentSpec(
                        id=str(raw["id"]),
                        version=str(raw.get("version", "1")),
                        label=str(raw.get("label", "")),
                        items=items,
                        scales=scales,
                        totals=totals,
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"scoring spec: instruments[{i}] is malformed ({exc})") from exc
        return cls(tuple(instruments))


def _condition(raw: Any, item_id: str) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not ({"item", "all", "any", "not"} & set(raw)):
        raise ValueError(
            f"item {item_id}: show_if must be a condition such as {{item: q1, equals: 1}}"
        )
    return raw


def visible(instrument: InstrumentSpec, answers: Mapping[str, str]) -> dict[str, str]:
    """The answers (raw responses by item id) of the items shown, walking the items in order,
    as the tool does: an item hidden by its ``show_if`` does not count, nor for later items'
    conditions. Answers to items the spec does not know are kept."""
    shown: dict[str, str] = {}
    values: dict[str, Any] = {}
    known = set()
    for item in instrument.items:
        known.add(item.id)
        response = answers.get(item.id)
        if response is None:
            continue
        if item.show_if is not None and not holds(item.show_if, values):
            continue
        shown[item.id] = response
        values[item.id] = _typed(item, response)
    for item_id, response in answers.items():
        if item_id not in known:
            shown[item_id] = response
    return shown


def administered(instrument: InstrumentSpec, answers: Mapping[str, str]) -> set[str]:
    """The ids of the items the tool showed, given the answers (raw responses by item id): an
    item whose ``show_if`` does not hold on the visible earlier answers was not administered."""
    shown = visible(instrument, answers)
    values = {
        item.id: _typed(item, shown[item.id]) for item in instrument.items if item.id in shown
    }
    out = set()
    for item in instrument.items:
        earlier = {k: v for k, v in values.items() if k != item.id}
        if item.show_if is None or holds(item.show_if, earlier):
            out.add(item.id)
    return out


def _typed(item: ItemSpec, response: str) -> Any:
    """A response as the tool held it: numbers as numbers (so ``equals: true`` on a yes/no
    item of 1/0 means what it does in the tool), a multiple choice as a list."""
    if "[,]" in response:
        return response.split("[,]")
    if item.numeric:
        try:
            number = float(response)
        except ValueError:
            return response
        return int(number) if number.is_integer() else number
    return response


def score_scale(
    scale: ScaleSpec, instrument: InstrumentSpec, answers: Mapping[str, float | None]
) -> float | None:
    """The scale score from numeric answers by item id (None: missing)."""
    values: list[float] = []
    missing = 0
    for item_id in scale.items:
        value = answers.get(item_id)
        if value is None:
            missing += 1
            continue
        if item_id in scale.reverse:
            item = instrument.item(item_id)
            bounds = item.bounds if item else None
            if bounds is None:
                raise ValueError(f"reverse-keyed item {item_id} has no choices to reverse over")
            value = bounds[0] + bounds[1] - value
        values.append(value)
    if missing > scale.max_missing or not values:
        return None
    if scale.method == "mean":
        return round(sum(values) / len(values), 4)
    total = float(sum(values))
    if scale.prorate and missing:
        total = total * len(scale.items) / len(values)
    return round(total, 4)


def score_total(
    total: TotalSpec, instrument: InstrumentSpec, scores: Mapping[str, float | None]
) -> float | None:
    """A total from the instrument's subscale scores (None when a part is missing)."""
    parts: list[float] = []
    for name in total.of:
        part = scores.get(name)
        if part is None:
            return None
        if name in total.reverse:
            scale = next(s for s in instrument.scales if s.id == name)
            first = instrument.item(scale.items[0])
            bounds = first.bounds if first else None
            if bounds is None:
                raise ValueError(f"total {total.id}: subscale {name} has no range to reverse over")
            span = 1 if scale.method == "mean" else len(scale.items)
            part = (bounds[0] + bounds[1]) * span - part
        parts.append(part)
    return round(sum(parts), 4)


_VAR = re.compile(r"[^A-Za-z0-9_]")


def variable_name(*parts: str) -> str:
    """An SPSS/REDCap-safe variable name (letters, digits, underscore; starts with a letter)."""
    name = "_".join(_VAR.sub("_", p) for p in parts if p).lower()
    if not name or not name[0].isalpha():
        name = "v_" + name
    return name[:64]
