"""Exercises and final-check questions: the keys each type takes, the checks of its options,
categories and items (within what SCORM 1.2 can record), into an :class:`Exercise`.
"""

from __future__ import annotations

import re

from scorm_package.model import Category, Exercise, Option, SortItem
from scorm_package.source_yaml import Ctx, LineDict, unique

EXERCISE_TYPES = ("choice", "multiple", "sorting", "reflection")
# SCORM 1.2 responses are single characters (0-9, a-z): options and sorting items map onto them.
MAX_CHOICES = 26
MAX_SORT_ITEMS = 36
MAX_REFLECTION = 4000
# The course itself says "Goed!" or "Niet helemaal." above the feedback of a choice, a sorting exercise and a
# final-check question; feedback that opens with a verdict of its own repeats it ("Goed! Goed gekozen.").
# (A multiple-answer exercise may: there each chosen option's "Ja."/"Nee." says which choices were right.)
VERDICT = re.compile(
    r"^(goed gekozen|helemaal goed|niet helemaal|niet juist|goed|juist|precies|klopt|fout|ja|nee)\s*[.!:,;]",
    re.IGNORECASE,
)


def _options(ctx: Ctx, m: LineDict, what: str, verdict_free: bool) -> list[Option]:
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
        unique(ctx, seen, oid, "option", o.lines["id"])
        correct = o.get("correct", False)
        if not isinstance(correct, bool):
            raise ctx.fail("'correct' must be true or false", o.lines["correct"])
        feedback = ctx.string(o, "feedback", "an option", "")
        if verdict_free:
            _no_verdict(ctx, feedback, o.lines.get("feedback", line))
        options.append(Option(oid, ctx.string(o, "text", "an option"), correct, feedback))
    return options


def _no_verdict(ctx: Ctx, text: str, line: int) -> None:
    if found := VERDICT.match(text):
        raise ctx.fail(
            f"feedback starts with the verdict '{found.group(0)}', which the course already shows"
            " above it: start with the explanation",
            line,
        )


def _feedback(ctx: Ctx, m: LineDict, what: str) -> dict[str, str]:
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


def load_exercise(ctx: Ctx, m: LineDict, key: str, what: str, types: tuple[str, ...]) -> Exercise:
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
        ex.options = _options(ctx, m, what, verdict_free=etype == "choice")
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
        if etype == "choice":
            for text in ex.feedback.values():
                _no_verdict(ctx, text, m.lines["feedback"])
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
            unique(ctx, seen, cid, "category", c.lines["id"])
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
            unique(ctx, seen_items, iid, "item", i.lines["id"])
            cat = ctx.string(i, "category", "an item")
            if cat not in seen:
                raise ctx.fail(f"item '{iid}' names unknown category '{cat}'", i.lines["category"])
            ex.items.append(SortItem(iid, ctx.string(i, "text", "an item"), cat))
        ex.feedback = _feedback(ctx, m, what)
        for text in ex.feedback.values():
            _no_verdict(ctx, text, m.lines["feedback"])
    else:
        ex.max_length = int(ctx.number(m, "max_length", what, 1, MAX_REFLECTION, 1000))
        ex.model_answer = ctx.string(m, "model_answer", what, "")
    return ex
