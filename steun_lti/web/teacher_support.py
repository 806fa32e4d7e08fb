"""What the teacher and child views share: the loaded study, the clock, locale, CSRF, helpers.

The study and its instruments are loaded once, when the app is built; a bad definition stops
start-up with file, item and reason (an :class:`InstrumentError`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from flask import Flask, abort, current_app, g, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale

from steun_lti.lti import sessions
from steun_lti.lti.launch import LaunchContext, current_launch, launch_in_url
from steun_lti.plumbing.db import db_session
from steun_lti.plumbing.settings import Settings
from steun_lti.questionnaires.definition import tr
from steun_lti.questionnaires.registry import InstrumentRegistry, load_registry
from steun_lti.study.definition import Study, bundled_study_path, format_when, load_study

RUNTIME_KEY = "steun.study"
CLOCK_KEY = "STEUN_CLOCK"  # tests may set a callable returning an aware datetime
LANG_SESSION_KEY = "steun_lang"
LANGUAGES = ("nl", "en")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


@dataclass(frozen=True)
class StudyRuntime:
    study: Study
    registry: InstrumentRegistry


def load_runtime(settings: Settings) -> StudyRuntime:
    registry = load_registry(settings.instruments_dir)
    study = load_study(settings.study_file or bundled_study_path(), registry)
    return StudyRuntime(study=study, registry=registry)


def runtime() -> StudyRuntime:
    found: StudyRuntime = current_app.extensions[RUNTIME_KEY]
    return found


def now() -> datetime:
    clock: Callable[[], datetime] | None = current_app.config.get(CLOCK_KEY)
    return clock() if clock is not None else datetime.now(UTC)


def select_locale() -> str:
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session[LANG_SESSION_KEY] = wanted
        return wanted
    stored = session.get(LANG_SESSION_KEY)
    if stored in LANGUAGES:
        return str(stored)
    launch = current_launch()
    if launch is not None and launch.locale[:2] in LANGUAGES:
        return launch.locale[:2]
    return "nl"


_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}


def _selected_locale() -> Locale:
    """:func:`select_locale` as the Locale flask-babel wants, one object per language and
    process (flask-babel parsed the code again on every request)."""
    return _LOCALES[select_locale()]


def lang() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "nl"


def init_i18n(app: Flask) -> None:
    if "babel" in app.extensions:
        return
    Babel(
        app,
        default_locale="nl",
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=_selected_locale,
    )


def csrf_token(launch: LaunchContext) -> str:
    """A token bound to this launch (stateless, so it works without a cookie session too)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    message = f"csrf\0{launch.pseudonym}\0{launch.launch_id or ''}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


def check_csrf(launch: LaunchContext) -> None:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    if not hmac.compare_digest(sent, csrf_token(launch)):
        abort(400)


def label_namespace(launch: LaunchContext) -> str:
    """The localStorage namespace of private labels: per teacher, without revealing the pseudonym."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"labels\0{launch.pseudonym}".encode(), hashlib.sha256).hexdigest()[:16]


def keep_launch_param(_endpoint: str, values: dict[str, Any]) -> None:
    """Where the launch travels in the URL (no third-party cookies), every link keeps it.

    Only the launch this request was proven to hold, never an id merely found in the URL: a
    cookie session ignores such an id, and its links must not pass it on (issue 14)."""
    try:
        from steun_lti.web.lti import LAUNCH_PARAM
    except ImportError:  # pragma: no cover - the LTI layer is part of the tool
        return
    if LAUNCH_PARAM in values:
        return
    launch = current_launch()
    if launch is not None and launch.launch_id and launch_in_url():
        values[LAUNCH_PARAM] = launch.launch_id


def child_mode() -> str | None:
    """The child's pages this launch is locked to (``attempt:<id>``), or None."""
    launch: LaunchContext | None = g.get("launch")
    if launch is None:
        return None
    return sessions.child_mode_of(db_session(), launch.launch_id)


def set_child_mode(scope: str | None) -> None:
    launch: LaunchContext = g.launch
    sessions.set_child_mode(db_session(), launch.launch_id, scope)


def child_locked_page() -> ResponseReturnValue:
    """What a teacher page shows in child mode: nothing of the teacher's, a way back for the
    child, and for the teacher: launch again from the LMS (the LMS knows who the teacher is)."""
    scope = child_mode() or ""
    attempt_id = int(scope.split(":", 1)[1]) if scope.startswith("attempt:") else None
    return render_template(
        "study/child_locked.html", attempt_id=attempt_id, **template_helpers()
    ), 403


def launch_destination(launch: LaunchContext) -> str | None:
    """Where the LTI layer sends a launch: the study, whatever the role.

    Every launch opens the study (the information letter first, then the dashboard); items placed
    by deep linking carry ``dashboard`` or ``wave:<id>``, and ``teacher.index`` opens that wave.
    The course's staff find the course's overview (``teacher.overview``) on every study page.
    A teacher who has not consented goes straight to the letter: ``teacher.index`` would only
    redirect there (one request less per first launch, issue 16).
    """
    from flask import url_for

    if not consented_at_launch(db_session(), launch.pseudonym):
        return url_for("teacher.consent")
    return url_for("teacher.index")


def consented_at_launch(db: Any, pseudonym: str) -> bool:
    """Has this person consented? Asked once per launch request: the launch asks whether it is a
    record (``takes_part``) and then where it goes (:func:`launch_destination`)."""
    from steun_lti.study import service

    known: dict[str, bool] = g.setdefault("steun_consented", {})
    if pseudonym not in known:
        known[pseudonym] = service.has_consent(db, runtime().study, pseudonym)
    return known[pseudonym]


SHARED_PAGES_KEY = "steun.shared_pages"
SHARED_PAGES_MAX = 64
_CSRF_MARK = "steun-csrf-" + secrets.token_hex(12)  # per process; never a real token


def render_shared_page(template: str, key: tuple[Any, ...], **context: Any) -> str:
    """A page that is the same for everyone it is shown to, but for the CSRF token: rendered
    once per ``key`` and process, the token filled in per request.

    ``key`` must name everything else the page depends on (the study, the language, the role,
    the wave ...); the request's endpoint, view arguments and script root are added here. Not
    kept, but rendered every time: a launch carried in the URL (its links carry the launch id)
    and a request with flashed messages waiting. The consent page a new teacher lands on cost
    more than all of the launch before it (issue 16); it holds nothing of the teacher's.
    """
    launch: LaunchContext | None = g.get("launch")
    token = csrf_token(launch) if launch is not None else None
    if token is None or launch_in_url() or session.get("_flashes"):
        return render_template(template, **context)
    full_key = (
        template,
        request.endpoint,
        tuple(sorted((request.view_args or {}).items())),
        request.script_root,
        *key,
    )
    pages: dict[tuple[Any, ...], str] = current_app.extensions.setdefault(SHARED_PAGES_KEY, {})
    page = pages.get(full_key)
    if page is None:
        page = render_template(template, **context, csrf_token=_CSRF_MARK)
        if len(pages) >= SHARED_PAGES_MAX:
            pages.clear()
        pages[full_key] = page
    return page.replace(_CSRF_MARK, token)


def template_helpers() -> dict[str, Any]:
    language = lang()
    zone = runtime().study.timezone
    return {
        "lang": language,
        "tr": lambda text: tr(text, language),
        "when": lambda moment: format_when(moment, zone, language),
        "study": runtime().study,
        "registry": runtime().registry,
        "current_wave": runtime().study.current_wave(now()),
    }
