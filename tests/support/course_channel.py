"""The course channel's proof in tests: a registered platform, its package key, consent.

``open_channel`` prepares what a real school has after its admin imported the keyed package and
the teacher consented in the questionnaire tool; ``signed`` builds the body the runtime posts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import select

from steun_lti.lti.models import LtiRegistration
from steun_lti.plumbing.db import get_database
from steun_lti.records.course_channel import current_key, key_secret
from steun_lti.records.statements import hmac_key
from steun_lti.study.models import Consent
from steun_lti.web.teacher_support import RUNTIME_KEY
from xapi.course_relay import learner_token
from xapi.pseudonym import pseudonymise


def registration_for(session: Any, issuer: str) -> LtiRegistration:
    found = session.scalars(select(LtiRegistration).where(LtiRegistration.issuer == issuer)).first()
    if found is None:
        found = LtiRegistration(
            issuer=issuer,
            client_id="course-channel-test",
            auth_login_url=issuer + "/auth",
            auth_token_url=issuer + "/token",
            key_set_url=issuer + "/jwks",
            active=True,
        )
        session.add(found)
        session.flush()
    return found


def pseudonym_of(app: Flask, issuer: str, learner_id: str) -> str:
    return pseudonymise(hmac_key(app.config["STEUN_SETTINGS"]), issuer, learner_id)


def consent(app: Flask, issuer: str, learner_id: str) -> str:
    """A consent row for the learner's pseudonym (as the consent page writes it, without its
    statement), returning the pseudonym."""
    with app.app_context():
        database = get_database()
        study = app.extensions[RUNTIME_KEY].study
    teacher = pseudonym_of(app, issuer, learner_id)
    with database.session() as session:
        session.add(
            Consent(
                study_id=study.id,
                teacher=teacher,
                version=study.consent_version,
                given_at=datetime.now(UTC),
            )
        )
        session.commit()
    return teacher


def open_channel(app: Flask, issuer: str, *consenting: str) -> tuple[str, str]:
    """The platform's package key (kid, key hex); each learner id in ``consenting`` consents."""
    with app.app_context():
        database = get_database()
    with database.session() as session:
        kid = current_key(session, registration_for(session, issuer)).kid
        session.commit()
    for learner in consenting:
        consent(app, issuer, learner)
    return kid, key_secret(hmac_key(app.config["STEUN_SETTINGS"]), kid)


def signed(key: tuple[str, str], learner_id: str, **body: Any) -> dict[str, Any]:
    """What the runtime posts: the key id, the learner's token, and the rest of the body."""
    kid, secret = key
    return {
        "kid": kid,
        "token": learner_token(secret, learner_id),
        "learner_id": learner_id,
        **body,
    }
