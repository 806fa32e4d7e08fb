"""Details in a teacher's free-text note about a child that could identify the child.

The study keeps children as codes; the optional note ("why this child?") must not undo that.
The page asks for no names, initials or dates of birth; this check catches the obvious slips
("Jan de Vries, geboren 03-04-2016, woont bij oma") so they are never stored. It is a simple
heuristic, not a guarantee: it looks for

- a date: digits with - / . between three parts (03-04-2016), a day with a month name
  (3 april), or a month name with a year (april 2016);
- an address: a capitalised word ending in a street word (…straat, …laan, …weg, …plein, …)
  followed by a house number, or a Dutch postcode (1234 AB);
- a name: two or more capitalised words in a row whose first is not the first word of a
  sentence (Dutch writes nouns in lower case, so such a run is a proper name), a capitalised
  word joined to another by a tussenvoegsel (Ayla de Vries), a family word or title before a
  capitalised word (oma Truus, juf Anja), or one of the commonest Dutch first names.

Organisations a teacher may need to mention (Veilig Thuis) are not names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = (
    "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
    "jan|feb|mrt|apr|jun|jul|aug|sep|sept|okt|nov|dec|"
    "january|february|march|may|june|july|august|october"
)
_DATE = re.compile(
    rf"\b\d{{1,4}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}\b"
    rf"|\b\d{{1,2}}\s+(?:{_MONTHS})\b"
    rf"|\b(?:{_MONTHS})\.?\s+(?:19|20)\d\d\b",
    re.IGNORECASE,
)
_STREET = "straat|laan|weg|plein|gracht|kade|singel|dreef|steeg|dijk|pad|hof"
_ADDRESS = re.compile(
    # A street name is a proper noun: capitalised, the street word at its end (Kerkstraat 12a),
    # so "liep weg 2 keer" or "op het schoolplein 2 uur" is no address.
    rf"\b[A-ZÀ-Þ][^\W\d_]*(?:{_STREET})\s+\d+\s?[a-zA-Z]?\b"
    r"|\b[1-9]\d{3}\s?(?!SA|SD|SS)[A-Z]{2}\b",  # postcode 1234 AB
)
_TUSSENVOEGSELS = frozenset({"van", "de", "der", "den", "ter", "ten", "te", "'t"})
_TITLE_WORDS = """
    juf meester meneer mevrouw dhr mw oma opa tante oom vader moeder papa mama broer broertje zus
    zusje neef nicht
"""
# Common first names of children and parents in the Netherlands, picked by hand: a short list of
# unmistakable names, not a dictionary.
_FIRST_NAME_WORDS = """
    Adam Ahmed Ali Amira Anna Anne Aya Ayoub Bram Daan Dirk Emma Eva Evi Fatima Fenna Finn Fleur
    Hamza Henk Ibrahim Isa Jan Jayden Jesse Johan Julia Kees Klaas Lars Levi Liam Lieke Lina Linda
    Liv Lotte Lucas Luuk Maria Mila Milan Mohamed Mohammed Noah Noor Nora Olivia Omar Piet Roos
    Ruben Saar Sam Sanne Sara Sem Sofia Sophie Tess Thomas Tim Tom Willem Yara Yusuf Zoë Zoe
"""
_TITLES = frozenset(_TITLE_WORDS.split())
_FIRST_NAMES = frozenset(_FIRST_NAME_WORDS.split())
_ALLOWED_PHRASES = re.compile(
    r"Veilig Thuis|Raad voor de Kinderbescherming|Centrum voor Jeugd en Gezin", re.IGNORECASE
)
_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*", re.UNICODE)


@dataclass(frozen=True)
class Found:
    kind: str  # "name", "date" or "address"
    text: str


def _capitalised(word: str) -> bool:
    # All-capital words are abbreviations (GGD, ADHD, IB) or pupil codes (B), not names.
    return word[0].isupper() and not word.isupper()


def _sentence_start(text: str, at: int) -> bool:
    before = text[:at].rstrip()
    return not before or before[-1] in ".!?:;\n"


def _names(text: str) -> list[str]:
    text = _ALLOWED_PHRASES.sub(lambda m: "x" * len(m.group()), text)
    words = list(_WORD.finditer(text))

    def adjacent(a: int, b: int) -> bool:
        return text[words[a].end() : words[b].start()].isspace()

    def capitalised_at(k: int) -> bool:
        return k < len(words) and _capitalised(words[k].group())

    def name_from(k: int) -> int:
        """The end (exclusive) of the run of capitalised words from k, tussenvoegsels allowed
        between them (Jan de Vries, Ayla van der Berg)."""
        end = k + 1
        while end < len(words) and adjacent(end - 1, end):
            tv = end
            while tv < len(words) and words[tv].group().lower() in _TUSSENVOEGSELS:
                tv += 1
            if tv > end and not (capitalised_at(tv) and adjacent(tv - 1, tv)):
                break
            if not capitalised_at(tv):
                break
            end = tv + 1
        return end

    found: list[str] = []
    i = 0
    while i < len(words):
        word = words[i].group()
        if word.lower() in _TITLES:
            k = i + 1
            while k < len(words) and words[k].group().lower() in _TUSSENVOEGSELS:
                k += 1
            if capitalised_at(k) and all(adjacent(m - 1, m) for m in range(i + 1, k + 1)):
                found.append(text[words[i].start() : words[name_from(k) - 1].end()])
        if not _capitalised(word):
            i += 1
            continue
        end = name_from(i)
        run = [w.group() for w in words[i:end]]
        capitals = [w for w in run if _capitalised(w)]
        joined = len(capitals) < len(run)  # a tussenvoegsel between capitalised words
        if _sentence_start(text, words[i].start()):
            capitals = capitals[1:]
        if joined or len(capitals) >= 2 or any(w in _FIRST_NAMES for w in run):
            found.append(text[words[i].start() : words[end - 1].end()])
        i = end
    # "Jan" inside "Jan de Vries" or "oma Truus" inside "oma Truus Jansen": report the longest.
    return [n for n in found if not any(n != other and n in other for other in found)]


def identifying_details(text: str) -> list[Found]:
    """What in ``text`` looks like a name, a date or an address (see the module docstring)."""
    found = [Found("date", m.group().strip()) for m in _DATE.finditer(text)]
    found += [Found("address", m.group().strip()) for m in _ADDRESS.finditer(text)]
    found += [Found("name", name) for name in dict.fromkeys(_names(text))]
    return found
