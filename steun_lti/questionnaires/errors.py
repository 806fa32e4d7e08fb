"""The one error of instrument and study definitions: what file, which item, why."""

from __future__ import annotations

from steun_lti.exceptions import ConfigurationError


class InstrumentError(ConfigurationError):
    """A questionnaire (or study) definition is unusable; refused at start-up."""

    default_message = "Invalid questionnaire definition."

    def __init__(self, source: str, reason: str, item: str | None = None) -> None:
        self.source = source
        self.item = item
        self.reason = reason
        where = f"{source}, item {item!r}" if item else source
        super().__init__(f"{where}: {reason}")
