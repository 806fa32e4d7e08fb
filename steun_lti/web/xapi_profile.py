"""Serves Steun's xAPI Profile at its IRI, ``{base}/xapi/profile`` (and its concept IRIs under it)."""

from __future__ import annotations

import json

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue

from steun_lti.plumbing.settings import get_settings
from xapi.profile import build_profile

bp = Blueprint("xapi_profile", __name__)


@bp.get("/xapi/profile")
@bp.get("/xapi/profile/<path:_rest>")
def profile(_rest: str | None = None) -> ResponseReturnValue:
    document = build_profile(get_settings().base_url)
    body = json.dumps(document, indent=2, ensure_ascii=False)
    response = Response(body, mimetype="application/ld+json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
