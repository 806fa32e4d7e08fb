"""``/healthz``: the version, whether the database and the LRS are reachable, the gradebook queue.

Scores waiting for or refused by an LMS are counted (``grades``) but leave ``status`` "ok": the
service itself works, answers are safe, and a refusal is the LMS's setting, not an outage
(``steun grades status`` tells the operator what to fix).
"""

from __future__ import annotations

import requests
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from steun_lti.lti import score_queue
from steun_lti.plumbing.db import get_database
from steun_lti.plumbing.settings import get_settings

bp = Blueprint("health", __name__)


def lrs_reachable(endpoint: str, timeout: float) -> bool:
    """An LRS is reachable when its About resource answers (no credentials needed)."""
    try:
        response = requests.get(
            endpoint.rstrip("/") + "/about",
            timeout=min(timeout, 2.0),
            headers={"X-Experience-API-Version": "1.0.3"},
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    settings = get_settings()
    database_ok = get_database().ping()
    lrs_ok = lrs_reachable(settings.lrs.endpoint, settings.lrs.timeout)
    body = {
        "status": "ok" if database_ok else "degraded",
        "version": current_app.config["STEUN_VERSION"],
        "database": database_ok,
        "lrs": lrs_ok,
        "grades": grades_counts() if database_ok else None,
    }
    return jsonify(body), 200


def grades_counts() -> dict[str, int] | None:
    """Scores waiting for the LMS (pending, being sent) and refused by it; None on trouble."""
    try:
        with get_database().session() as session:
            found = score_queue.counts(session)
    except Exception:
        return None
    return {
        "pending": found[score_queue.PENDING] + found[score_queue.SENDING],
        "refused": found[score_queue.REFUSED],
    }
