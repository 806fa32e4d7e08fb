"""The course source's YAML, read with the line of every key and list item, and the checks of
its values (text, ids, numbers, nl/en text, lists) whose complaints name ``file:line``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from scorm_package.exceptions import BuildError
from scorm_package.model import Localised

ID_RE = re.compile(r"^[a-z0-9-]+$")


class LineDict(dict[Any, Any]):
    """A mapping that knows its own line and the line of each key."""

    line: int = 0
    lines: dict[Any, int]


class LineList(list[Any]):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    lines: list[int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise _YamlDuplicate(f"duplicate key '{key}'", key_node.start_mark.line + 1)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    seq = LineList(loader.construct_object(child, deep=True) for child in node.value)
    seq.line = node.start_mark.line + 1
    seq.lines = [child.start_mark.line + 1 for child in node.value]
    return seq


class _YamlDuplicate(Exception):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path) -> LineDict:
    """Read a YAML file whose top level must be a mapping; errors carry file and line."""
    if not path.is_file():
        raise BuildError("file not found", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BuildError(f"not UTF-8 text ({exc.reason})", path) from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except _YamlDuplicate as exc:
        raise BuildError(str(exc), path, exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise BuildError(f"bad YAML: {problem}", path, line) from None
    except yaml.YAMLError as exc:
        raise BuildError(f"bad YAML: {exc}", path) from None
    if not isinstance(data, LineDict):
        raise BuildError("expected a mapping (key: value) at the top level", path, 1)
    return data


class Ctx:
    """Where we are: the YAML file, for messages."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, message: str, line: int | None) -> BuildError:
        return BuildError(message, self.path, line)

    def mapping(self, value: Any, what: str, line: int) -> LineDict:
        if not isinstance(value, LineDict):
            raise self.fail(f"{what} must be a mapping (key: value)", line)
        return value

    def keys(
        self, m: LineDict, what: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> None:
        for key in m:
            if key not in required and key not in optional:
                allowed = ", ".join(required + optional)
                raise self.fail(f"unknown key '{key}' in {what} (allowed: {allowed})", m.lines[key])
        for key in required:
            if key not in m:
                raise self.fail(f"{what} is missing the required key '{key}'", m.line)

    def string(self, m: LineDict, key: str, what: str, default: str | None = None) -> str:
        if key not in m:
            if default is None:
                raise self.fail(f"{what} is missing the required key '{key}'", m.line)
            return default
        value = m[key]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(f"'{key}' of {what} must be text", m.lines[key])
        text = str(value).strip()
        if not text:
            raise self.fail(f"'{key}' of {what} must not be empty", m.lines[key])
        return text

    def ident(self, m: LineDict, key: str, what: str) -> str:
        value = self.string(m, key, what)
        if not ID_RE.match(value):
            raise self.fail(
                f"'{key}' of {what} must match [a-z0-9-]+ (lower-case letters, digits, hyphens): {value!r}",
                m.lines[key],
            )
        return value

    def number(
        self,
        m: LineDict,
        key: str,
        what: str,
        low: float,
        high: float,
        default: float | None = None,
    ) -> float:
        if key not in m:
            if default is None:
                raise self.fail(f"{what} is missing the required key '{key}'", m.line)
            return default
        value = m[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise self.fail(
                f"'{key}' of {what} must be a number from {low:g} to {high:g}", m.lines[key]
            )
        return float(value)

    def localised(
        self, m: LineDict, key: str, what: str, default: Localised | None = None
    ) -> Localised:
        if key not in m:
            if default is None:
                raise self.fail(f"{what} is missing the required key '{key}'", m.line)
            return default
        value = m[key]
        if isinstance(value, str):
            return {"nl": value.strip()}
        if not isinstance(value, LineDict):
            raise self.fail(f"'{key}' of {what} must be text or {{nl: ..., en: ...}}", m.lines[key])
        for lang in value:
            if lang not in ("nl", "en"):
                raise self.fail(
                    f"unknown language '{lang}' in '{key}' (use nl, en)", value.lines[lang]
                )
        self.keys(value, f"'{key}' of {what}", ("nl",), ("en",))
        return {lang: self.string(value, lang, f"'{key}' of {what}") for lang in value}

    def sequence(self, m: LineDict, key: str, what: str, required: bool = True) -> LineList:
        if key not in m:
            if required:
                raise self.fail(f"{what} is missing the required key '{key}'", m.line)
            empty = LineList()
            empty.line, empty.lines = m.line, []
            return empty
        value = m[key]
        if not isinstance(value, LineList) or not value:
            raise self.fail(f"'{key}' of {what} must be a non-empty list", m.lines[key])
        return value


def unique(ctx: Ctx, seen: set[str], value: str, what: str, line: int) -> None:
    if value in seen:
        raise ctx.fail(f"duplicate {what} id '{value}'", line)
    seen.add(value)
