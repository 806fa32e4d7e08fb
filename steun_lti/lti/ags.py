"""Assignment and Grade Services: report completion (score 1/1) of the launched item.

Other parts call :func:`report_completion` when a user completes what was launched (for example all
questionnaires of a wave). Without AGS in the launch, it does nothing and says so; a failing
platform never breaks the caller (the failure is logged without tokens).
"""

from __future__ import annotations

import logging

from steun_lti.db import db_session
from steun_lti.launch import LaunchContext
from steun_lti.lti import adapter, flow, keys
from steun_lti.lti.models import LtiRegistration
from steun_lti.lti.service import services

log = logging.getLogger("steun.lti.ags")


def report_completion(launch: LaunchContext) -> bool:
    """Post score 1/1, Completed, FullyGraded for the launching user. True when the LMS took it."""
    if not launch.ags_lineitem or adapter.SCORE_SCOPE not in launch.ags_scopes:
        log.info("no AGS line item or score scope in launch; completion not reported")
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
        adapter.post_completion(access, endpoint, launch.ags_lineitem, subject)
    except adapter.ServiceError as exc:
        log.warning("AGS score refused by %s: %s", registration.issuer, exc)
        return False
    return True
