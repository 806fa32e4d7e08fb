"""Load and check the course source (docs/course-format.md) into a typed model.

YAML is read with a loader that remembers the line of every key and list item, so each complaint names
``file:line``. Nothing here renders HTML; that is ``render.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scorm_package.exceptions import BuildError

ID_RE = re.compile(r"^[a-z0-9-]+$")
PAGE_TYPES = ("text", "case", "reading", "video", "animation", "exercise")
EXERCISE_TYPES = ("choice", "multiple", "sorting", "reflection")
MEDIA_TYPES = ("video", "animation")
BODY_REQUIRED = ("text", "case", "reading")
MEDIA_EXTENSIONS = (".mp4", ".webm")
# SCORM 1.2 responses are single characters (0-9, a-z): options and sorting items map onto them.
MAX_CHOICES = 26
MAX_SORT_ITEMS = 36
MAX_REFLECTION = 4000

Localised = dict[str, str]


# --------------------------------------------------------------------------- YAML with line numbers
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


# --------------------------------------------------------------------------- the model
@dataclass
class Option:
    id: str
    text: str
    correct: bool
    feedback: str


@dataclass
class Category:
    id: str
    label: str


@dataclass
class SortItem:
    id: str
    text: str
    category: str


@dataclass
class Exercise:
    """An exercise on a page, or one question of the final check (type choice/multiple)."""

    key: str  # unique in the course, a valid SCORM interaction id: "<module>.<page>" or "final.<q>"
    type: str
    prompt: str
    options: list[Option] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    items: list[SortItem] = field(default_factory=list)
    feedback: dict[str, str] = field(default_factory=dict)
    max_length: int = 1000
    model_answer: str = ""

    @property
    def scored(self) -> bool:
        return self.type != "reflection"


@dataclass
class Page:
    id: str
    type: str
    title: str
    source: Path  # module.yaml, for error messages
    line: int
    file: Path | None = None
    slot: str | None = None
    minutes: float = 0
    exercise: Exercise | None = None


@dataclass
class Module:
    id: str
    folder: Path
    title: Localised
    minutes: float
    objectives: list[str]
    pages: list[Page]


@dataclass
class FinalCheck:
    title: Localised
    pass_mark: int
    questions: list[Exercise]


@dataclass
class Course:
    root: Path
    id: str
    version: str
    language: str
    title: Localised
    description: Localised
    organisation: Localised
    modules: list[Module]
    final_check: FinalCheck | None

    @property
    def minutes(self) -> float:
        return sum(m.minutes for m in self.modules)

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    def exercises(self) -> list[Exercise]:
        """Every exercise in course order, final-check questions last."""
        found = [p.exercise for m in self.modules for p in m.pages if p.exercise is not None]
        if self.final_check is not None:
            found.extend(self.final_check.questions)
        return found


# --------------------------------------------------------------------------- checking helpers
class _Ctx:
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


def _unique(ctx: _Ctx, seen: set[str], value: str, what: str, line: int) -> None:
    if value in seen:
        raise ctx.fail(f"duplicate {what} id '{value}'", line)
    seen.add(value)


# --------------------------------------------------------------------------- exercises
def _options(ctx: _Ctx, m: LineDict, what: str) -> list[Option]:
    options: list[Option] = []
    seen: set[str] = set()
    raw = ctx.sequence(m, "options", what)
    if len(raw) < 2:
        raise ctx.fail(f"{what} needs at least two options", m.lines["options"])
    if len(raw) > MAX_CHOICES:
        raise ctx.fail(f"{what} has more than {MAX_CHOICES} options", m.lines["options"])
    for item, line in zip(raw, raw.lines, strict=True):
        o = ctx.mapping(item, f"an option of {what}", line)
        ctx.keys(o, "an option", ("id", "text"), ("correct", "feedback"))
        oid = ctx.ident(o, "id", "an option")
        _unique(ctx, seen, oid, "option", o.lines["id"])
        correct = o.get("correct", False)
        if not isinstance(correct, bool):
            raise ctx.fail("'correct' must be true or false", o.lines["correct"])
        options.append(
            Option(
                oid,
                ctx.string(o, "text", "an option"),
                correct,
                ctx.string(o, "feedback", "an option", ""),
            )
        )
    return options


def _feedback(ctx: _Ctx, m: LineDict, what: str) -> dict[str, str]:
    if "feedback" not in m:
        return {}
    fb = ctx.mapping(m["feedback"], f"'feedback' of {what}", m.lines["feedback"])
    ctx.keys(fb, f"'feedback' of {what}", (), ("correct", "incorrect"))
    return {k: ctx.string(fb, k, f"'feedback' of {what}") for k in fb}


EXERCISE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "choice": (("type", "prompt", "options"), ("feedback",)),
    "multiple": (("type", "prompt", "options"), ("feedback",)),
    "sorting": (("type", "prompt", "categories", "items"), ("feedback",)),
    "reflection": (("type", "prompt"), ("max_length", "model_answer")),
}


def _exercise(ctx: _Ctx, m: LineDict, key: str, what: str, types: tuple[str, ...]) -> Exercise:
    etype = ctx.string(m, "type", what)
    if etype not in types:
        raise ctx.fail(
            f"unknown exercise type '{etype}' (use one of: {', '.join(types)})", m.lines["type"]
        )
    required, optional = EXERCISE_KEYS[etype]
    extra = ("id",) if key.startswith("final.") else ()
    ctx.keys(m, f"{what} (type {etype})", required, optional + extra)
    ex = Exercise(key=key, type=etype, prompt=ctx.string(m, "prompt", what))
    if etype in ("choice", "multiple"):
        ex.options = _options(ctx, m, what)
        n_correct = sum(o.correct for o in ex.options)
        if etype == "choice" and n_correct != 1:
            raise ctx.fail(
                f"a 'choice' exercise needs exactly one correct option, found {n_correct}",
                m.lines["options"],
            )
        if etype == "multiple" and n_correct < 1:
            raise ctx.fail(
                "a 'multiple' exercise needs at least one correct option", m.lines["options"]
            )
        ex.feedback = _feedback(ctx, m, what)
    elif etype == "sorting":
        seen: set[str] = set()
        cats = ctx.sequence(m, "categories", what)
        if len(cats) < 2:
            raise ctx.fail(
                "a 'sorting' exercise needs at least two categories", m.lines["categories"]
            )
        for item, line in zip(cats, cats.lines, strict=True):
            c = ctx.mapping(item, "a category", line)
            ctx.keys(c, "a category", ("id", "label"))
            cid = ctx.ident(c, "id", "a category")
            _unique(ctx, seen, cid, "category", c.lines["id"])
            ex.categories.append(Category(cid, ctx.string(c, "label", "a category")))
        seen_items: set[str] = set()
        items = ctx.sequence(m, "items", what)
        if len(items) > MAX_SORT_ITEMS:
            raise ctx.fail(
                f"a 'sorting' exercise has at most {MAX_SORT_ITEMS} items", m.lines["items"]
            )
        for item, line in zip(items, items.lines, strict=True):
            i = ctx.mapping(item, "an item", line)
            ctx.keys(i, "an item", ("id", "text", "category"))
            iid = ctx.ident(i, "id", "an item")
            _unique(ctx, seen_items, iid, "item", i.lines["id"])
            cat = ctx.string(i, "category", "an item")
            if cat not in seen:
                raise ctx.fail(f"item '{iid}' names unknown category '{cat}'", i.lines["category"])
            ex.items.append(SortItem(iid, ctx.string(i, "text", "an item"), cat))
        ex.feedback = _feedback(ctx, m, what)
    else:
        ex.max_length = int(ctx.number(m, "max_length", what, 1, MAX_REFLECTION, 1000))
        ex.model_answer = ctx.string(m, "model_answer", what, "")
    return ex


# --------------------------------------------------------------------------- pages and modules
PAGE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "text": (("id", "type", "title", "file"), ()),
    "case": (("id", "type", "title", "file"), ()),
    "reading": (("id", "type", "title", "file"), ()),
    "video": (("id", "type", "title", "slot"), ("minutes", "file")),
    "animation": (("id", "type", "title", "slot"), ("minutes", "file")),
    "exercise": (("id", "type", "title", "exercise"), ("file",)),
}


def _existing_file(ctx: _Ctx, folder: Path, name: str, line: int, what: str) -> Path:
    path = (folder / name).resolve()
    if not path.is_file():
        raise ctx.fail(f"{what} '{name}' not found (looked for {path})", line)
    return path


def _page(ctx: _Ctx, module_id: str, folder: Path, media: Path, m: LineDict) -> Page:
    ptype = ctx.string(m, "type", "a page")
    if ptype not in PAGE_TYPES:
        raise ctx.fail(
            f"unknown page type '{ptype}' (use one of: {', '.join(PAGE_TYPES)})", m.lines["type"]
        )
    required, optional = PAGE_KEYS[ptype]
    ctx.keys(m, f"a page of type {ptype}", required, optional)
    page = Page(
        id=ctx.ident(m, "id", "a page"),
        type=ptype,
        title=ctx.string(m, "title", "a page"),
        source=ctx.path,
        line=m.line,
    )
    if "file" in m:
        page.file = _existing_file(
            ctx, folder, ctx.string(m, "file", "a page"), m.lines["file"], "page file"
        )
    if ptype in MEDIA_TYPES:
        slot = ctx.ident(m, "slot", "a media page")
        page.slot = slot
        page.minutes = ctx.number(m, "minutes", "a media page", 0, 600, 0)
        for suffix in (".vtt", ".transcript.md"):
            if not (media / f"{slot}{suffix}").is_file():
                raise ctx.fail(
                    f"media slot '{slot}' needs media/{slot}{suffix} (looked in {media})",
                    m.lines["slot"],
                )
    if ptype == "exercise":
        ex = ctx.mapping(m["exercise"], "'exercise'", m.lines["exercise"])
        page.exercise = _exercise(ctx, ex, f"{module_id}.{page.id}", "the exercise", EXERCISE_TYPES)
    return page


def load_module(folder: Path, media: Path) -> Module:
    path = folder / "module.yaml"
    data = load_yaml(path)
    ctx = _Ctx(path)
    ctx.keys(data, "module.yaml", ("id", "title", "minutes", "pages"), ("objectives",))
    module_id = ctx.ident(data, "id", "module.yaml")
    objectives: list[str] = []
    if "objectives" in data:
        raw = ctx.sequence(data, "objectives", "module.yaml")
        for item, line in zip(raw, raw.lines, strict=True):
            if not isinstance(item, str) or not item.strip():
                raise ctx.fail("each objective must be a line of text", line)
            objectives.append(item.strip())
    pages: list[Page] = []
    seen: set[str] = set()
    raw_pages = ctx.sequence(data, "pages", "module.yaml")
    for item, line in zip(raw_pages, raw_pages.lines, strict=True):
        page = _page(ctx, module_id, folder, media, ctx.mapping(item, "a page", line))
        _unique(ctx, seen, page.id, "page", line)
        if len(module_id) + len(page.id) + 1 > 255:
            raise ctx.fail(
                "module id + page id longer than the 255 characters of a SCORM bookmark", line
            )
        pages.append(page)
    return Module(
        id=module_id,
        folder=folder,
        title=ctx.localised(data, "title", "module.yaml"),
        minutes=ctx.number(data, "minutes", "module.yaml", 1, 600),
        objectives=objectives,
        pages=pages,
    )


def _final_check(ctx: _Ctx, m: LineDict) -> FinalCheck:
    ctx.keys(m, "final_check", ("pass_mark", "questions"), ("title",))
    questions: list[Exercise] = []
    seen: set[str] = set()
    raw = ctx.sequence(m, "questions", "final_check")
    for item, line in zip(raw, raw.lines, strict=True):
        q = ctx.mapping(item, "a question", line)
        if "type" not in q:  # the format says "same shape as choice": type is optional here
            q["type"] = "choice"
            q.lines["type"] = q.line
        qid = ctx.ident(q, "id", "a question")
        _unique(ctx, seen, qid, "question", q.lines["id"])
        questions.append(
            _exercise(ctx, q, f"final.{qid}", "a final-check question", ("choice", "multiple"))
        )
    return FinalCheck(
        title=ctx.localised(
            m, "title", "final_check", {"nl": "Afsluitende toets", "en": "Final check"}
        ),
        pass_mark=int(ctx.number(m, "pass_mark", "final_check", 0, 100)),
        questions=questions,
    )


def load_course(root: Path) -> Course:
    """Read and check a course folder; raise BuildError naming file and line on the first problem."""
    root = root.resolve()
    if not root.is_dir():
        raise BuildError("course folder not found", root)
    path = root / "course.yaml"
    data = load_yaml(path)
    ctx = _Ctx(path)
    ctx.keys(
        data,
        "course.yaml",
        ("id", "version", "title", "modules"),
        ("language", "description", "organisation", "final_check"),
    )
    modules: list[Module] = []
    seen: set[str] = set()
    raw = ctx.sequence(data, "modules", "course.yaml")
    for item, line in zip(raw, raw.lines, strict=True):
        if not isinstance(item, str) or not item.strip():
            raise ctx.fail("each module must be the name of a folder under modules/", line)
        folder = root / "modules" / item.strip()
        if not folder.is_dir():
            raise ctx.fail(f"module folder 'modules/{item}' not found", line)
        module = load_module(folder, root / "media")
        _unique(ctx, seen, module.id, "module", line)
        modules.append(module)
    final = None
    if "final_check" in data:
        final = _final_check(
            ctx, ctx.mapping(data["final_check"], "final_check", data.lines["final_check"])
        )
    return Course(
        root=root,
        id=ctx.ident(data, "id", "course.yaml"),
        version=ctx.string(data, "version", "course.yaml"),
        language=ctx.string(data, "language", "course.yaml", "nl"),
        title=ctx.localised(data, "title", "course.yaml"),
        description=ctx.localised(data, "description", "course.yaml", {"nl": ""}),
        organisation=ctx.localised(data, "organisation", "course.yaml", {"nl": ""}),
        modules=modules,
        final_check=final,
    )
