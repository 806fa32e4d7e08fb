"""``/healthz``: the version, whether the database and the LRS are reachable, whether the data
directory takes a new file (a full disk, a read-only mount, wrong ownership), the gradebook queue.

A database that does not answer or a data directory that takes no file make ``status``
"degraded" and the answer 503, so a load balancer or a monitor notices.

Scores waiting for or refused by an LMS are counted (``grades``) but leave ``status`` "ok": the
service itself works, answers are safe, and a refusal is the LMS's setting, not an outage
(``steun grades status`` tells the operator what to fix).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

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


PROBE_BYTES = 4096  # a small file, written through to the disk


def data_dir_writable(folder: Path) -> bool:
    """Whether ``folder`` takes a new file now: create, write, sync and delete one."""
    probe = folder / f".healthz-{secrets.token_hex(6)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return False
    try:
        os.write(fd, b"\0" * PROBE_BYTES)
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        with contextlib.suppress(OSError):
            probe.unlink()


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    settings = get_settings()
    database_ok = get_database().ping()
    data_dir_ok = data_dir_writable(settings.data_dir)
    lrs_ok = lrs_reachable(settings.lrs.endpoint, settings.lrs.timeout)
    healthy = database_ok and data_dir_ok
    body = {
        "status": "ok" if healthy else "degraded",
        "version": current_app.config["STEUN_VERSION"],
        "database": database_ok,
        "data_dir": data_dir_ok,
        "lrs": lrs_ok,
        "grades": grades_counts() if database_ok else None,
    }
    return jsonify(body), 200 if healthy else 503


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
