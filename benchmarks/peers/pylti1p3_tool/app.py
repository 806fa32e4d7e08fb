"""A bare pylti1p3 2.0.0 tool: the peer benchmarks/lti_peers.py measures Steun's launch against.

What a careful tool built on the library alone does, and no more: registrations from a JSON
ToolConf file, the OIDC login answered with a 302 to the platform, the launch verified by pylti1p3
(state cookie, nonce, the platform's JWKS, registration, deployment, message), the launch data kept
in a cache that every gunicorn worker shares, a 303 to a landing page rendered from a template.

The cache is cachelib's FileSystemCache (the file backend of Flask-Caching): shared by all worker
processes without another server to run, each value one file written by rename. pylti1p3 only
checks that a nonce it issued exists; ``SingleUseNonceStorage`` removes it on that check, so an
id_token is accepted once (removing a file succeeds for one caller only, across workers).

Run: ``PEER_TOOL_CONF=tool.json PEER_CACHE_DIR=cache gunicorn -k gthread app:app``.
"""

from __future__ import annotations

import os
from typing import Any

from cachelib import FileSystemCache
from flask import Flask, abort, jsonify, redirect, render_template, url_for
from pylti1p3.contrib.flask import (
    FlaskCacheDataStorage,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.tool_config import ToolConfJsonFile

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


class SharedCache(FileSystemCache):
    def take(self, key: str) -> bool:
        """Remove ``key``; True only for the one caller that removed it."""
        try:
            os.remove(self._get_filename(key))
        except FileNotFoundError:
            return False
        return True


class SingleUseNonceStorage(FlaskCacheDataStorage):
    # pylti1p3 asks check_value only for the nonce (SessionService.check_nonce): consume it.
    def check_value(self, key: str) -> bool:
        key = self._prepare_key(key)
        return self._cache.get(key) is not None and self._cache.take(key)


TOOL_CONF = ToolConfJsonFile(os.environ["PEER_TOOL_CONF"])
# threshold=0: no shared item counter (racy across processes); expired files are skipped on read.
CACHE = SharedCache(os.environ["PEER_CACHE_DIR"], threshold=0, default_timeout=3600)

app = Flask(__name__)


def storage() -> SingleUseNonceStorage:
    return SingleUseNonceStorage(CACHE)


@app.route("/login", methods=["GET", "POST"])
def login() -> Any:
    oidc = FlaskOIDCLogin(FlaskRequest(), TOOL_CONF, launch_data_storage=storage())
    try:
        return oidc.redirect(url_for("launch", _external=True))
    except OIDCException as exc:
        return f"login refused: {exc}", 400


@app.post("/launch")
def launch() -> Any:
    message_launch = FlaskMessageLaunch(FlaskRequest(), TOOL_CONF, launch_data_storage=storage())
    message_launch.set_public_key_caching(storage(), cache_lifetime=7200)
    try:
        message_launch.get_launch_data()  # validates the whole launch and caches it
    except LtiException as exc:
        return f"launch refused: {exc}", 401
    if not message_launch.is_resource_launch():
        return "only resource link launches", 400
    return redirect(url_for("landing", launch_id=message_launch.get_launch_id()), code=303)


@app.get("/landing/<launch_id>")
def landing(launch_id: str) -> Any:
    try:
        message_launch = FlaskMessageLaunch.from_cache(
            launch_id, FlaskRequest(), TOOL_CONF, launch_data_storage=storage()
        )
    except LtiException:
        abort(404)
    data = message_launch.get_launch_data()
    roles = [role.rsplit("#", 1)[-1] for role in data.get(CLAIM + "roles", [])]
    context = data.get(CLAIM + "context") or {}
    return render_template(
        "landing.html",
        roles=roles,
        context=context.get("title") or context.get("id"),
        teacher=message_launch.check_teacher_access(),
    )


@app.get("/jwks")
def jwks() -> Any:
    return jsonify(TOOL_CONF.get_jwks())
