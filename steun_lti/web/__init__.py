"""The web pages: one blueprint per concern, registered here (pages import downwards, never this)."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from steun_lti.web import (
        answering,  # noqa: F401  (adds the questionnaire pages to the teacher blueprint)
        child,
        errors,
        headers,
        health,
        lti,
        lti_admin,
        lti_deep_link,
        lti_register,
        relay,
        sessions,
        teacher,
        xapi_profile,
    )

    headers.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(xapi_profile.bp)
    app.register_blueprint(relay.bp)
    teacher.register(app)
    app.register_blueprint(child.bp)
    errors.register(app)

    lti.init_app(app)
    sessions.register(app)
    app.register_blueprint(lti_deep_link.bp)
    app.register_blueprint(lti_register.bp)
    app.register_blueprint(lti_admin.bp)
