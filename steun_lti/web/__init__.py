"""Blueprints of the tool, one per concern."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from steun_lti.web import errors, health

    app.register_blueprint(health.bp)
    from steun_lti.web import teacher

    teacher.register(app)
    errors.register(app)
