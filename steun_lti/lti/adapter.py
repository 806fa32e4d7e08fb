"""The one module that imports pylti1p3.

pylti1p3 2.0.0 gives us the LTI message validators, the Deep Linking response and the AGS client.
Its launch pipeline is not used as is (see docs/decisions/0005-lti-launch-pipeline.md): state,
nonce, keys, audience and storage are done by :mod:`steun_lti.lti.flow`, which then calls
:func:`validate_message` here for the claim rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.message_validators import get_validators
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector

from steun_lti.lti.http import AddressPolicy, GuardedSession, HttpError

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
    """A call to the platform's services failed; ``status`` is the HTTP status when there was one.

    ``stage`` is ``"token"`` when the access token could not be had, ``"service"`` when the call
    itself failed; ``excerpt`` is a short piece of the platform's answer with tokens blanked out.
    """

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        *,
        stage: str = "service",
        excerpt: str = "",
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.stage = stage
        self.excerpt = excerpt


_TOKENISH = re.compile(
    r"eyJ[\w-]+\.[\w-]+\.[\w-]*"  # a JWT
    r"|(?i:bearer)\s+\S+"
    r"|(?i:\"?(?:access_token|client_assertion|id_token)\"?\s*[:=]\s*\"?)[^\s\",&}]+"
)
EXCERPT_CHARS = 160


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line piece of a platform's answer, with anything token-like blanked out."""
    flat = " ".join(text.split())
    return _TOKENISH.sub("[…]", flat)[:limit]


def _service_error(exc: Exception, stage: str) -> ServiceError:
    if isinstance(exc, LtiServiceException):
        status = exc.response.status_code
        body = excerpt(exc.response.text or "")
        return ServiceError(
            f"HTTP {status}: {body}" if body else f"HTTP {status}",
            status,
            stage=stage,
            excerpt=body,
        )
    if isinstance(exc, LtiException):
        return ServiceError(excerpt(str(exc)), stage=stage)
    if isinstance(exc, HttpError):  # e.g. an address the policy refuses: the reason is safe
        return ServiceError(exc.reason, exc.status, stage=stage)
    return ServiceError(type(exc).__name__, stage=stage)  # requests errors: the kind only


SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READ_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
LINEITEM_MEDIA = "application/vnd.ims.lis.v2.lineitem+json"
CONTAINER_MEDIA = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MAX_LINEITEM_PAGES = 20


@dataclass(frozen=True)
class LineItemWanted:
    """The line item to find (by resource link and tag) or create when a launch names none."""

    label: str
    resource_link_id: str
    tag: str
    resource_id: str | None = None
    score_maximum: float = 1


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def _next_page(link_header: str | None, origin_of: str) -> str | None:
    """The rel="next" URL of a Link header, only on the platform's own origin (it gets our token).

    pylti1p3 lower-cases the whole header (breaking mixed-case URLs); this keeps it as sent.
    """
    for part in (link_header or "").split(","):
        match = re.match(r"\s*<([^>]*)>\s*;(.*)$", part)
        if match and re.search(r'rel\s*=\s*"?next"?', match.group(2), re.IGNORECASE):
            url = match.group(1)
            same = urlsplit(url)[:2] == urlsplit(origin_of)[:2]
            return url if same else None
    return None


class AgsClient:
    """One platform's AGS endpoint for one report: a single access token for all its calls.

    pylti1p3 signs the token request and sends the calls (with our timeouts); the line item search
    is ours: pylti1p3's matches one property only, ignores the query filters, lower-cases the
    Link header and follows it anywhere.
    """

    def __init__(
        self, access: PlatformAccess, endpoint: Mapping[str, Any], policy: AddressPolicy
    ) -> None:
        self.endpoint = dict(endpoint)
        self.scopes = [str(s) for s in self.endpoint.get("scope") or []]
        self.lineitems = str(self.endpoint.get("lineitems") or "")
        # The token endpoint and every AGS URL: checked addresses only, pinned (lti/http.py).
        self._connector = ServiceConnector(access.registration(), GuardedSession(policy))

    @property
    def can_find(self) -> bool:
        return bool(self.lineitems) and bool(
            {LINEITEM_SCOPE, LINEITEM_READ_SCOPE} & set(self.scopes)
        )

    @property
    def can_create(self) -> bool:
        return bool(self.lineitems) and LINEITEM_SCOPE in self.scopes

    def _call(self, url: str, **kwargs: Any) -> Any:
        try:  # the token first (pylti1p3 keeps it), so its failures can be told apart
            self._connector.get_access_token(self.scopes)
        except Exception as exc:  # requests errors surface untyped from pylti1p3
            raise _service_error(exc, "token") from exc
        try:
            return self._connector.make_service_request(self.scopes, url, **kwargs)
        except Exception as exc:
            raise _service_error(exc, "service") from exc

    def find_lineitem(self, wanted: LineItemWanted) -> str | None:
        """The URL of the line item of ``wanted``'s resource link and tag, if the platform has one.

        The query filters by resource_link_id and tag (AGS 2.0); the items are matched again here
        because platforms may ignore the filters. Pages are followed on the same origin only.
        """
        if not self.can_find:
            raise ServiceError("the platform granted no line item scope")
        url: str | None = _with_query(
            self.lineitems, resource_link_id=wanted.resource_link_id, tag=wanted.tag
        )
        for _ in range(MAX_LINEITEM_PAGES):
            if url is None:
                break
            page = self._call(url, accept=CONTAINER_MEDIA, case_insensitive_headers=True)
            if not isinstance(page["body"], list):
                raise ServiceError("line item container is not a list")
            for item in page["body"]:
                if (
                    isinstance(item, dict)
                    and item.get("resourceLinkId") == wanted.resource_link_id
                    and item.get("tag") == wanted.tag
                    and isinstance(item.get("id"), str)
                ):
                    return str(item["id"])
            url = _next_page(page["headers"].get("Link"), self.lineitems)
        return None

    def create_lineitem(self, wanted: LineItemWanted) -> str:
        if not self.can_create:
            raise ServiceError("the platform did not grant the lineitem scope")
        item: dict[str, Any] = {
            "scoreMaximum": wanted.score_maximum,
            "label": wanted.label,
            "resourceLinkId": wanted.resource_link_id,
            "tag": wanted.tag,
        }
        if wanted.resource_id:
            item["resourceId"] = wanted.resource_id
        created = self._call(
            self.lineitems,
            is_post=True,
            data=json.dumps(item),
            content_type=LINEITEM_MEDIA,
            accept=LINEITEM_MEDIA,
        )
        body = created["body"]
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise ServiceError("created line item has no id")
        return str(body["id"])

    def post_score(
        self,
        lineitem_url: str,
        user_id: str,
        *,
        given: float = 1,
        maximum: float = 1,
        timestamp: datetime | None = None,
    ) -> None:
        """Send a score for ``user_id``: Completed at ``given == maximum``, always FullyGraded.

        ``timestamp`` is when the state arose (default: now); a platform keeps the newest one.
        """
        if SCORE_SCOPE not in self.scopes:
            raise ServiceError("the platform did not grant the score scope")
        # Whole numbers as integers (1, not 1.0), as before the scores were queued in a float column.
        given = int(given) if float(given).is_integer() else given
        maximum = int(maximum) if float(maximum).is_integer() else maximum
        grade = (
            Grade()
            .set_score_given(given)
            .set_score_maximum(maximum)
            .set_activity_progress("Completed" if given >= maximum else "InProgress")
            .set_grading_progress("FullyGraded")
            .set_user_id(user_id)
            .set_timestamp(
                (timestamp or datetime.now(UTC))
                .astimezone(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z")
            )
        )
        url = AssignmentsGradesService._add_url_path_ending(lineitem_url, "scores")
        self._call(
            url,
            is_post=True,
            data=grade.get_value(),
            content_type="application/vnd.ims.lis.v1.score+json",
        )
