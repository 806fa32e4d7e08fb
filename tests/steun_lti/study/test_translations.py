"""The message catalogues: every string of the study pages translated, compiled catalogue current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
TRANSLATIONS = ROOT / "steun_lti" / "translations"


def test_every_extracted_message_has_a_dutch_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            str(TRANSLATIONS / "babel.cfg"),
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    with (TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh)
    translated = {
        m.id
        for m in catalogue
        if m.id and m.string and (not isinstance(m.string, tuple) or all(m.string))
    }
    missing = extracted - translated
    assert not missing, (
        f"untranslated (update nl/LC_MESSAGES/messages.po): {sorted(map(str, missing))}"
    )


def key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def test_the_compiled_catalogue_matches_its_source() -> None:
    with (TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        source = {key(m.id): key(m.string) for m in read_po(fh) if m.id}
    with (TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        compiled = {key(m.id): key(m.string) for m in read_mo(fh) if m.id}
    assert compiled == source, "run: pybabel compile -d steun_lti/translations"
