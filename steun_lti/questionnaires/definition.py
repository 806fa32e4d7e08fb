"""Questionnaire definitions: parse a YAML file, validate it (JSON Schema, then meaning), build objects.

The JSON Schema (``instrument.schema.json``, shipped in the package) checks the shape; the checks
below the schema check what a schema cannot: unique ids, scales that exist, branching that only
looks back, scoring that names real subscales. Every refusal names the file, the item and why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from steun_lti.questionnaires.errors import InstrumentError
from xapi.conditions import referenced_items

Text = Mapping[str, str]
Value = int | str
Answer = int | float | str | list[Value]

# libyaml's safe loader where installed (10x faster at start-up), else the pure-Python one
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

YES_NO_POINTS = (
    ({"nl": "Ja", "en": "Yes"}, 1),
    ({"nl": "Nee", "en": "No"}, 0),
)


def tr(text: Text | None, lang: str) -> str:
    """A text in the wanted language, falling back to Dutch."""
    if not text:
        return ""
    return text.get(lang) or text.get("nl") or next(iter(text.values()))


@dataclass(frozen=True)
class Choice:
    value: Value
    label: Text
    face: str | None = None


@dataclass(frozen=True)
class Scale:
    points: tuple[Choice, ...]
    display: str = "radio"

    @property
    def numeric(self) -> bool:
        return all(isinstance(p.value, int) and not isinstance(p.value, bool) for p in self.points)

    @property
    def low(self) -> int:
        return min(int(p.value) for p in self.points)

    @property
    def high(self) -> int:
        return max(int(p.value) for p in self.points)


@dataclass(frozen=True)
class Item:
    id: str
    text: Text
    type: str
    options: tuple[Choice, ...] = ()
    display: str = "radio"
    hint: Text | None = None
    required: bool = True
    reverse: bool = False
    subscales: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    integer: bool = False
    max_length: int | None = None
    show_if: Mapping[str, Any] | None = None
    page: str = ""

    @property
    def has_options(self) -> bool:
        return self.type in ("likert", "single", "multiple", "yesno")

    @property
    def numeric_options(self) -> bool:
        return bool(self.options) and all(
            isinstance(c.value, int) and not isinstance(c.value, bool) for c in self.options
        )

    def clean(self, raw: Any) -> Answer | None:
        """Turn a submitted value (JSON or form text) into the stored answer, or raise ValueError.

        ``None`` (or an empty value) means "no answer"; the ValueError's message is a reason code
        the web layer translates.
        """
        if raw is None or raw == "" or raw == []:
            return None
        if self.type in ("likert", "single", "yesno"):
            if isinstance(raw, list):
                raise ValueError("not_an_option")
            for choice in self.options:
                if str(choice.value) == str(raw):
                    return choice.value
            raise ValueError("not_an_option")
        if self.type == "multiple":
            values = raw if isinstance(raw, list) else [raw]
            chosen: list[Value] = []
            for one in values:
                match = next((c.value for c in self.options if str(c.value) == str(one)), None)
                if match is None:
                    raise ValueError("not_an_option")
                if match not in chosen:
                    chosen.append(match)
            order = [c.value for c in self.options]
            return sorted(chosen, key=order.index)
        if self.type == "number":
            if isinstance(raw, bool | list):
                raise ValueError("not_a_number")
            try:
                number = float(str(raw).strip().replace(",", "."))
            except ValueError:
                raise ValueError("not_a_number") from None
            if not math.isfinite(number):
                raise ValueError("not_a_number")
            if self.integer and number != int(number):
                raise ValueError("not_whole")
            if self.min is not None and number < self.min:
                raise ValueError("too_small")
            if self.max is not None and number > self.max:
                raise ValueError("too_large")
            return int(number) if number == int(number) else number
        if self.type == "text":
            if not isinstance(raw, str):
                raise ValueError("not_text")
            text = raw.strip()
            if self.max_length is not None and len(text) > self.max_length:
                raise ValueError("too_long")
            return text or None
        raise ValueError("unknown_type")  # pragma: no cover - the schema forbids other types


@dataclass(frozen=True)
class Page:
    id: str
    items: tuple[Item, ...]
    title: Text | None = None
    intro: Text | None = None
    section: str = ""
    section_title: Text | None = None
    section_intro: Text | None = None


@dataclass(frozen=True)
class SubscaleRule:
    id: str
    method: str
    items: tuple[str, ...]
    max_missing: int = 0
    prorate: bool = False
    label: Text | None = None


@dataclass(frozen=True)
class TotalRule:
    id: str
    of: tuple[str, ...]
    reverse: tuple[str, ...] = ()
    label: Text | None = None


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    languages: tuple[str, ...]
    title: Text
    informant: str
    pages: tuple[Page, ...]
    description: Text | None = None
    minutes: int | None = None
    licence: str | None = None
    subscales: tuple[SubscaleRule, ...] = ()
    totals: tuple[TotalRule, ...] = ()
    source: str = ""
    items_by_id: Mapping[str, Item] = field(default_factory=dict)

    @property
    def items(self) -> list[Item]:
        return [item for page in self.pages for item in page.items]

    def item(self, item_id: str) -> Item:
        return self.items_by_id[item_id]

    def page_index(self, item_id: str) -> int:
        page_id = self.items_by_id[item_id].page
        return next(i for i, p in enumerate(self.pages) if p.id == page_id)


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of definitions, as shipped in the package."""
    text = resources.files("steun_lti.questionnaires").joinpath("instrument.schema.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


def _item_at(data: Any, path: Sequence[Any]) -> str | None:
    """The id of the item a schema error points into, if any."""
    node = data
    found: str | None = None
    previous: Any = None
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if previous == "items" and isinstance(node, dict) and isinstance(node.get("id"), str):
            found = node["id"]
        previous = step if not isinstance(step, int) else previous
    return found


def _schema_reason(error: ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    best = error
    if error.context:
        # oneOf/anyOf: the deepest sub-error says most
        best = max(error.context, key=lambda e: len(e.absolute_path))
    return f"at {where}: {best.message}"


def parse_instrument(data: Any, source: str = "<data>") -> Instrument:
    """Validate parsed YAML/JSON data and build an :class:`Instrument`."""
    if not isinstance(data, dict):
        raise InstrumentError(source, "the file must hold a mapping (id, version, sections, ...)")
    errors = sorted(
        Draft202012Validator(schema()).iter_errors(data), key=lambda e: list(e.absolute_path)
    )
    if errors:
        first = errors[0]
        raise InstrumentError(source, _schema_reason(first), _item_at(data, first.absolute_path))
    return _build(data, source)


def load_yaml_instrument(path: Path) -> Instrument:
    """Read one YAML definition file (``files.load_instrument`` also reads XLSForm workbooks)."""
    source = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506
    except OSError as exc:
        raise InstrumentError(source, f"cannot read the file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InstrumentError(source, "the file is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InstrumentError(source, f"not valid YAML{where}: {problem}") from None
    return parse_instrument(data, source)


def _choice(raw: Mapping[str, Any]) -> Choice:
    return Choice(value=raw["value"], label=dict(raw["label"]), face=raw.get("face"))


def _texts(node: Mapping[str, Any]) -> list[tuple[str, Mapping[str, str]]]:
    found = []
    for key in ("title", "intro", "text", "hint", "label", "description"):
        if isinstance(node.get(key), dict):
            found.append((key, node[key]))
    return found


def _build(data: Mapping[str, Any], source: str) -> Instrument:
    languages = tuple(data["languages"])
    if languages[0] != "nl":
        raise InstrumentError(source, "the first language must be 'nl' (Dutch first)")

    scales: dict[str, Scale] = {}
    for name, raw in (data.get("scales") or {}).items():
        points = tuple(_choice(p) for p in raw["points"])
        values = [str(p.value) for p in points]
        if len(set(values)) != len(values):
            raise InstrumentError(source, f"scale {name!r} repeats a value")
        scales[name] = Scale(points=points, display=raw.get("display", "radio"))

    def check_languages(node: Mapping[str, Any], item: str | None, what: str) -> None:
        for key, text in _texts(node):
            for lang in languages:
                if lang not in text:
                    raise InstrumentError(source, f"{what} {key} has no {lang!r} text", item)

    check_languages(data, None, "the instrument")
    seen_items: dict[str, Item] = {}
    seen_pages: set[str] = set()
    pages: list[Page] = []
    for section in data["sections"]:
        check_languages(section, None, f"section {section['id']!r}")
        for raw_page in section["pages"]:
            if raw_page["id"] in seen_pages:
                raise InstrumentError(source, f"page id {raw_page['id']!r} is used twice")
            seen_pages.add(raw_page["id"])
            check_languages(raw_page, None, f"page {raw_page['id']!r}")
            items: list[Item] = []
            for raw in raw_page["items"]:
                item = _build_item(raw, raw_page["id"], scales, seen_items, source)
                check_languages(raw, item.id, "the item's")
                for choice in item.options:
                    for lang in languages:
                        if lang not in choice.label:
                            raise InstrumentError(
                                source, f"choice {choice.value!r} has no {lang!r} label", item.id
                            )
                seen_items[item.id] = item
                items.append(item)
            pages.append(
                Page(
                    id=raw_page["id"],
                    items=tuple(items),
                    title=raw_page.get("title"),
                    intro=raw_page.get("intro"),
                    section=section["id"],
                    section_title=section.get("title"),
                    section_intro=section.get("intro"),
                )
            )

    subscales, totals = _build_scoring(data.get("scoring") or {}, seen_items, source)
    return Instrument(
        id=data["id"],
        version=str(data["version"]),
        languages=languages,
        title=data["title"],
        informant=data["informant"],
        pages=tuple(pages),
        description=data.get("description"),
        minutes=data.get("minutes"),
        licence=data.get("licence"),
        subscales=subscales,
        totals=totals,
        source=source,
        items_by_id=seen_items,
    )


def _build_item(
    raw: Mapping[str, Any],
    page_id: str,
    scales: Mapping[str, Scale],
    earlier: Mapping[str, Item],
    source: str,
) -> Item:
    item_id = raw["id"]
    if item_id in earlier:
        raise InstrumentError(source, "this item id is used twice", item_id)
    kind = raw["type"]
    options: tuple[Choice, ...] = ()
    display = "radio"
    if kind == "likert":
        scale = scales.get(raw["scale"])
        if scale is None:
            raise InstrumentError(source, f"unknown scale {raw['scale']!r}", item_id)
        options, display = scale.points, scale.display
    elif kind in ("single", "multiple"):
        options = tuple(_choice(c) for c in raw["choices"])
        values = [str(c.value) for c in options]
        if len(set(values)) != len(values):
            raise InstrumentError(source, "two choices have the same value", item_id)
    elif kind == "yesno":
        options = tuple(Choice(value=v, label=label) for label, v in YES_NO_POINTS)
    for key in ("scale", "choices"):
        if key in raw and kind not in (("likert",) if key == "scale" else ("single", "multiple")):
            raise InstrumentError(source, f"{key!r} does not apply to a {kind} item", item_id)
    for key in ("min", "max", "integer"):
        if key in raw and kind != "number":
            raise InstrumentError(source, f"{key!r} applies only to number items", item_id)
    if "max_length" in raw and kind != "text":
        raise InstrumentError(source, "'max_length' applies only to text items", item_id)
    item = Item(
        id=item_id,
        text=raw["text"],
        type=kind,
        options=options,
        display=display,
        hint=raw.get("hint"),
        required=raw.get("required", True),
        reverse=raw.get("reverse", False),
        subscales=tuple(raw.get("subscales", ())),
        min=raw.get("min"),
        max=raw.get("max"),
        integer=raw.get("integer", False),
        max_length=raw.get("max_length"),
        show_if=raw.get("show_if"),
        page=page_id,
    )
    if item.reverse and not (item.numeric_options and kind != "multiple"):
        raise InstrumentError(
            source, "only items with numbered answer options can be reverse-keyed", item_id
        )
    if item.show_if is not None:
        for ref in referenced_items(item.show_if):
            if ref == item_id:
                raise InstrumentError(source, "show_if refers to the item itself", item_id)
            if ref not in earlier:
                raise InstrumentError(
                    source, f"show_if refers to {ref!r}, which is not an earlier item", item_id
                )
    return item


def _build_scoring(
    raw: Mapping[str, Any], items: Mapping[str, Item], source: str
) -> tuple[tuple[SubscaleRule, ...], tuple[TotalRule, ...]]:
    rules: list[SubscaleRule] = []
    declared = {r["id"] for r in raw.get("subscales", [])}
    for item in items.values():
        for name in item.subscales:
            if name not in declared:
                raise InstrumentError(
                    source, f"subscale {name!r} is not declared under scoring.subscales", item.id
                )
            if not item.numeric_options or item.type == "multiple":
                raise InstrumentError(
                    source,
                    "only items with numbered answer options can count in a subscale",
                    item.id,
                )
    for rule in raw.get("subscales", []):
        members = tuple(i.id for i in items.values() if rule["id"] in i.subscales)
        if not members:
            raise InstrumentError(source, f"subscale {rule['id']!r} has no items")
        ranges = {
            (
                min(int(c.value) for c in items[m].options),
                max(int(c.value) for c in items[m].options),
            )
            for m in members
        }
        if len(ranges) > 1:
            raise InstrumentError(
                source, f"the items of subscale {rule['id']!r} do not share one answer range"
            )
        max_missing = rule.get("max_missing", 0)
        if max_missing >= len(members):
            raise InstrumentError(
                source,
                f"subscale {rule['id']!r}: max_missing must be below its {len(members)} items",
            )
        if rule.get("prorate") and rule["method"] != "sum":
            raise InstrumentError(source, f"subscale {rule['id']!r}: prorate applies to sums only")
        rules.append(
            SubscaleRule(
                id=rule["id"],
                method=rule["method"],
                items=members,
                max_missing=max_missing,
                prorate=rule.get("prorate", False),
                label=rule.get("label"),
            )
        )
    totals: list[TotalRule] = []
    known = {r.id for r in rules}
    for total in raw.get("totals", []):
        if total["id"] in known:
            raise InstrumentError(source, f"total {total['id']!r} has the name of a subscale")
        for name in [*total["of"], *total.get("reverse", [])]:
            if name not in known:
                raise InstrumentError(
                    source, f"total {total['id']!r} names unknown subscale {name!r}"
                )
        for name in total.get("reverse", []):
            if name not in total["of"]:
                raise InstrumentError(
                    source, f"total {total['id']!r} reverses {name!r} but does not include it"
                )
        totals.append(
            TotalRule(
                id=total["id"],
                of=tuple(total["of"]),
                reverse=tuple(total.get("reverse", ())),
                label=total.get("label"),
            )
        )
    return tuple(rules), tuple(totals)
