"""``/lti/register/<invite>``: the one URL an LMS admin pastes for LTI Dynamic Registration."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from steun_lti.lti.exceptions import InviteInvalid, LtiError
from steun_lti.lti.registration import ToolUrls, register_dynamically
from steun_lti.plumbing.db import db_session
from steun_lti.plumbing.settings import get_settings
from steun_lti.web.lti import tool_urls

log = logging.getLogger("steun.lti.registration")
bp = Blueprint("lti_register", __name__, url_prefix="/lti/register")


@bp.get("/", defaults={"token": ""})
@bp.get("/<token>")
def register(token: str) -> ResponseReturnValue:
    token = token or request.args.get("invite", "")
    urls = tool_urls()
    if not token:
        raise InviteInvalid("registration without an invite")
    try:
        registration, deployment = register_dynamically(
            db_session(),
            get_settings(),
            invite_token=token,
            openid_configuration=request.args.get("openid_configuration", ""),
            registration_token=request.args.get("registration_token") or None,
            urls=ToolUrls(
                base=urls["base"], login=urls["login"], launch=urls["launch"], jwks=urls["jwks"]
            ),
        )
    except LtiError as exc:
        log.warning(
            "dynamic registration refused (%s): %s; from %s",
            exc.code,
            exc.detail,
            request.remote_addr,
        )
        raise
    return render_template(
        "lti/registered.html",
        registration=registration,
        pending=deployment is None or not deployment.active,
    )
