"""Reading one definition file, whichever its format: YAML or an XLSForm workbook (.xlsx)."""

from __future__ import annotations

from pathlib import Path

from steun_lti.questionnaires.definition import Instrument, load_yaml_instrument
from steun_lti.questionnaires.xlsform import read_xlsform


def load_instrument(path: Path) -> Instrument:
    """Read one definition file (YAML, or XLSForm .xlsx)."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsform(path)
    return load_yaml_instrument(path)
