"""Questionnaires as data: definitions (YAML + JSON Schema), branching, scoring, XLSForm import.

Nothing here knows about Flask or the database; ``steun_lti/study`` and the web views use it.
"""

from __future__ import annotations

from steun_lti.questionnaires.definition import (
    Choice,
    Instrument,
    Item,
    Page,
    Scale,
    parse_instrument,
)
from steun_lti.questionnaires.errors import InstrumentError
from steun_lti.questionnaires.files import load_instrument
from steun_lti.questionnaires.registry import InstrumentRegistry, load_registry

__all__ = [
    "Choice",
    "Instrument",
    "InstrumentError",
    "InstrumentRegistry",
    "Item",
    "Page",
    "Scale",
    "load_instrument",
    "load_registry",
    "parse_instrument",
]
