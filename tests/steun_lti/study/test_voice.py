"""One voice for teachers (issue 15): the Dutch texts say "je", as the course does, never "u/uw".

Kept formal on purpose, and so not checked here: a child in a course story who says "juf, heeft u
even?", and test fixtures. A text addressed to parents may say "u"; there is none yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
FORMAL = re.compile(r"\b(?:u|uw|U|Uw)\b")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def dutch(node: object) -> Iterator[str]:
    """Every `nl` text of a study or instrument definition."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "nl" and isinstance(value, str):
                yield value
            else:
                yield from dutch(value)
    elif isinstance(node, list):
        for value in node:
            yield from dutch(value)


def test_the_dutch_catalogue_says_je() -> None:
    with (ROOT / "steun_lti/translations/nl/LC_MESSAGES/messages.po").open("rb") as fh:
        catalogue = read_po(fh)
    formal = []
    for message in catalogue:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        formal += [s for s in strings if s and FORMAL.search(s)]
    assert not formal


@pytest.mark.parametrize(
    "path",
    sorted(
        [
            *(ROOT / "steun_lti/study").glob("*.yaml"),
            *(ROOT / "steun_lti/questionnaires/instruments").glob("*.yaml"),
        ]
    ),
    ids=lambda p: p.name,
)
def test_study_and_instrument_texts_say_je(path: Path) -> None:
    formal = [text for text in dutch(yaml.safe_load(path.read_text())) if FORMAL.search(text)]
    assert not formal


@pytest.mark.parametrize(
    "path",
    sorted(
        [
            *(ROOT / "steun_lti/web/templates").rglob("*.html"),
            *(ROOT / "steun_lti/demo/templates").rglob("*.html"),
            ROOT / "docs/docent.md",
        ]
    ),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_pages_and_the_teacher_guide_say_je(path: Path) -> None:
    lines = JINJA.sub("", path.read_text()).splitlines()
    assert [line for line in lines if FORMAL.search(line)] == []
