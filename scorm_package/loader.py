"""Load and check the course source (docs/course-format.md) into a typed model (``model``).

``course.yaml``, each ``module.yaml`` and their pages and media slots are read here; YAML with
line numbers and the value checks are ``source_yaml``, exercises ``exercises``. Each complaint
names ``file:line``. Nothing here renders HTML; that is ``render.py``.
"""

from __future__ import annotations

from pathlib import Path

from scorm_package.exceptions import BuildError
from scorm_package.exercises import EXERCISE_TYPES, load_exercise
from scorm_package.model import Course, Exercise, FinalCheck, Module, Page
from scorm_package.source_yaml import Ctx, LineDict, load_yaml, unique

PAGE_TYPES = ("text", "case", "reading", "video", "animation", "exercise")
MEDIA_TYPES = ("video", "animation")
BODY_REQUIRED = ("text", "case", "reading")
MEDIA_EXTENSIONS = (".mp4", ".webm")


PAGE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "text": (("id", "type", "title", "file"), ()),
    "case": (("id", "type", "title", "file"), ()),
    "reading": (("id", "type", "title", "file"), ()),
    "video": (("id", "type", "title", "slot"), ("minutes", "file")),
    "animation": (("id", "type", "title", "slot"), ("minutes", "file")),
    "exercise": (("id", "type", "title", "exercise"), ("file",)),
}


def _existing_file(ctx: Ctx, folder: Path, name: str, line: int, what: str) -> Path:
    path = (folder / name).resolve()
    if not path.is_file():
        raise ctx.fail(f"{what} '{name}' not found (looked for {path})", line)
    return path


def _page(ctx: Ctx, module_id: str, folder: Path, media: Path, m: LineDict) -> Page:
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
        page.exercise = load_exercise(
            ctx, ex, f"{module_id}.{page.id}", "the exercise", EXERCISE_TYPES
        )
    return page


def load_module(folder: Path, media: Path) -> Module:
    path = folder / "module.yaml"
    data = load_yaml(path)
    ctx = Ctx(path)
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
        unique(ctx, seen, page.id, "page", line)
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


def _final_check(ctx: Ctx, m: LineDict) -> FinalCheck:
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
        unique(ctx, seen, qid, "question", q.lines["id"])
        questions.append(
            load_exercise(ctx, q, f"final.{qid}", "a final-check question", ("choice", "multiple"))
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
    ctx = Ctx(path)
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
        unique(ctx, seen, module.id, "module", line)
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
