"""The instruments the tool knows: the bundled demo instruments plus a private folder.

Researchers put licensed wordings (same format, or XLSForm ``.xlsx``) in ``STEUN_INSTRUMENTS_DIR``;
those files never enter the repository. A private file with the id of a bundled instrument
replaces it. Any bad file stops start-up with its file, item and reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from steun_lti.questionnaires.definition import Instrument
from steun_lti.questionnaires.errors import InstrumentError
from steun_lti.questionnaires.files import load_instrument

log = logging.getLogger("steun.questionnaires")
SUFFIXES = (".yaml", ".yml", ".xlsx")


@dataclass
class InstrumentRegistry:
    instruments: dict[str, Instrument] = field(default_factory=dict)

    def get(self, instrument_id: str) -> Instrument:
        return self.instruments[instrument_id]

    def __contains__(self, instrument_id: object) -> bool:
        return instrument_id in self.instruments

    def add(self, instrument: Instrument, replace: bool = False) -> None:
        known = self.instruments.get(instrument.id)
        if known is not None and not replace:
            raise InstrumentError(
                instrument.source,
                f"instrument id {instrument.id!r} is also defined in {known.source}",
            )
        self.instruments[instrument.id] = instrument


def bundled_dir() -> Path:
    return Path(str(resources.files("steun_lti.questionnaires").joinpath("instruments")))


def _files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~$"))
    )


def load_registry(private_dir: Path | None = None) -> InstrumentRegistry:
    registry = InstrumentRegistry()
    for path in _files(bundled_dir()):
        registry.add(load_instrument(path))
    if private_dir is not None:
        if not private_dir.is_dir():
            raise InstrumentError(str(private_dir), "the instruments folder does not exist")
        private = InstrumentRegistry()
        for path in _files(private_dir):
            private.add(load_instrument(path))
        for instrument in private.instruments.values():
            if instrument.id in registry:
                log.info("private instrument %s replaces the bundled one", instrument.id)
            registry.add(instrument, replace=True)
    return registry
