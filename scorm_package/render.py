"""Render the course into one HTML page (the SCO) with Jinja2, Markdown through markdown-it-py.

The whole course is one page with its own navigation: moving between HTML files inside one SCO would
unload the page (and end the LMS session) on every step.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markdown_it.token import Token

from scorm_package.exceptions import BuildError
from scorm_package.model import Course, Exercise, Module, Page

TEMPLATE_DIR = Path(__file__).parent / "templates"
WORDS_PER_MINUTE = 180
EXERCISE_MINUTES = {"choice": 2, "multiple": 2, "sorting": 2, "reflection": 4}
FINAL_CHECK_MINUTES_PER_QUESTION = 1  # short recall questions, read and answered in about a minute
WORD_RE = re.compile(r"\w+", re.UNICODE)


class MarkdownRenderer:
    """CommonMark + tables; headings shifted so a text's top level is h2; images checked and collected."""

    def __init__(self, course: Course):
        self.course = course
        self.md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
        self.assets: dict[str, Path] = {}  # name inside the zip -> source file

    def render_file(self, path: Path) -> str:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise BuildError(f"not UTF-8 text ({exc.reason})", path) from None
        return self.render(text, path)

    def render(self, text: str, path: Path) -> str:
        tokens = self.md.parse(text)
        # The page title is the h1, so the text's own top level (authors write `##`, transcripts `#`)
        # becomes h2: no level is skipped (axe heading-order).
        levels = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
        shift = 2 - min(levels) if levels else 0
        for i, tok in enumerate(tokens):
            if tok.type in ("heading_open", "heading_close"):
                tok.tag = f"h{min(max(int(tok.tag[1]) + shift, 2), 6)}"
            elif tok.type == "blockquote_open" and self._is_tip(tokens, i):
                tok.attrSet("class", "tip")
            elif tok.type == "table_open":
                tok.attrSet("class", "table")
            elif tok.type == "inline" and tok.children:
                line = tok.map[0] + 1 if tok.map else None
                for child in tok.children:
                    if child.type == "image":
                        self._image(child, path, line)
                    elif child.type == "link_open":
                        href = str(child.attrGet("href") or "")
                        if href.startswith(("http://", "https://")):
                            child.attrSet("target", "_blank")
                            child.attrSet("rel", "noopener")
        return str(self.md.renderer.render(tokens, self.md.options, {}))

    @staticmethod
    def _is_tip(tokens: list[Token], i: int) -> bool:
        return (
            i + 2 < len(tokens)
            and tokens[i + 1].type == "paragraph_open"
            and tokens[i + 2].content.startswith("**Tip:**")
        )

    def _image(self, tok: Token, path: Path, line: int | None) -> None:
        alt = "".join(c.content for c in tok.children or []).strip() or tok.content.strip()
        src = str(tok.attrGet("src") or "")
        if not alt:
            raise BuildError(
                f"image '{src}' has no alt text (write ![what it shows]({src}))", path, line
            )
        if re.match(r"^[a-z]+:", src):
            raise BuildError(f"image '{src}' must be a file in the course, not a link", path, line)
        target = (path.parent / src).resolve()
        try:
            rel = target.relative_to(self.course.root)
        except ValueError:
            raise BuildError(f"image '{src}' lies outside the course folder", path, line) from None
        if not target.is_file():
            raise BuildError(f"image '{src}' not found (looked for {target})", path, line)
        name = rel.as_posix()
        self.assets[name] = target
        tok.attrSet("src", name)


def study_minutes(course: Course) -> float:
    """The course's study time: the modules' declared minutes plus the final check."""
    questions = len(course.final_check.questions) if course.final_check else 0
    return course.minutes + questions * FINAL_CHECK_MINUTES_PER_QUESTION


def count_words(path: Path | None) -> int:
    if path is None:
        return 0
    return len(WORD_RE.findall(path.read_text(encoding="utf-8")))


@dataclass
class ModuleEstimate:
    module: Module
    words: int = 0
    media_minutes: float = 0
    exercise_minutes: float = 0

    @property
    def estimate(self) -> float:
        return self.words / WORDS_PER_MINUTE + self.media_minutes + self.exercise_minutes


def estimate_study_time(course: Course) -> list[ModuleEstimate]:
    """Reading at 180 words a minute + media length + 2 min per choice/sorting, 4 per reflection."""
    found = []
    for module in course.modules:
        est = ModuleEstimate(module, words=sum(len(o.split()) for o in module.objectives))
        for page in module.pages:
            est.words += count_words(page.file)
            if page.slot:
                est.media_minutes += page.minutes
            if page.exercise is not None:
                est.exercise_minutes += EXERCISE_MINUTES[page.exercise.type]
        found.append(est)
    return found


# --------------------------------------------------------------------------- view model
@dataclass
class Media:
    slot: str
    captions: str  # name in the zip
    transcript_html: str
    sources: list[tuple[str, str]] = field(default_factory=list)  # (name in zip, mime type)
    poster: str | None = None


def _media(course: Course, page: Page, md: MarkdownRenderer, assets: dict[str, Path]) -> Media:
    assert page.slot is not None
    media = course.media_dir
    vtt = media / f"{page.slot}.vtt"
    if not vtt.read_text(encoding="utf-8").lstrip("\ufeff").startswith("WEBVTT"):
        raise BuildError("captions must be WebVTT (the file starts with 'WEBVTT')", vtt, 1)
    assets[f"media/{vtt.name}"] = vtt
    found = Media(
        slot=page.slot,
        captions=f"media/{vtt.name}",
        transcript_html=md.render_file(media / f"{page.slot}.transcript.md"),
    )
    for ext, mime in ((".webm", "video/webm"), (".mp4", "video/mp4")):
        src = media / f"{page.slot}{ext}"
        if src.is_file():
            assets[f"media/{src.name}"] = src
            found.sources.append((f"media/{src.name}", mime))
    poster = media / f"{page.slot}.poster.png"
    if poster.is_file():
        assets[f"media/{poster.name}"] = poster
        found.poster = f"media/{poster.name}"
    return found


def display_order(ex: Exercise) -> list[int]:
    """The order a sorting exercise shows its items in: shuffled, but the same in every build.

    Authors list items by category, which would give the answer away. Items are sorted by a hash of the
    exercise key and item id (a different salt while the result still runs category by category), so the
    build stays byte-reproducible. The items keep their source index everywhere else (ids, state).
    """
    order = list(range(len(ex.items)))
    for salt in range(100):

        def rank(j: int, salt: int = salt) -> str:
            return hashlib.sha256(f"{ex.key}/{ex.items[j].id}/{salt}".encode()).hexdigest()

        order = sorted(range(len(ex.items)), key=rank)
        cats = [ex.items[j].category for j in order]
        runs = 1 + sum(a != b for a, b in itertools.pairwise(cats))
        if runs > len(set(cats)):  # not one block per category
            break
    return order


def _exercise_config(ex: Exercise, final: bool) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "key": ex.key,
        "type": ex.type,
        "final": final,
        "prompt": ex.prompt[:250],
    }
    if ex.type in ("choice", "multiple"):
        cfg["options"] = [{"id": o.id, "correct": o.correct} for o in ex.options]
    elif ex.type == "sorting":
        cat_ids = [c.id for c in ex.categories]
        cfg["categories"] = cat_ids
        cfg["items"] = [{"id": i.id, "category": cat_ids.index(i.category)} for i in ex.items]
    else:
        cfg["maxLength"] = ex.max_length
    return cfg


def runtime_config(course: Course, standard: str) -> dict[str, Any]:
    """What the runtime needs to know: structure, answers, the SCORM flavour.

    The relay is not here: it is ``steun-relay.js`` (``xapi/course_relay.py``), the one file the
    tool replaces when it hands a platform its keyed copy of the package."""
    exercises = course.exercises()
    index = {ex.key: i for i, ex in enumerate(exercises)}
    pages: list[dict[str, Any]] = [{"key": "start", "module": -1, "kind": "welcome"}]
    modules = []
    for mi, module in enumerate(course.modules):
        first = len(pages)
        for page in module.pages:
            pages.append(
                {
                    "key": f"{module.id}/{page.id}",
                    "module": mi,
                    "kind": page.type,
                    "exercise": index[page.exercise.key] if page.exercise else None,
                }
            )
        modules.append({"id": module.id, "pages": list(range(first, len(pages)))})
    final = None
    if course.final_check is not None:
        final = {
            "page": len(pages),
            "passMark": course.final_check.pass_mark,
            "questions": [index[q.key] for q in course.final_check.questions],
        }
        pages.append({"key": "final", "module": -1, "kind": "final"})
    structure = {
        "pages": [p["key"] for p in pages],
        "exercises": [_exercise_config(ex, False) for ex in exercises],
    }
    digest = hashlib.sha256(json.dumps(structure, sort_keys=True).encode()).hexdigest()[:8]
    return {
        "standard": standard,
        "courseId": course.id,
        "version": course.version,
        "structure": digest,
        "pages": pages,
        "modules": modules,
        "exercises": [_exercise_config(ex, ex.key.startswith("final.")) for ex in exercises],
        "finalCheck": final,
    }


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: no '<' can close the element."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")


def render_course(course: Course, standard: str) -> tuple[str, dict[str, Path]]:
    """index.html and the files it needs (name in the zip -> source file)."""
    md = MarkdownRenderer(course)
    assets: dict[str, Path] = {}
    modules = []
    for module in course.modules:
        pages = []
        for page in module.pages:
            pages.append(
                {
                    "page": page,
                    "key": f"{module.id}/{page.id}",
                    "body": md.render_file(page.file) if page.file else "",
                    "media": _media(course, page, md, assets) if page.slot else None,
                    "exercise": page.exercise,
                }
            )
        modules.append({"module": module, "pages": pages})
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["display_order"] = display_order
    html = env.get_template("index.html").render(
        course=course,
        modules=modules,
        final=course.final_check,
        minutes=round(study_minutes(course)),
        ex_index={ex.key: i for i, ex in enumerate(course.exercises())},
        config=_script_json(runtime_config(course, standard)),
    )
    assets.update(md.assets)
    return html, assets
