"""The export's scoring spec written from the study's instrument definitions (demo export).

`steun export --spec` takes the items, choices and subscales as a file, because ``xapi`` knows
nothing of the tool's instruments. For the demo the tool writes that file from its own registry,
so the demo export has labelled items and subscale scores, and researchers see what a spec looks
like (``var/export/scoring-spec.yaml``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from steun_lti.plumbing.settings import Settings

TYPES = {"likert": "likert", "single": "choice", "yesno": "choice", "number": "numeric"}


def scoring_spec(settings: Settings) -> dict[str, Any] | None:
    """``ScoringSpec.from_dict`` input for every instrument, or None without the questionnaires."""
    here = Path(__file__).resolve().parents[1]
    if not (here / "questionnaires" / "registry.py").exists():
        return None
    from steun_lti.questionnaires.definition import tr
    from steun_lti.questionnaires.registry import load_registry

    registry = load_registry(settings.instruments_dir)
    instruments = []
    for instrument in registry.instruments.values():
        items = []
        for item in instrument.items:
            entry: dict[str, Any] = {
                "id": item.id,
                "label": tr(item.text, "nl")[:200],
                "type": TYPES.get(item.type, "fill-in"),
            }
            if item.numeric_options:
                entry["choices"] = [[int(c.value), tr(c.label, "nl")] for c in item.options]
            if item.show_if:
                entry["show_if"] = item.show_if
            items.append(entry)
        scales = [
            {
                "id": rule.id,
                "label": tr(rule.label, "nl") if rule.label else rule.id,
                "items": list(rule.items),
                "method": rule.method,
                "reverse": [i for i in rule.items if instrument.items_by_id[i].reverse],
                "max_missing": rule.max_missing,
            }
            for rule in instrument.subscales
        ]
        instruments.append(
            {
                "id": instrument.id,
                "version": instrument.version,
                "label": tr(instrument.title, "nl"),
                "items": items,
                "scales": scales,
            }
        )
    return {"instruments": instruments}
