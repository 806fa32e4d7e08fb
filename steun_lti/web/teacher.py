"""The teacher's flow: consent, "My pupils", the wave dashboard, answering, review and submit.

Every answer is saved the moment it is given (``POST .../answer``, JSON, by fetch); the page
form posts the same answers as a fallback when scripts or the connection fail. The views are
thin: the work is in ``steun_lti.study.service``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
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
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from steun_lti.db import db_session
from steun_lti.launch import LaunchContext, require_launch
from steun_lti.questionnaires.branching import missing_required, visible_items
from steun_lti.questionnaires.definition import Instrument, tr
from steun_lti.study import service
from steun_lti.study.definition import Wave
from steun_lti.study.errors import InvalidAnswer, NotFound, StudyError
from steun_lti.study.models import Attempt, Child
from steun_lti.web.teacher_support import (
    RUNTIME_KEY,
    check_csrf,
    csrf_token,
    init_i18n,
    keep_launch_param,
    label_namespace,
    lang,
    launch_destination,
    load_runtime,
    now,
    runtime,
    template_helpers,
)

log = logging.getLogger("steun.web.teacher")
bp = Blueprint("teacher", __name__, url_prefix="/study")


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


def register(app: Flask) -> None:
    """Load the study (refusing a bad definition), set up translations, mount the blueprints."""
    from steun_lti.web import child

    app.extensions[RUNTIME_KEY] = load_runtime(app.config["STEUN_SETTINGS"])
    init_i18n(app)
    app.register_blueprint(bp)
    app.register_blueprint(child.bp)
    try:
        from steun_lti.web.lti import add_destination_resolver
    except ImportError:  # pragma: no cover - the LTI layer is part of the tool
        return
    add_destination_resolver(app, launch_destination)


bp.url_defaults(keep_launch_param)


@bp.before_request
def _load_launch() -> None:
    g.launch = require_launch(teacher=True)
    if request.method == "POST":
        check_csrf(g.launch)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    launch: LaunchContext | None = g.get("launch")
    helpers = template_helpers()
    if launch is not None:
        helpers["csrf_token"] = csrf_token(launch)
        helpers["label_ns"] = label_namespace(launch)
    return helpers


def teacher() -> str:
    launch: LaunchContext = g.launch
    return launch.pseudonym


def has_consent() -> bool:
    rt = runtime()
    return service.current_consent(db_session(), rt.study, teacher()) is not None


def needs_consent() -> Response | None:
    if not has_consent():
        return redirect(url_for("teacher.consent"))
    return None


def wave_or_404(wave_id: str) -> Wave:
    wave = runtime().study.wave(wave_id)
    if wave is None:
        abort(404)
    return wave


# --- entry and consent -------------------------------------------------------------------------


@bp.get("/")
def index() -> ResponseReturnValue:
    if (gate := needs_consent()) is not None:
        return gate
    target = g.launch.target or ""
    if target.startswith("wave:"):
        return redirect(url_for("teacher.wave", wave_id=wave_or_404(target[5:]).id))
    rt = runtime()
    kids = [c for c in service.children(db_session(), rt.study, teacher()) if c.active]
    if not kids:
        return redirect(url_for("teacher.children"))
    return redirect(url_for("teacher.wave", wave_id=rt.study.current_wave(now()).id))


@bp.route("/consent", methods=["GET", "POST"])
def consent() -> ResponseReturnValue:
    rt = runtime()
    session = db_session()
    given = service.current_consent(session, rt.study, teacher())
    error = None
    if request.method == "POST":
        if request.form.get("agree") == "yes":
            service.give_consent(session, rt.study, teacher(), now())
            session.commit()
            return redirect(url_for("teacher.index"))
        error = gettext("Tick the box to take part, or close this page if you do not want to.")
    from markdown_it import MarkdownIt

    letter = MarkdownIt("commonmark", {"html": False}).render(
        rt.study.letter.get(lang()) or rt.study.letter["nl"]
    )
    return render_template("study/consent.html", letter=letter, given=given, error=error), (
        400 if error else 200
    )


@bp.post("/consent/withdraw")
def withdraw_consent() -> ResponseReturnValue:
    """Stop taking part; optionally remove every answer (tool database and LRS) right away."""
    rt = runtime()
    session = db_session()
    if request.form.get("confirm") != "yes":
        flash(gettext("Tick the box to confirm that you want to stop."), "error")
        return redirect(url_for("teacher.consent"))
    service.withdraw_consent(session, rt.study, teacher(), now())
    session.commit()
    if request.form.get("remove") == "yes":
        remove_everything(g.launch)
        flash(gettext("You have stopped. Your answers have been removed."))
    else:
        flash(gettext("You have stopped. Nothing more will be recorded."))
    return redirect(url_for("teacher.consent"))


def remove_everything(launch: LaunchContext) -> None:
    """The same withdrawal as ``steun withdraw PSEUDONYM``: the tool's rows, then the LRS."""
    from flask import current_app

    from steun_lti.db import get_database
    from steun_lti.withdrawal import Scope, withdraw_everywhere

    settings = current_app.config["STEUN_SETTINGS"]
    result = withdraw_everywhere(get_database(), Scope(pseudonym=launch.pseudonym), settings)
    if result.lrs_error:  # the researchers' `steun withdraw` finishes it; logged without content
        log.warning("withdrawal of a teacher: LRS part pending (%s)", result.lrs_error)


def remove_child_everywhere(pseudonym: str, code: str) -> None:
    """The same withdrawal as ``steun withdraw PSEUDONYM --child CODE``: the child's statements
    leave the outbox and the LRS (deleted for good where the LRS allows it)."""
    from flask import current_app

    from steun_lti.db import get_database
    from steun_lti.withdrawal import Scope, withdraw_everywhere

    settings = current_app.config["STEUN_SETTINGS"]
    result = withdraw_everywhere(get_database(), Scope(pseudonym, code), settings)
    if result.lrs_error:  # the researchers' `steun withdraw` finishes it; logged without content
        log.warning("withdrawal of a child: LRS part pending (%s)", result.lrs_error)


# --- my pupils ---------------------------------------------------------------------------------


@bp.route("/children", methods=["GET", "POST"])
def children() -> ResponseReturnValue:
    if (gate := needs_consent()) is not None:
        return gate
    rt = runtime()
    session = db_session()
    error = None
    if request.method == "POST":
        try:
            for tries_left in (1, 0):  # two tabs adding at once: the second takes the next code
                try:
                    child = service.add_child(
                        session,
                        rt.study,
                        teacher(),
                        request.form.getlist("reasons"),
                        request.form.get("comment"),
                        now(),
                    )
                    session.commit()
                    break
                except IntegrityError:
                    session.rollback()
                    if not tries_left:
                        raise
        except StudyError as exc:
            session.rollback()
            error = str(exc.message)
        else:
            flash(gettext("Pupil %(code)s has been added.", code=code_label(child)))
            return redirect(url_for("teacher.children", added=child.code) + "#child-" + child.code)
    kids = service.children(session, rt.study, teacher())
    return render_template(
        "study/children.html",
        kids=kids,
        error=error,
        form=request.form if error else {},
        added=request.args.get("added"),
    ), (400 if error else 200)


@bp.route("/children/<code>", methods=["GET", "POST"])
def child_detail(code: str) -> ResponseReturnValue:
    if (gate := needs_consent()) is not None:
        return gate
    rt = runtime()
    session = db_session()
    child = service.get_child(session, rt.study, teacher(), code)
    error = None
    if request.method == "POST" and child.active:
        try:
            service.update_reasons(
                session,
                rt.study,
                child,
                request.form.getlist("reasons"),
                request.form.get("comment"),
            )
            session.commit()
        except StudyError as exc:
            session.rollback()
            error = str(exc.message)
        else:
            flash(gettext("The reasons have been saved."))
            return redirect(url_for("teacher.children"))
    return render_template("study/child.html", child=child, error=error), (400 if error else 200)


@bp.post("/children/<code>/withdraw")
def withdraw(code: str) -> ResponseReturnValue:
    if (gate := needs_consent()) is not None:
        return gate
    rt = runtime()
    session = db_session()
    child = service.get_child(session, rt.study, teacher(), code)
    if request.form.get("confirm") != "yes":
        flash(gettext("Tick the box to confirm that you want to withdraw this pupil."), "error")
        return redirect(url_for("teacher.child_detail", code=child.code))
    remove = request.form.get("remove") == "yes"
    service.withdraw_child(session, rt.study, child, remove, now())
    session.commit()
    if remove:
        remove_child_everywhere(teacher(), child.code)
    flash(gettext("Pupil %(code)s has been withdrawn from the study.", code=code_label(child)))
    return redirect(url_for("teacher.children"))


@bp.route("/children/<code>/parental-consent", methods=["GET", "POST"])
def parental_consent(code: str) -> ResponseReturnValue:
    if (gate := needs_consent()) is not None:
        return gate
    rt = runtime()
    if not rt.study.child_form:
        abort(404)
    session = db_session()
    child = service.get_child(session, rt.study, teacher(), code)
    if not child.active:
        abort(404)
    error = None
    target = request.values.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = ""  # only our own pages: never an open redirect
    if request.method == "POST":
        if request.form.get("confirm") == "yes":
            service.confirm_parental_consent(child, now())
            session.commit()
            return redirect(
                target or url_for("teacher.wave", wave_id=runtime().study.current_wave(now()).id)
            )
        error = gettext("Tick the box to confirm the parents' consent.")
    return render_template("study/parental_consent.html", child=child, error=error, next=target), (
        400 if error else 200
    )


def code_label(child: Child) -> str:
    return gettext("Pupil %(letter)s", letter=child.code)


# --- the wave dashboard ------------------------------------------------------------------------


@bp.get("/wave/<wave_id>")
def wave(wave_id: str) -> ResponseReturnValue:
    if (gate := needs_consent()) is not None:
        return gate
    rt = runtime()
    session = db_session()
    this_wave = wave_or_404(wave_id)
    moment = now()
    kids = [c for c in service.children(session, rt.study, teacher()) if c.active]
    overview = service.wave_overview(session, rt.study, rt.registry, teacher(), this_wave)
    todo = sum(
        1
        for cells in overview.values()
        for cell in cells
        if cell.status != service.DONE and cell.respondent == "teacher"
    )
    upcoming = [w for w in rt.study.waves if w.state(moment) == "upcoming"]
    return_link = None
    if kids and not todo and this_wave.state(moment) in ("open", "late"):
        # Done: the way back to the course, with a line the LMS may show (LTI 1.3 lti_msg).
        launch: LaunchContext = g.launch
        title = tr(this_wave.title, lang())
        return_link = launch.return_link(
            lti_msg=gettext("%(wave)s: all questionnaires are done. Thank you!", wave=title),
            lti_log=f"wave {this_wave.id} complete",
        )
    return render_template(
        "study/wave.html",
        return_link=return_link,
        wave=this_wave,
        kids=kids,
        overview=overview,
        todo=todo,
        moment=moment,
        state=this_wave.state(moment),
        states={w.id: w.state(moment) for w in rt.study.waves},
        next_wave=upcoming[0] if upcoming else None,
    )


@bp.get("/wave/<wave_id>/<code>/<instrument_id>")
def start(wave_id: str, code: str, instrument_id: str) -> ResponseReturnValue:
    if (gate := needs_consent()) is not None:
        return gate
    rt = runtime()
    session = db_session()
    child = service.get_child(session, rt.study, teacher(), code)
    attempt = service.open_attempt(
        session, rt.study, rt.registry, child, wave_or_404(wave_id), instrument_id, "teacher", now()
    )
    session.commit()
    return redirect(url_for("teacher.resume", attempt_id=attempt.id))


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
