"""Answering a questionnaire: its pages, save per answer, review, submit, the gradebook report.

Every answer is saved the moment it is given (``POST .../answer``, JSON, by fetch); the page
form posts the same answers as a fallback when scripts or the connection fail. The routes live on
the ``teacher`` blueprint; the child's pages (``child.py``) reuse the helpers here.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import (
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from steun_lti.lti.launch import LaunchContext
from steun_lti.plumbing.db import db_session
from steun_lti.questionnaires.branching import missing_required, visible_items
from steun_lti.questionnaires.definition import Instrument
from steun_lti.study import service
from steun_lti.study.errors import InvalidAnswer, NotFound, StudyError
from steun_lti.study.models import Attempt
from steun_lti.web.teacher import bp, teacher
from steun_lti.web.teacher_support import (
    now,
    runtime,
)

log = logging.getLogger("steun.web.teacher")


def reason_message(reason: str) -> str:
    messages = {
        "required": gettext("Please answer this question."),
        "not_an_option": gettext("Please choose one of the options."),
        "not_a_number": gettext("Please enter a number."),
        "not_whole": gettext("Please enter a whole number."),
        "too_small": gettext("This number is too small."),
        "too_large": gettext("This number is too large."),
        "too_long": gettext("This answer is too long."),
        "not_text": gettext("Please enter text."),
        "unknown_item": gettext("This question does not exist."),
    }
    return messages.get(reason, gettext("This answer cannot be saved."))


# --- answering ---------------------------------------------------------------------------------


def load_attempt(attempt_id: int, respondent: str = "teacher") -> tuple[Attempt, Instrument]:
    session = db_session()
    rt = runtime()
    service.require_consent(session, rt.study, teacher())
    attempt = service.get_attempt(session, teacher(), attempt_id)
    if attempt.respondent != respondent or attempt.instrument_id not in rt.registry:
        raise NotFound()
    return attempt, rt.registry.get(attempt.instrument_id)


def read_only(attempt: Attempt) -> bool:
    wave = runtime().study.wave(attempt.wave_id)
    return attempt.submitted_at is not None or wave is None or not wave.accepts_answers(now())


@bp.get("/attempt/<int:attempt_id>")
def resume(attempt_id: int) -> ResponseReturnValue:
    """Continue where the teacher left off: the page of the first unanswered item."""
    attempt, instrument = load_attempt(attempt_id)
    if read_only(attempt):
        return redirect(url_for("teacher.review", attempt_id=attempt.id))
    prog = service.progress(instrument, service.answers_of(db_session(), attempt))
    if prog.resume_item is None:
        return redirect(url_for("teacher.review", attempt_id=attempt.id))
    return redirect(
        url_for("teacher.page", attempt_id=attempt.id, number=prog.resume_page + 1)
        + "#item-"
        + prog.resume_item
    )


def page_context(
    attempt: Attempt, instrument: Instrument, index: int, answers: dict[str, Any]
) -> dict[str, Any]:
    shown = {item.id for item in visible_items(instrument, answers)}
    prog = service.progress(instrument, answers)
    return {
        "attempt": attempt,
        "instrument": instrument,
        "page": instrument.pages[index],
        "number": index + 1,
        "count": len(instrument.pages),
        "answers": answers,
        "shown": shown,
        "progress": prog,
        "readonly": read_only(attempt),
        "wave": runtime().study.wave(attempt.wave_id),
        "child": attempt.child,
    }


@bp.route("/attempt/<int:attempt_id>/page/<int:number>", methods=["GET", "POST"])
def page(attempt_id: int, number: int) -> ResponseReturnValue:
    attempt, instrument = load_attempt(attempt_id)
    if not 1 <= number <= len(instrument.pages):
        abort(404)
    index = number - 1
    session = db_session()
    rt = runtime()
    errors: dict[str, str] = {}
    if request.method == "POST":
        if read_only(attempt):
            return redirect(url_for("teacher.review", attempt_id=attempt.id))
        submitted = {
            item.id: (
                request.form.getlist(item.id)
                if item.type == "multiple"
                else request.form.get(item.id)
            )
            for item in instrument.pages[index].items
            if item.id in request.form
        }
        problems = service.save_page(
            session, rt.study, instrument, attempt, index, submitted, now()
        )
        session.commit()
        action = request.form.get("action", "next")
        answers = service.answers_of(session, attempt)
        if action == "later":
            flash(gettext("Your answers have been saved. You can continue later, from any device."))
            return redirect(url_for("teacher.wave", wave_id=attempt.wave_id))
        if action == "previous" and not problems:
            return redirect(
                url_for("teacher.page", attempt_id=attempt.id, number=max(1, number - 1))
            )
        page_items = {item.id for item in instrument.pages[index].items}
        missing = [i for i in missing_required(instrument, answers) if i.id in page_items]
        errors = {k: reason_message(v) for k, v in problems.items()}
        for item in missing:
            errors.setdefault(item.id, reason_message("required"))
        if not errors:
            service.complete_page(session, rt.study, instrument, attempt, index)
            session.commit()
            if number < len(instrument.pages):
                return redirect(url_for("teacher.page", attempt_id=attempt.id, number=number + 1))
            return redirect(url_for("teacher.review", attempt_id=attempt.id))
    answers = service.answers_of(session, attempt)
    context = page_context(attempt, instrument, index, answers)
    return render_template("study/page.html", errors=errors, **context), (422 if errors else 200)


@bp.post("/attempt/<int:attempt_id>/answer")
def answer(attempt_id: int) -> ResponseReturnValue:
    """Save one answer now (JSON: {"item": id, "value": ...}); the heart of save-and-resume."""
    return save_one(attempt_id, "teacher")


def save_one(attempt_id: int, respondent: str) -> ResponseReturnValue:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("item"), str):
        return jsonify(error="bad_request", message=gettext("This answer cannot be saved.")), 400
    session = db_session()
    rt = runtime()
    try:
        service.require_consent(session, rt.study, teacher())  # without consent nothing is kept
        attempt = service.get_attempt(session, teacher(), attempt_id)
        if attempt.respondent != respondent:
            raise NotFound()
        instrument = rt.registry.get(attempt.instrument_id)
        value = service.save_answer(
            session, rt.study, instrument, attempt, payload["item"], payload.get("value"), now()
        )
        session.commit()
    except InvalidAnswer as exc:
        session.rollback()
        return jsonify(error=exc.reason, item=exc.item_id, message=reason_message(exc.reason)), 422
    except StudyError as exc:
        session.rollback()
        return jsonify(error=type(exc).__name__, message=str(exc.message)), exc.http_status
    return jsonify(saved=True, item=payload["item"], value=value)


@bp.get("/attempt/<int:attempt_id>/review")
def review(attempt_id: int) -> ResponseReturnValue:
    attempt, instrument = load_attempt(attempt_id)
    answers = service.answers_of(db_session(), attempt)
    return render_template(
        "study/review.html",
        attempt=attempt,
        instrument=instrument,
        answers=answers,
        shown={i.id for i in visible_items(instrument, answers)},
        missing=missing_required(instrument, answers),
        readonly=read_only(attempt),
        wave=runtime().study.wave(attempt.wave_id),
        child=attempt.child,
    )


@bp.post("/attempt/<int:attempt_id>/submit")
def submit(attempt_id: int) -> ResponseReturnValue:
    attempt, instrument = load_attempt(attempt_id)
    session = db_session()
    rt = runtime()
    try:
        wave_complete = service.submit(session, rt.study, rt.registry, instrument, attempt, now())
    except InvalidAnswer:
        session.rollback()
        flash(gettext("Some questions still need an answer."), "error")
        return redirect(url_for("teacher.review", attempt_id=attempt.id))
    session.commit()
    if wave_complete:
        report_to_gradebook(g.launch, attempt.wave_id)
    flash(gettext("Thank you. The questionnaire has been submitted."))
    return redirect(url_for("teacher.wave", wave_id=attempt.wave_id))


def report_to_gradebook(launch: LaunchContext, wave_id: str) -> None:
    """Tell the LMS (AGS) that the launched item is complete, where it offers a gradebook.

    A wave's item (``target`` ``wave:<id>``) is complete with that wave. A link without a target
    (placed by hand, opening the dashboard) stands for the whole study: it gets the share of
    waves done, so the column fills up over the year instead of saying "done" after wave 1.
    """
    if launch.target not in (f"wave:{wave_id}", None):
        return
    if not (launch.ags_lineitem or launch.ags_lineitems):
        return
    try:
        ags = importlib.import_module("steun_lti.lti.ags")
    except ImportError:
        return
    try:
        if launch.target is None:
            rt = runtime()
            session = db_session()
            waves = rt.study.waves
            done = sum(1 for w in waves if service.wave_done(session, rt.study, teacher(), w))
            ags.report_completion(launch, given=done, maximum=len(waves))
        else:
            ags.report_completion(launch)
    except Exception:  # the gradebook is a courtesy: the answers are safe either way
        log.exception("could not report completion of wave %s to the LMS", wave_id)
