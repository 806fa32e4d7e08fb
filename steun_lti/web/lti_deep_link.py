"""Deep Linking: a teacher or admin picks Steun items; the tool returns them signed to the LMS."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from steun_lti.lti import adapter, deep_linking, flow, keys
from steun_lti.lti.exceptions import MessageError, RoleError
from steun_lti.lti.launch import LaunchContext, require_launch
from steun_lti.lti.models import LtiLaunch, LtiRegistration
from steun_lti.lti.origins import on_platform
from steun_lti.plumbing.db import db_session
from steun_lti.web.lti import LAUNCH_PARAM, base_url
from steun_lti.web.teacher_support import check_csrf, csrf_token

bp = Blueprint("lti_dl", __name__, url_prefix="/lti/deep-link")


def _deep_link_launch() -> tuple[LaunchContext, LtiLaunch, dict[str, object]]:
    launch = require_launch()
    if not launch.is_staff:
        raise RoleError("deep linking needs a teacher or administrator")
    row = flow.load_launch(db_session(), launch.launch_id or "")
    settings = row.services.get("deep_linking") if row else None
    if row is None or not isinstance(settings, dict):
        abort(400)
    return launch, row, settings


@bp.get("/")
def pick() -> ResponseReturnValue:
    launch, row, settings = _deep_link_launch()
    return render_template(
        "lti/deep_link.html",
        csrf_token=csrf_token(launch),
        offers=deep_linking.offers(),
        multiple=settings.get("accept_multiple", True) is not False,
        launch_param={LAUNCH_PARAM: row.id} if request.args.get(LAUNCH_PARAM) else {},
    )


@bp.post("/")
def respond() -> ResponseReturnValue:
    launch, row, settings = _deep_link_launch()
    check_csrf(launch)  # a cross-site form must not make the tool sign a response
    chosen = request.form.getlist("item")
    by_key = {o.key: o for o in deep_linking.offers()}
    items = [
        deep_linking.content_item(by_key[k], base_url() + "/lti/launch")
        for k in chosen
        if k in by_key
    ]
    if settings.get("accept_multiple") is False:
        items = items[:1]
    session = db_session()
    registration = session.get(LtiRegistration, row.registration_id)
    if registration is None:
        abort(400)
    back = str(settings.get("deep_link_return_url") or "")
    if not on_platform(back, registration):  # also checked at launch; a browser posts there
        raise MessageError("deep_link_return_url is not an http(s) URL of this platform")
    access = keys.platform_access(session, registration)
    deployment_id = str(row.context.get("deployment_id") or "")
    token = adapter.deep_linking_response_jwt(access, deployment_id, settings, items)
    return render_template("lti/autopost.html", action=back, fields={"JWT": token})
