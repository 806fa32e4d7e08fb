"""Import an XLSForm spreadsheet (ODK: ``survey``/``choices``/``settings``) where the mapping is clear.

Mapped: ``select_one`` / ``select_multiple`` lists, ``integer`` / ``decimal``, ``text``, ``note``
(skipped), ``begin group`` / ``end group`` (one group = one page), per-language columns
(``label::Dutch (nl)``, ``label::English (en)``, ``hint::...``), ``required``, ``relevant``
(``${q} = 'v'``, ``!=``, ``selected(${q}, 'v')``, joined by ``and`` or by ``or``), ``constraint``
(``. >= a and . <= b``, ``string-length(.) <= n``). Extra columns ``reverse`` and ``subscale`` carry
scoring membership; the ``settings`` sheet gives ``form_id``, ``version``, ``form_title`` and an
optional ``informant``. Anything else (repeats, calculations, other expressions) is refused with
the sheet and row, rather than guessed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from steun_lti.questionnaires.definition import Instrument, parse_instrument
from steun_lti.questionnaires.errors import InstrumentError

LANG_COLUMN = re.compile(r"^(label|hint)(?:::.*\((nl|en)\)|::(nl|en))?$", re.IGNORECASE)
TRUE = {"yes", "true", "1", "true()", "ja"}
RELEVANT_EQ = re.compile(r"^\$\{(\w+)\}\s*(=|!=)\s*'?([^'\s]*)'?$")
RELEVANT_SELECTED = re.compile(r"^selected\(\s*\$\{(\w+)\}\s*,\s*'([^']*)'\s*\)$")
CONSTRAINT_CMP = re.compile(r"^\.\s*(>=|<=)\s*(-?\d+(?:\.\d+)?)$")
CONSTRAINT_LEN = re.compile(r"^string-length\(\s*\.\s*\)\s*<=\s*(\d+)$")


def _identifier(name: str) -> str:
    return name.strip().lower()


def _value(text: Any) -> int | str:
    raw = str(text).strip()
    return int(raw) if re.fullmatch(r"-?\d+", raw) else raw


def _rows(workbook: Any, sheet: str, source: str, required: bool = True) -> list[dict[str, Any]]:
    if sheet not in workbook.sheetnames:
        if required:
            raise InstrumentError(source, f"the workbook has no {sheet!r} sheet")
        return []
    rows = list(workbook[sheet].iter_rows(values_only=True))
    if not rows:
        return []
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    out = []
    for number, row in enumerate(rows[1:], start=2):
        record = {h: v for h, v in zip(header, row, strict=False) if h and v not in (None, "")}
        if record:
            record["_row"] = number
            out.append(record)
    return out


def _texts(record: dict[str, Any], kind: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    for column, value in record.items():
        match = LANG_COLUMN.match(column)
        if match and match.group(1).lower() == kind:
            lang = (match.group(2) or match.group(3) or "nl").lower()
            texts[lang] = str(value).strip()
    return texts


def _relevant(expr: str, where: str, source: str) -> dict[str, Any]:
    expr = expr.strip()
    joiner = None
    for word in (" and ", " or "):
        if word in expr:
            if joiner:
                raise InstrumentError(
                    source, f"{where}: mixed 'and'/'or' in relevant is not supported"
                )
            joiner = word
    parts = [p.strip().strip("()").strip() for p in expr.split(joiner)] if joiner else [expr]
    conditions: list[dict[str, Any]] = []
    for part in parts:
        if m := RELEVANT_EQ.match(part):
            key = "equals" if m.group(2) == "=" else "not_equals"
            conditions.append({"item": _identifier(m.group(1)), key: _value(m.group(3))})
        elif m := RELEVANT_SELECTED.match(part):
            conditions.append({"item": _identifier(m.group(1)), "includes": _value(m.group(2))})
        else:
            raise InstrumentError(source, f"{where}: relevant expression {part!r} is not supported")
    if len(conditions) == 1:
        return conditions[0]
    return {"all" if joiner == " and " else "any": conditions}


def _constraint(expr: str, item: dict[str, Any], where: str, source: str) -> None:
    for part in [p.strip() for p in expr.split(" and ")]:
        if m := CONSTRAINT_CMP.match(part):
            number = float(m.group(2))
            item["min" if m.group(1) == ">=" else "max"] = (
                int(number) if number.is_integer() else number
            )
        elif (m := CONSTRAINT_LEN.match(part)) and item["type"] == "text":
            item["max_length"] = int(m.group(1))
        else:
            raise InstrumentError(source, f"{where}: constraint {part!r} is not supported")


def read_xlsform(path: Path) -> Instrument:
    source = str(path)
    try:
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InstrumentError(
            source, f"cannot read the spreadsheet ({type(exc).__name__})"
        ) from None
    try:
        survey = _rows(workbook, "survey", source)
        choice_rows = _rows(workbook, "choices", source, required=False)
        settings_rows = _rows(workbook, "settings", source, required=False)
    finally:
        workbook.close()
    settings = settings_rows[0] if settings_rows else {}

    lists: dict[str, list[dict[str, Any]]] = {}
    for row in choice_rows:
        list_name = str(row.get("list_name", row.get("list name", ""))).strip()
        if not list_name or "name" not in row:
            raise InstrumentError(source, f"choices row {row['_row']}: needs list_name and name")
        lists.setdefault(list_name, []).append(
            {"value": _value(row["name"]), "label": _texts(row, "label")}
        )

    pages: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for row in survey:
        where = f"survey row {row['_row']}"
        kind = str(row.get("type", "")).strip()
        name = _identifier(str(row.get("name", "")))
        words = kind.split()
        if not words:
            raise InstrumentError(source, f"{where}: no type")
        if words[0] == "begin" and words[1:] == ["group"]:
            if current is not None:
                raise InstrumentError(source, f"{where}: nested groups are not supported")
            current = {"id": name or f"page{len(pages) + 1}", "items": []}
            title = _texts(row, "label")
            if title:
                current["title"] = title
            continue
        if words[0] == "end" and words[1:] == ["group"]:
            if current is None:
                raise InstrumentError(source, f"{where}: 'end group' without 'begin group'")
            pages.append(current)
            current = None
            continue
        if words[0] in ("note", "start", "end", "today", "deviceid"):
            continue
        item: dict[str, Any] = {"id": name, "text": _texts(row, "label")}
        if words[0] in ("select_one", "select_multiple") and len(words) == 2:
            if words[1] not in lists:
                raise InstrumentError(source, f"{where}: no choices list {words[1]!r}", name)
            item["type"] = "single" if words[0] == "select_one" else "multiple"
            item["choices"] = lists[words[1]]
        elif words == ["integer"] or words == ["decimal"]:
            item["type"] = "number"
            item["integer"] = words == ["integer"]
        elif words == ["text"]:
            item["type"] = "text"
            item["max_length"] = 500
        else:
            raise InstrumentError(source, f"{where}: question type {kind!r} is not supported", name)
        hint = _texts(row, "hint")
        if hint:
            item["hint"] = hint
        item["required"] = str(row.get("required", "")).strip().lower() in TRUE
        if "relevant" in row:
            item["show_if"] = _relevant(str(row["relevant"]), where, source)
        if "constraint" in row:
            _constraint(str(row["constraint"]), item, where, source)
        if str(row.get("reverse", "")).strip().lower() in TRUE:
            item["reverse"] = True
        if "subscale" in row:
            item["subscales"] = [_identifier(s) for s in str(row["subscale"]).split()]
        (current["items"] if current is not None else loose).append(item)
    if current is not None:
        raise InstrumentError(source, "a 'begin group' has no 'end group'")
    if loose:
        pages.insert(0, {"id": "page0", "items": loose})
    if not pages:
        raise InstrumentError(source, "the survey sheet has no questions")

    languages = ["nl"]
    if all("en" in i["text"] for p in pages for i in p["items"]):
        languages.append("en")
    for page in pages:
        for item in page["items"]:
            for choice in item.get("choices", []):
                if "en" not in choice["label"] and "en" in languages:
                    languages.remove("en")
    form_id = _identifier(str(settings.get("form_id", path.stem)).replace(" ", "_"))
    title = _texts(
        {
            "label" + k[len("form_title") :]: v
            for k, v in settings.items()
            if k.startswith("form_title")
        },
        "label",
    )
    data: dict[str, Any] = {
        "id": form_id,
        "version": str(settings.get("version", "1")),
        "languages": languages,
        "title": title or {"nl": form_id},
        "informant": str(settings.get("informant", "teacher")).strip(),
        "sections": [{"id": "main", "pages": pages}],
    }
    subscales = sorted({s for p in pages for i in p["items"] for s in i.get("subscales", [])})
    if subscales:
        data["scoring"] = {"subscales": [{"id": s, "method": "sum"} for s in subscales]}
    _strip_languages(data, languages)
    return parse_instrument(data, source)


def _strip_languages(node: Any, languages: list[str]) -> None:
    """Drop texts in languages the form does not fully provide."""
    if isinstance(node, dict):
        for key in ("title", "text", "hint", "label"):
            value = node.get(key)
            if isinstance(value, dict) and "nl" in value:
                for lang in [k for k in value if k not in languages]:
                    del value[lang]
        for value in node.values():
            _strip_languages(value, languages)
    elif isinstance(node, list):
        for value in node:
            _strip_languages(value, languages)
