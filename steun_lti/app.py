"""The Flask application factory."""

from __future__ import annotations

import atexit
import logging
from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from steun_lti import __version__
from steun_lti.plumbing import logmask
from steun_lti.plumbing.db import Database, init_app
from steun_lti.plumbing.secrets import ensure_data_dir, load_or_create_secret
from steun_lti.plumbing.session_cookie import CachedSerializerSessionInterface
from steun_lti.plumbing.settings import Settings, load_settings


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    """Build the tool. Tests pass their own settings (and database); nothing happens at import."""
    settings = settings or load_settings()
    ensure_data_dir(settings.data_dir)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config["STEUN_SETTINGS"] = settings
    app.config["STEUN_VERSION"] = __version__
    secret = (
        settings.secret_key.get_secret_value()
        if settings.secret_key
        else load_or_create_secret(settings.data_dir, "flask_secret_key")
    )
    if settings.admin_password is None:
        # At the first start, so the operator can read it before the first visit to /lti/admin
        # (web/lti_admin.py reads the same file); docs/admin.md says it is there.
        load_or_create_secret(settings.data_dir, "admin_password", nbytes=18)
    app.config.update(
        SECRET_KEY=secret,
        DEBUG=settings.debug,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        # The cookie's signature is refused after this (Flask's default: 31 days), whatever the
        # launch record says; every request also re-checks the launch (steun_lti/lti/sessions.py).
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.session_interface = CachedSerializerSessionInterface()
    if settings.proxy_hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.proxy_hops,
            x_proto=settings.proxy_hops,
            x_host=settings.proxy_hops,
            x_port=settings.proxy_hops,
            x_prefix=settings.proxy_hops,
        )
    logging.getLogger("steun").setLevel(settings.log_level.upper())
    logmask.install()  # no invite token, launch id or state in any log (issue 14)

    # A pooled connection for every request thread and the background senders: with fewer, the
    # pool opened and closed connections under load (a new PostgreSQL backend each time).
    pool = {"pool_size": settings.threads + 4, "max_overflow": 8}
    init_app(app, database or Database(settings.resolved_database_url, **pool))

    from steun_lti.web import register_blueprints

    register_blueprints(app)

    from steun_lti.records import statements

    statements.init_app(app)
    return app


def app_with_sender(app: Flask) -> Flask:
    """Start this process's background threads (``steun serve`` calls it in every worker): the
    outbox sender (statements to the LRS) and the score sender (grades to the LMSs)."""
    from steun_lti.lti.ags import start_background_sender
    from steun_lti.lti.service import EXTENSION
    from steun_lti.plumbing.db import get_database
    from steun_lti.records.outbox import BackgroundSender, Sender
    from steun_lti.records.statements import client_factory

    with app.app_context():
        database = get_database()
    settings: Settings = app.config["STEUN_SETTINGS"]
    background = BackgroundSender(Sender(database, client_factory(settings)))
    background.start()
    app.extensions["steun.outbox_sender"] = background
    atexit.register(background.stop)
    scores = start_background_sender(
        database, app.extensions[EXTENSION], retention_days=settings.grades_retention_days
    )
    app.extensions["steun.score_sender"] = scores
    atexit.register(scores.stop)
    return app
