"""The one module that imports pylti1p3.

pylti1p3 2.0.0 gives us the LTI message validators, the Deep Linking response and the AGS client.
Its launch pipeline is not used as is (see docs/decisions/0005-lti-launch-pipeline.md): state,
nonce, keys, audience and storage are done by :mod:`steun_lti.lti.flow`, which then calls
:func:`validate_message` here for the claim rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.message_validators import get_validators
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector

from steun_lti.lti.http import TimeoutSession

MESSAGE_TYPE = "https://purl.imsglobal.org/spec/lti/claim/message_type"


class ClaimError(Exception):
    """The id_token's claims break an LTI rule (message, version, roles, resource link...)."""


def validate_message(body: Mapping[str, Any]) -> str:
    """Check the claims of a verified id_token with pylti1p3's validators; return the message type."""
    message_type = body.get(MESSAGE_TYPE)
    if not message_type:
        raise ClaimError("message_type claim missing")
    matching = [v for v in get_validators() if v.can_validate(body)]
    if not matching:
        raise ClaimError(f"unsupported message type {str(message_type)[:60]!r}")
    try:
        for validator in matching:
            if not validator.validate(body):
                raise ClaimError("message validation failed")
    except LtiException as exc:
        raise ClaimError(str(exc)) from exc
    return str(message_type)


class _Registration(Registration):
    """pylti1p3 derives the kid from a public key; ours are named in the database."""

    def __init__(self, kid: str) -> None:
        super().__init__()
        self._steun_kid = kid

    def get_kid(self) -> str:
        return self._steun_kid


def _registration(
    *,
    issuer: str,
    client_id: str,
    auth_token_url: str,
    auth_audience: str | None,
    private_pem: str,
    kid: str,
) -> Registration:
    registration = _Registration(kid)
    registration.set_issuer(issuer)
    registration.set_client_id(client_id)
    registration.set_auth_token_url(auth_token_url)
    if auth_audience:
        registration.set_auth_audience(auth_audience)
    registration.set_tool_private_key(private_pem)
    return registration


@dataclass(frozen=True)
class PlatformAccess:
    """What the tool needs to call one platform's services or sign a message to it."""

    issuer: str
    client_id: str
    auth_token_url: str
    auth_audience: str | None
    private_pem: str
    kid: str

    def registration(self) -> Registration:
        return _registration(
            issuer=self.issuer,
            client_id=self.client_id,
            auth_token_url=self.auth_token_url,
            auth_audience=self.auth_audience,
            private_pem=self.private_pem,
            kid=self.kid,
        )


@dataclass(frozen=True)
class ContentItem:
    """One item a teacher places in the course through Deep Linking."""

    title: str
    url: str
    custom: Mapping[str, str]
    text: str = ""
    line_item_label: str | None = None  # a gradebook column (score maximum 1) when set
    resource_id: str | None = None
    tag: str | None = None


def deep_linking_response_jwt(
    access: PlatformAccess,
    deployment_id: str,
    settings: Mapping[str, Any],
    items: Sequence[ContentItem],
) -> str:
    """The signed LtiDeepLinkingResponse for ``settings`` (the request's deep_linking_settings)."""
    resources = []
    for item in items:
        resource = DeepLinkResource().set_title(item.title).set_url(item.url)
        resource.set_custom_params(dict(item.custom))
        if item.line_item_label:
            line_item = LineItem().set_label(item.line_item_label).set_score_maximum(1)
            if item.resource_id:
                line_item.set_resource_id(item.resource_id)
            if item.tag:
                line_item.set_tag(item.tag)
            resource.set_lineitem(line_item)
        resources.append(resource)
    deep_link = DeepLink(access.registration(), deployment_id, dict(settings))  # type: ignore[arg-type]
    token: str = deep_link.get_response_jwt(resources)
    return token


class ServiceError(Exception):
    """A call to the platform's services failed."""


SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


def post_completion(
    access: PlatformAccess, endpoint: Mapping[str, Any], lineitem_url: str, user_id: str
) -> None:
    """Send score 1/1, Completed, FullyGraded for ``user_id`` to ``lineitem_url``."""
    connector = ServiceConnector(access.registration(), TimeoutSession())
    service = AssignmentsGradesService(connector, dict(endpoint))  # type: ignore[arg-type]
    grade = (
        Grade()
        .set_score_given(1)
        .set_score_maximum(1)
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_user_id(user_id)
        .set_timestamp(datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    )
    try:
        service.put_grade(grade, LineItem({"id": lineitem_url}))
    except (LtiException, LtiServiceException) as exc:
        raise ServiceError(str(exc)[:200]) from exc
    except Exception as exc:  # requests errors surface untyped from pylti1p3
        raise ServiceError(type(exc).__name__) from exc
