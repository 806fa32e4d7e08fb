"""Steun's embedded xAPI 1.0.3 Learning Record Store (a WSGI app on SQLite or PostgreSQL).

It imports nothing from ``steun_lti`` or ``scorm_package``: the ``steun lrs`` commands call
the plain functions here with explicit parameters.
"""

from xapi.lrs.app import create_app
from xapi.lrs.store import Store

__all__ = ["Store", "create_app"]
