"""Blueprints of the tool, one per concern."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from steun_lti.web import errors, health, relay, xapi_profile

    app.register_blueprint(health.bp)
    app.register_blueprint(xapi_profile.bp)
    app.register_blueprint(relay.bp)
    from steun_lti.web import teacher

    teacher.register(app)
    errors.register(app)

    from steun_lti.web import lti

    lti.init_app(app)
