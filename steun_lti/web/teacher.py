"""The teacher's flow: consent, "My pupils", the wave dashboard (answering: ``answering.py``).

The views are thin: the work is in ``steun_lti.study.service``. The blueprint ``teacher`` is
defined here; ``answering.py`` adds the questionnaire pages to it.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from steun_lti.lti.launch import LaunchContext, require_launch
from steun_lti.plumbing.db import db_session
from steun_lti.questionnaires.definition import tr
from steun_lti.study import service
from steun_lti.study.definition import Wave
from steun_lti.study.errors import StudyError
from steun_lti.study.models import Child
from steun_lti.web.safe_redirect import internal_path
from steun_lti.web.teacher_support import (
    RUNTIME_KEY,
    check_csrf,
    child_locked_page,
    child_mode,
    consented_at_launch,
    csrf_token,
    init_i18n,
    keep_launch_param,
    label_namespace,
    lang,
    launch_destination,
    load_runtime,
    now,
    render_shared_page,
    runtime,
    template_helpers,
)

log = logging.getLogger("steun.web.teacher")
bp = Blueprint("teacher", __name__, url_prefix="/study")


def register(app: Flask) -> None:
    """Load the study (refusing a bad definition), set up translations, mount the blueprint."""
    from steun_lti.web.lti import add_destination_resolver, set_participation_check

    app.extensions[RUNTIME_KEY] = load_runtime(app.config["STEUN_SETTINGS"])
    init_i18n(app)
    app.register_blueprint(bp)
    add_destination_resolver(app, launch_destination)
    set_participation_check(app, takes_part)


def takes_part(session: Session, context: LaunchContext) -> bool:
    """Consented to the study and not withdrawn: only then is a launch a record."""
    return consented_at_launch(session, context.pseudonym)


bp.url_defaults(keep_launch_param)


@bp.before_request
def _load_launch() -> ResponseReturnValue | None:
    g.launch = require_launch()
    if child_mode() is not None:  # the device is with a child: no teacher page until relaunch
        return child_locked_page()
    if request.method == "POST":
        check_csrf(g.launch)
    return None


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
    return service.has_consent(db_session(), rt.study, teacher())


def needs_consent() -> Response | None:
    if not has_consent():
        return redirect(url_for("teacher.consent"))
    return None


def wave_or_404(wave_id: str) -> Wave:
    wave = runtime().study.wave(wave_id)
    if wave is None:
        abort(404)
    return wave


def note_course() -> None:
    """Count this participant in the course they launched from (for the staff's overview)."""
    launch: LaunchContext = g.launch
    if service.note_participant(
        db_session(), runtime().study, launch.context_pseudonym, teacher(), now()
    ):
        db_session().commit()  # only when there was something new: a repeat visit writes nothing


# --- entry and consent -------------------------------------------------------------------------


@bp.get("/course")
def overview() -> ResponseReturnValue:
    """The course's staff: per wave, how many participants of this course started and finished."""
    launch: LaunchContext = g.launch
    if not launch.is_staff:
        abort(403)
    rt = runtime()
    counts = service.course_overview(db_session(), rt.study, launch.context_pseudonym)
    return render_template(
        "study/course.html",
        counts=counts,
        has_course=bool(launch.context_pseudonym),
        taking_part=has_consent(),
    )


@bp.get("/")
def index() -> ResponseReturnValue:
    if (gate := needs_consent()) is not None:
        return gate
    note_course()
    target = g.launch.target or ""
    if target.startswith("wave:"):
        return redirect(url_for("teacher.wave", wave_id=wave_or_404(target[5:]).id))
    rt = runtime()
    if not service.has_active_child(db_session(), rt.study, teacher()):
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
            note_course()
            session.commit()
            return redirect(url_for("teacher.index"))
        error = gettext("Tick the box to take part, or close this page if you do not want to.")
    letter = letter_html(rt.study.letter.get(lang()) or rt.study.letter["nl"])
    if given is None and error is None:  # the page every new teacher lands on: no one's data
        wave = rt.study.current_wave(now())
        key = (id(rt.study), lang(), g.launch.is_staff, wave.id)
        return render_shared_page("study/consent.html", key, letter=letter, given=None)
    return render_template("study/consent.html", letter=letter, given=given, error=error), (
        400 if error else 200
    )


@functools.lru_cache(maxsize=16)
def letter_html(text: str) -> str:
    """The information letter as HTML (raw HTML in it is escaped), rendered once per text and
    process: a parser and its rules cost ~5 ms to build, on every new teacher's first page."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).render(text)


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

    from steun_lti.plumbing.db import get_database
    from steun_lti.records.withdrawal import Scope, withdraw_everywhere

    settings = current_app.config["STEUN_SETTINGS"]
    result = withdraw_everywhere(get_database(), Scope(pseudonym=launch.pseudonym), settings)
    if result.lrs_error:  # the researchers' `steun withdraw` finishes it; logged without content
        log.warning("withdrawal of a teacher: LRS part pending (%s)", result.lrs_error)


def remove_child_everywhere(pseudonym: str, code: str) -> None:
    """The same withdrawal as ``steun withdraw PSEUDONYM --child CODE``: the child's statements
    leave the outbox and the LRS (deleted for good where the LRS allows it)."""
    from flask import current_app

    from steun_lti.plumbing.db import get_database
    from steun_lti.records.withdrawal import Scope, withdraw_everywhere

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
    target = internal_path(request.values.get("next")) or ""
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
