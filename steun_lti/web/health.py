"""``/healthz``: the version, and whether the database and the LRS are reachable."""

from __future__ import annotations

import requests
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

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
    }
    return jsonify(body), 200
