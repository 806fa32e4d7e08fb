"""Helpers of the engine tests: small instruments written inline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def minimal(**overrides: Any) -> dict[str, Any]:
    """A valid two-page instrument to break in one place per test."""
    data: dict[str, Any] = {
        "id": "mini",
        "version": "1",
        "languages": ["nl", "en"],
        "title": {"nl": "Mini", "en": "Mini"},
        "informant": "teacher",
        "scales": {
            "agree": {
                "points": [
                    {"value": 1, "label": {"nl": "Nee", "en": "No"}},
                    {"value": 2, "label": {"nl": "Soms", "en": "Sometimes"}},
                    {"value": 3, "label": {"nl": "Ja", "en": "Yes"}},
                ]
            }
        },
        "sections": [
            {
                "id": "s1",
                "pages": [
                    {
                        "id": "p1",
                        "items": [
                            {
                                "id": "q1",
                                "text": {"nl": "Een", "en": "One"},
                                "type": "likert",
                                "scale": "agree",
                                "subscales": ["a"],
                            },
                            {
                                "id": "q2",
                                "text": {"nl": "Twee", "en": "Two"},
                                "type": "likert",
                                "scale": "agree",
                                "reverse": True,
                                "subscales": ["a"],
                            },
                        ],
                    },
                    {
                        "id": "p2",
                        "items": [
                            {"id": "q3", "text": {"nl": "Drie", "en": "Three"}, "type": "yesno"},
                            {
                                "id": "q4",
                                "text": {"nl": "Vier", "en": "Four"},
                                "type": "likert",
                                "scale": "agree",
                                "show_if": {"item": "q3", "equals": 1},
                                "subscales": ["a"],
                            },
                            {
                                "id": "q5",
                                "text": {"nl": "Vijf", "en": "Five"},
                                "type": "text",
                                "max_length": 10,
                                "required": False,
                            },
                        ],
                    },
                ],
            }
        ],
        "scoring": {"subscales": [{"id": "a", "method": "sum", "max_missing": 1, "prorate": True}]},
    }
    data.update(overrides)
    return data


def write(tmp_path: Path, data: Any, name: str = "mini.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path
