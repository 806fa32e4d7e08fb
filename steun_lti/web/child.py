"""Child mode: the teacher hands their own device to a child for the short child form.

Only behind the teacher's launch, and only after the teacher confirmed the parents' consent for
that child's code. One question per screen, large touch targets, a smiley scale and a button
that reads the question aloud (the browser's own speech synthesis, nl-NL).
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from steun_lti.lti.launch import LaunchContext, require_launch
from steun_lti.plumbing.db import db_session
from steun_lti.questionnaires.branching import missing_required, visible_items
from steun_lti.study import service
from steun_lti.study.errors import InvalidAnswer
from steun_lti.web import answering, teacher
from steun_lti.web.teacher_support import (
    check_csrf,
    child_locked_page,
    child_mode,
    csrf_token,
    keep_launch_param,
    now,
    runtime,
    set_child_mode,
    template_helpers,
)

bp = Blueprint("child", __name__, url_prefix="/study/child")


bp.url_defaults(keep_launch_param)


@bp.before_request
def _load_launch() -> ResponseReturnValue | None:
    g.launch = require_launch()
    locked = child_mode()
    if locked is not None and locked != f"attempt:{(request.view_args or {}).get('attempt_id')}":
        return child_locked_page()  # in child mode only the child's own questionnaire opens
    if request.method == "POST":
        check_csrf(g.launch)
    return None


@bp.context_processor
def _helpers() -> dict[str, object]:
    launch: LaunchContext = g.launch
    return {**template_helpers(), "csrf_token": csrf_token(launch)}


@bp.get("/<code>/<wave_id>/<instrument_id>")
def start(code: str, wave_id: str, instrument_id: str) -> ResponseReturnValue:
    if (gate := teacher.needs_consent()) is not None:
        return gate
    rt = runtime()
    if not rt.study.child_form:
        abort(404)
    session = db_session()
    child = service.get_child(session, rt.study, teacher.teacher(), code)
    if child.parental_consent_at is None:
        return redirect(
            url_for("teacher.parental_consent", code=child.code, next=request.full_path.rstrip("?"))
        )
    attempt = service.open_attempt(
        session,
        rt.study,
        rt.registry,
        child,
        teacher.wave_or_404(wave_id),
        instrument_id,
        "child",
        now(),
    )
    session.commit()
    # From here the device is the child's: teacher pages refuse until the teacher launches again.
    set_child_mode(f"attempt:{attempt.id}")
    if attempt.submitted_at is not None:
        return redirect(url_for("child.done", attempt_id=attempt.id))
    answers = service.answers_of(session, attempt)
    instrument = rt.registry.get(instrument_id)
    shown = visible_items(instrument, answers)
    first = next((i for i, item in enumerate(shown) if answers.get(item.id) is None), 0)
    return redirect(url_for("child.question", attempt_id=attempt.id, number=first + 1))


@bp.route("/attempt/<int:attempt_id>/q/<int:number>", methods=["GET", "POST"])
def question(attempt_id: int, number: int) -> ResponseReturnValue:
    attempt, instrument = answering.load_attempt(attempt_id, respondent="child")
    if answering.read_only(attempt):
        return redirect(url_for("child.done", attempt_id=attempt.id))
    session = db_session()
    answers = service.answers_of(session, attempt)
    shown = visible_items(instrument, answers)
    if not 1 <= number <= len(shown):
        abort(404)
    item = shown[number - 1]
    error = None
    if request.method == "POST":
        try:
            service.save_answer(
                session,
                runtime().study,
                instrument,
                attempt,
                item.id,
                request.form.get(item.id),
                now(),
            )
            session.commit()
        except InvalidAnswer as exc:
            session.rollback()
            error = answering.reason_message(exc.reason)
        else:
            answers = service.answers_of(session, attempt)
            if answers.get(item.id) is None:
                error = answering.reason_message("required")
            elif number < len(visible_items(instrument, answers)):
                return redirect(url_for("child.question", attempt_id=attempt.id, number=number + 1))
            else:
                return redirect(url_for("child.finish", attempt_id=attempt.id))
    return render_template(
        "study/child_question.html",
        attempt=attempt,
        instrument=instrument,
        item=item,
        number=number,
        count=len(shown),
        value=answers.get(item.id),
        error=error,
    ), (422 if error else 200)


@bp.post("/attempt/<int:attempt_id>/answer")
def answer(attempt_id: int) -> ResponseReturnValue:
    return answering.save_one(attempt_id, "child")


@bp.route("/attempt/<int:attempt_id>/finish", methods=["GET", "POST"])
def finish(attempt_id: int) -> ResponseReturnValue:
    attempt, instrument = answering.load_attempt(attempt_id, respondent="child")
    if answering.read_only(attempt):
        return redirect(url_for("child.done", attempt_id=attempt.id))
    session = db_session()
    answers = service.answers_of(session, attempt)
    missing = missing_required(instrument, answers)
    if request.method == "POST" and not missing:
        rt = runtime()
        service.submit(session, rt.study, rt.registry, instrument, attempt, now())
        session.commit()
        return redirect(url_for("child.done", attempt_id=attempt.id))
    if missing:
        shown = visible_items(instrument, answers)
        number = next(i for i, it in enumerate(shown) if it.id == missing[0].id) + 1
        return redirect(url_for("child.question", attempt_id=attempt.id, number=number))
    return render_template("study/child_finish.html", attempt=attempt, instrument=instrument)


@bp.get("/attempt/<int:attempt_id>/done")
def done(attempt_id: int) -> ResponseReturnValue:
    attempt, instrument = answering.load_attempt(attempt_id, respondent="child")
    return render_template(
        "study/child_done.html",
        attempt=attempt,
        instrument=instrument,
        message=gettext("Thank you!"),
    )
