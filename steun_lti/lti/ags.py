"""Assignment and Grade Services: report completion of the launched item to the LMS gradebook.

Other parts call :func:`report_completion` when a user completes what was launched (for example all
questionnaires of a wave). The score goes to the launch's line item; where the launch names none
but lets the tool manage line items (a plain link placed without Deep Linking), the line item of
this resource link with our tag is found or, with the ``lineitem`` scope, created first. Without
AGS in the launch it does nothing and says so; a failing platform never breaks the caller (the
failure is logged without tokens).
"""

from __future__ import annotations

import logging

from steun_lti.db import db_session
from steun_lti.launch import LaunchContext
from steun_lti.lti import adapter, flow, keys
from steun_lti.lti.models import LtiRegistration
from steun_lti.lti.service import services

log = logging.getLogger("steun.lti.ags")

COMPLETION_TAG = "steun-completion"
COMPLETION_LABEL = "Steun in het onderwijs – voltooid"


def can_report(launch: LaunchContext) -> bool:
    """Whether the launch lets the tool post a score: a line item, or one it may find or create."""
    scopes = set(launch.ags_scopes)
    if adapter.SCORE_SCOPE not in scopes:
        return False
    if launch.ags_lineitem:
        return True
    readable = bool({adapter.LINEITEM_SCOPE, adapter.LINEITEM_READ_SCOPE} & scopes)
    return bool(launch.ags_lineitems and readable and launch.resource_link_id)


def wanted_lineitem(launch: LaunchContext) -> adapter.LineItemWanted | None:
    if launch.ags_lineitem or not launch.resource_link_id:
        return None
    return adapter.LineItemWanted(
        label=COMPLETION_LABEL,
        resource_link_id=launch.resource_link_id,
        tag=COMPLETION_TAG,
        resource_id=launch.target,
    )


def report_completion(launch: LaunchContext, *, given: float = 1, maximum: float = 1) -> bool:
    """Post ``given``/``maximum`` (default 1/1, Completed, FullyGraded) for the launching user.

    True when the LMS took it.
    """
    if not can_report(launch):
        log.info("no AGS line item (or scope to find one) in launch; completion not reported")
        return False
    session = db_session()
    row = flow.load_launch(session, launch.launch_id or "")
    if row is None or not row.ags_subject:
        log.info("launch record expired; completion not reported")
        return False
    subject = services().unseal(row.ags_subject)
    registration = session.get(LtiRegistration, row.registration_id)
    if subject is None or registration is None:
        return False
    key = keys.signing_key(session)
    access = adapter.PlatformAccess(
        issuer=registration.issuer,
        client_id=registration.client_id,
        auth_token_url=registration.auth_token_url,
        auth_audience=registration.auth_audience,
        private_pem=key.private_pem,
        kid=key.kid,
    )
    endpoint = dict(row.services.get("ags") or {})  # type: ignore[call-overload]
    try:
        used = adapter.post_completion(
            access,
            endpoint,
            launch.ags_lineitem,
            subject,
            given=given,
            maximum=maximum,
            wanted=wanted_lineitem(launch),
        )
    except adapter.ServiceError as exc:
        log.warning("AGS score refused by %s: %s", registration.issuer, exc)
        return False
    if used is None:
        log.info(
            "no line item for this link at %s and no scope to create one; not reported",
            registration.issuer,
        )
        return False
    return True
