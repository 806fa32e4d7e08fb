"""Glue: the exporter's plain scoring spec, built from the tool's instrument definitions.

``xapi`` does not know the instrument format; this module translates an
:class:`~steun_lti.questionnaires.definition.Instrument` into :class:`xapi.export.InstrumentSpec`
(items with their numeric choices, subscales with reverse-keyed items and the missing-data rule,
totals), so ``steun export`` scores exactly as the tool does.
"""

from __future__ import annotations

from collections.abc import Iterable

from steun_lti.questionnaires.definition import Instrument, Item, tr
from steun_lti.questionnaires.registry import InstrumentRegistry
from xapi.export import InstrumentSpec, ItemSpec, ScaleSpec, ScoringSpec
from xapi.export.spec import TotalSpec

ITEM_TYPES = {"likert": "likert", "single": "choice", "yesno": "choice", "number": "numeric"}


def _item(item: Item) -> ItemSpec:
    numeric_options = all(
        isinstance(c.value, int | float) and not isinstance(c.value, bool) for c in item.options
    )
    kind = ITEM_TYPES.get(item.type, "fill-in")
    if kind in ("likert", "choice") and not numeric_options:
        kind = "fill-in"  # coded answers that are not numbers stay text
    choices = (
        tuple((float(c.value), tr(c.label, "nl")) for c in item.options)
        if kind in ("likert", "choice")
        else ()
    )
    return ItemSpec(
        id=item.id, label=tr(item.text, "nl"), type=kind, choices=choices, show_if=item.show_if
    )


def instrument_spec(instrument: Instrument) -> InstrumentSpec:
    return InstrumentSpec(
        id=instrument.id,
        version=instrument.version,
        label=tr(instrument.title, "nl"),
        items=tuple(_item(i) for i in instrument.items),
        scales=tuple(
            ScaleSpec(
                id=rule.id,
                items=tuple(rule.items),
                label=tr(rule.label, "nl") or rule.id,
                method=rule.method,
                reverse=frozenset(i for i in rule.items if instrument.item(i).reverse),
                max_missing=rule.max_missing,
                prorate=rule.prorate,
            )
            for rule in instrument.subscales
        ),
        totals=tuple(
            TotalSpec(
                id=total.id,
                of=tuple(total.of),
                reverse=frozenset(total.reverse),
                label=tr(total.label, "nl") or total.id,
            )
            for total in instrument.totals
        ),
    )


def scoring_spec(instruments: Iterable[Instrument]) -> ScoringSpec:
    return ScoringSpec(tuple(instrument_spec(i) for i in instruments))


def scoring_spec_from_registry(registry: InstrumentRegistry) -> ScoringSpec:
    return scoring_spec(registry.instruments[k] for k in sorted(registry.instruments))
