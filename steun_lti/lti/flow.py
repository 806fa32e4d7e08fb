"""The OIDC login and the hardened launch, as plain functions (the views only adapt requests).

What pylti1p3 2.0.0 lacks and this module adds (see /work/shared/notes/lti.md):
- state and nonce bound to the browser by a secret that travels in a cookie or in the platform's
  client-side storage; the state is a signed, short-lived token (nothing is stored for a login,
  so anonymous ``/lti/login`` requests cannot fill the database), and it is consumed atomically
  by the launch (a ``lti_login_state`` row, keyed on the state's digest, written then): a
  replayed id_token or state is refused, on any worker;
- registrations found by (issuer, client_id), ``azp`` required and checked when ``aud`` has several
  values, never a 500;
- a leeway on iat/exp/nbf; the platform's JWKS cached with one refetch on an unknown kid;
- deployments created inactive when first seen; a launch needs an active one.

It stays one file (about 500 lines): login and launch are one protocol exchange whose checks
share the state row, the registration lookup and the key cache; split, each half would import
the other's internals.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steun_lti.lti import adapter, idtoken
from steun_lti.lti.exceptions import (
    InactiveDeployment,
    LtiError,
    MessageError,
    PlatformUnreachable,
    ReplayError,
    StateError,
    TokenError,
    UnknownPlatform,
)
from steun_lti.lti.http import HttpError
from steun_lti.lti.identity import person_id
from steun_lti.lti.jwks import JwksCache
from steun_lti.lti.launch import ROLE_ADMIN, ROLE_LEARNER, ROLE_TEACHER, LaunchContext
from steun_lti.lti.models import LtiDeployment, LtiLaunch, LtiLoginState, LtiRegistration
from steun_lti.lti.origins import on_platform
from steun_lti.lti.recent import Recent
from xapi.pseudonym import pseudonymise

LOGIN_TTL = timedelta(minutes=10)
LAUNCH_TTL = timedelta(hours=8)  # the default of STEUN_SESSION_HOURS

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DEPLOYMENT_ID = CLAIM + "deployment_id"
ROLES = CLAIM + "roles"
CONTEXT = CLAIM + "context"
RESOURCE_LINK = CLAIM + "resource_link"
CUSTOM = CLAIM + "custom"
PRESENTATION = CLAIM + "launch_presentation"
TARGET_LINK_URI = CLAIM + "target_link_uri"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"

_LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
TEACHER_ROLES = {
    _LIS + "membership#Instructor",
    _LIS + "membership/Instructor#TeachingAssistant",
    _LIS + "membership#ContentDeveloper",
    "Instructor",
    "TeachingAssistant",
    "ContentDeveloper",
}
ADMIN_ROLES = {
    _LIS + "membership#Administrator",
    _LIS + "institution/person#Administrator",
    _LIS + "system/person#Administrator",
    _LIS + "system/person#SysAdmin",
    "Administrator",
}
LEARNER_ROLES = {_LIS + "membership#Learner", _LIS + "institution/person#Student", "Learner"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(24)


# -- the statements of every launch, built once ---------------------------------------------
# Building a SQLAlchemy statement costs several times what running it on SQLite does
# (benchmarks/launch_profile.py: ~0.3-0.7 ms against ~0.06 ms for a prebuilt one with bind
# parameters); the login and the launch run these on every request.

_REG = cast(Table, LtiRegistration.__table__)
_STATE = cast(Table, LtiLoginState.__table__)
_LAUNCH = cast(Table, LtiLaunch.__table__)
_LOGIN_COLUMNS = (_REG.c.id, _REG.c.client_id, _REG.c.auth_login_url)
_LOGIN_BY_CLIENT = (
    select(*_LOGIN_COLUMNS)
    .where(
        _REG.c.issuer == bindparam("issuer"),
        _REG.c.client_id == bindparam("client_id"),
        _REG.c.active.is_(True),
    )
    .limit(2)
)
_LOGIN_BY_ISSUER = (
    select(*_LOGIN_COLUMNS)
    .where(_REG.c.issuer == bindparam("issuer"), _REG.c.active.is_(True))
    .limit(2)
)
_CONSUME_STATE = insert(_STATE)
_STORE_LAUNCH = insert(_LAUNCH)
_STATE_ROW = tuple(c.name for c in _STATE.c)  # every column: _state_values gives them all
_LAUNCH_ROW = (
    "id", "registration_id", "context", "services", "ags_subject", "created_at", "expires_at",
    "browser_hash",
)  # fmt: skip
# PostgreSQL: the state consumed and the launch recorded in one statement (its WITH clause
# inserts the state: a used state fails the whole statement on the primary key). Alone, the
# launch's only write, it runs outside a transaction, being atomic by itself: no BEGIN and
# COMMIT round trips (steun_lti/plumbing/db.py).
_CONSUME_AND_STORE = (
    insert(_LAUNCH)
    .values({name: bindparam(name) for name in _LAUNCH_ROW})
    .add_cte(
        insert(_STATE)
        .values({name: bindparam("s_" + name) for name in _STATE_ROW})
        .cte("consumed_state")
    )
)
_CONSUME_AND_STORE_ALONE = _CONSUME_AND_STORE.execution_options(steun_atomic_alone=True)
_DEP = cast(Table, LtiDeployment.__table__)
_REG_COLUMNS = tuple(c.name for c in _REG.c)
_DEP_COLUMNS = tuple(c.name for c in _DEP.c)
_REGISTRATION_AND_DEPLOYMENT = (
    select(*_REG.c, *(c.label("d_" + c.name) for c in _DEP.c))
    .outerjoin(
        _DEP,
        (_DEP.c.registration_id == _REG.c.id)
        & (_DEP.c.deployment_id == bindparam("deployment_id")),
    )
    .where(_REG.c.id == bindparam("registration_id"))
)


# -- registrations ------------------------------------------------------------------------


def find_registration(session: Session, issuer: str, client_id: str | None) -> LtiRegistration:
    """The registration for (issuer, client_id); without client_id only when the issuer has one."""
    query = select(LtiRegistration).where(
        LtiRegistration.issuer == issuer, LtiRegistration.active.is_(True)
    )
    if client_id:
        query = query.where(LtiRegistration.client_id == client_id)
    found = list(session.scalars(query.limit(2)))
    return _only_one(found, issuer, client_id)


def _only_one(found: Sequence[Any], issuer: str, client_id: str | None) -> Any:
    """The one registration found, or :class:`UnknownPlatform` saying why not."""
    if len(found) != 1:
        detail = f"issuer {issuer[:200]!r}" + (
            f", client_id {client_id[:100]!r}" if client_id else ""
        )
        if len(found) > 1:
            detail += " (several registrations: the platform must send client_id)"
        raise UnknownPlatform(detail)
    return found[0]


def _login_registration(
    session: Session | Callable[[], Session],
    issuer: str,
    client_id: str | None,
    cache: Recent | None = None,
) -> tuple[int, str, str]:
    """:func:`find_registration` for the login: the id, client id and login URL only.

    With ``cache`` (the app's, see ``lti/recent.py``) an answer may be up to a second or two
    old: the login only signs a state; the launch reads the registration again and refuses one
    switched off in between. Unknown platforms are asked for every time. ``session`` may be a
    function that gives one: it is called only when the database is asked."""

    def load() -> tuple[int, str, str]:
        if client_id:
            query, params = _LOGIN_BY_CLIENT, {"issuer": issuer, "client_id": client_id}
        else:
            query, params = _LOGIN_BY_ISSUER, {"issuer": issuer}
        db = session if isinstance(session, Session) else session()
        try:
            found = db.connection().execute(query, params).all()
        finally:
            db.rollback()  # end the read transaction: a login holds nothing open
        row = _only_one(found, issuer, client_id)
        return (row.id, row.client_id, row.auth_login_url)

    if cache is None:
        return load()
    return cache.get(("login", issuer, client_id), load)


def deployment_for(
    session: Session, registration: LtiRegistration, deployment_id: str
) -> LtiDeployment:
    """Find the deployment, creating it inactive on first sight (safe against concurrent workers)."""
    query = select(LtiDeployment).where(
        LtiDeployment.registration_id == registration.id,
        LtiDeployment.deployment_id == deployment_id,
    )
    found = session.scalars(query).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            found = LtiDeployment(registration_id=registration.id, deployment_id=deployment_id)
            session.add(found)
        session.commit()
    except IntegrityError:
        session.rollback()
        found = session.scalars(query).one()
    return found


# -- login --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginParams:
    iss: str
    login_hint: str
    target_link_uri: str
    client_id: str | None = None
    lti_message_hint: str | None = None
    lti_deployment_id: str | None = None
    lti_storage_target: str | None = None

    @classmethod
    def from_mapping(cls, values: Any) -> LoginParams:
        missing = [k for k in ("iss", "login_hint", "target_link_uri") if not values.get(k)]
        if missing:
            raise MessageError(f"login request lacks {', '.join(missing)}")
        return cls(
            iss=values["iss"],
            login_hint=values["login_hint"],
            target_link_uri=values["target_link_uri"],
            client_id=values.get("client_id") or None,
            lti_message_hint=values.get("lti_message_hint") or None,
            lti_deployment_id=values.get("lti_deployment_id") or None,
            lti_storage_target=(values.get("lti_storage_target") or None),
        )

    def query(self) -> str:
        """The login parameters again, for the new-window fallback link."""
        data = {k: v for k, v in self.__dict__.items() if v and k != "lti_storage_target"}
        return urlencode(data)


@dataclass(frozen=True)
class LoginState:
    """What a signed state carries from the login to the launch."""

    state: str
    nonce: str
    registration_id: int
    binding_hash: str  # sha256 of the browser's secret
    storage_target: str | None
    expires_at: datetime


STATE_SALT = "steun.lti.state"
MAX_STATE_CHARS = 1024


@functools.lru_cache(maxsize=8)
def _state_signer(state_key: str) -> URLSafeTimedSerializer:
    """One serializer per key and process (building one costs more than signing a state)."""
    return URLSafeTimedSerializer(
        state_key, salt=STATE_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def sign_state(state_key: str, login: dict[str, Any]) -> str:
    return _state_signer(state_key).dumps(login)


def read_state(state_key: str, state: str) -> LoginState:
    """The login a state stands for, if its signature holds and it has not expired.

    Whether it was used already is settled once, by consuming it (:func:`verify_launch` inserts
    its digest under a primary key): a used state fails there, on any worker. There is no read
    ahead of that (it was a database round trip on every launch to refuse a replay earlier)."""
    if not state or len(state) > MAX_STATE_CHARS:
        raise StateError("unknown or expired state")
    try:
        data, signed_at = _state_signer(state_key).loads(
            state, max_age=int(LOGIN_TTL.total_seconds()), return_timestamp=True
        )
    except SignatureExpired as exc:
        raise StateError("unknown or expired state") from exc
    except BadSignature as exc:
        raise StateError("unknown or expired state") from exc
    try:
        return LoginState(
            state=state,
            nonce=str(data["n"]),
            registration_id=int(data["r"]),
            binding_hash=str(data["b"]),
            storage_target=data.get("t") or None,
            expires_at=_aware(signed_at) + LOGIN_TTL,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError("unknown or expired state") from exc


@dataclass(frozen=True)
class LoginStart:
    auth_url: str
    state: str
    platform_origin: str
    storage_target: str | None
    auth_action: str = ""  # the auth URL without its query, and that query as pairs (the form)
    auth_fields: tuple[tuple[str, str], ...] = ()


def begin_login(
    session: Session | Callable[[], Session],
    params: LoginParams,
    *,
    redirect_uri: str,
    browser_secret: str,
    state_key: str,
    cache: Recent | None = None,
) -> LoginStart:
    """A signed state and a nonce bound to ``browser_secret``; the platform's auth URL.

    Only a registered platform gets this far, and nothing is written: the state is a token
    signed with ``state_key`` that the launch checks and then consumes. ``cache``: see
    :func:`_login_registration`.
    """
    registration_id, client_id, auth = _login_registration(
        session, params.iss, params.client_id, cache
    )
    nonce = new_secret()
    storage_target = params.lti_storage_target
    if storage_target and (len(storage_target) > 64 or not storage_target.isprintable()):
        storage_target = None
    login: dict[str, Any] = {"n": nonce, "r": registration_id, "b": digest(browser_secret)}
    if storage_target:
        login["t"] = storage_target
    state = sign_state(state_key, login)
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "login_hint": params.login_hint,
        "state": state,
        "nonce": nonce,
    }
    if params.lti_message_hint:
        query["lti_message_hint"] = params.lti_message_hint
    auth_url = auth + ("&" if "?" in auth else "?") + urlencode(query)
    parts = urlsplit(auth)
    return LoginStart(
        auth_url=auth_url,
        state=state,
        platform_origin=f"{parts.scheme}://{parts.netloc}",
        storage_target=storage_target,
        auth_action=urlunsplit(parts._replace(query="", fragment="")),
        auth_fields=(
            *parse_qsl(parts.query, keep_blank_values=True),  # the platform's own, if any
            *query.items(),
        ),
    )


# -- launch -------------------------------------------------------------------------------


@dataclass
class VerifiedLaunch:
    claims: dict[str, Any]
    registration: LtiRegistration
    deployment: LtiDeployment
    message_type: str

    @property
    def return_url(self) -> str | None:
        return return_url_of(self.claims)


def return_url_of(claims: dict[str, Any]) -> str | None:
    """The platform's return URL; only ever read from a token whose signature verified."""
    presentation = claims.get(PRESENTATION)
    url = presentation.get("return_url") if isinstance(presentation, dict) else None
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return aud
    raise TokenError("aud claim missing or malformed")


def _client_id_of(claims: dict[str, Any]) -> str:
    audiences = _audiences(claims)
    azp = claims.get("azp")
    if azp is not None:
        if not isinstance(azp, str) or azp not in audiences:
            raise TokenError("azp is not one of the audiences")
        return azp
    if len(audiences) > 1:
        raise TokenError("several audiences but no azp")
    return audiences[0]


def verify_launch(
    session: Session,
    *,
    id_token: str,
    state: str,
    browser_secret: str | None,
    jwks_cache: JwksCache,
    state_key: str,
    leeway: int = 60,
    login: LoginState | None = None,
) -> VerifiedLaunch:
    """Verify a launch completely; raise an LtiError subclass on any fault.

    ``login`` is what :func:`read_state` gave for this ``state`` (the view reads it first to
    choose between the cookie and the platform's storage); without it the state is read here.
    A launch refused once its token verified consumes its state here; an accepted one leaves it
    to :func:`store_launch` (``consuming=``), which consumes it with the launch record.
    """
    if not id_token:
        raise MessageError("no id_token in the launch")
    if login is None or login.state != state:
        login = read_state(state_key, state)
    row = login
    if not browser_secret or not hmac.compare_digest(digest(browser_secret), row.binding_hash):
        raise StateError("state is not bound to this browser")
    token = idtoken.parse(id_token)
    unverified = token.claims
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise TokenError("iss claim missing")
    client_id = _client_id_of(unverified)
    registration, deployment = _registration_and_deployment(
        session, row.registration_id, unverified.get(DEPLOYMENT_ID)
    )
    if (
        registration is None
        or not registration.active
        or (registration.issuer, registration.client_id) != (issuer, client_id)
    ):
        # Not the platform this login was for: unknown here, switched off since the login, or
        # another registration's token.
        raise UnknownPlatform(f"issuer {issuer[:200]!r}, client_id {client_id[:100]!r}")
    try:
        key = jwks_cache.get(registration.key_set_url, token.header["kid"])
    except HttpError as exc:
        raise PlatformUnreachable(f"key set: {exc.reason}") from exc
    if key is None:
        raise TokenError("the platform's key set has no key with the token's kid")
    claims = idtoken.verify(
        token, key, audience=client_id, issuer=registration.issuer, leeway=leeway
    )
    if not hmac.compare_digest(str(claims.get("nonce")), row.nonce):
        raise StateError("nonce does not belong to this login")
    # The state (and with it the nonce) is consumed in the caller's transaction: with the
    # launch record by store_launch, or here before a refusal below is raised (committed). A
    # concurrent replay's insert waits on it (PostgreSQL unique index, SQLite writer lock) and
    # then fails.
    try:
        return _check_message(session, registration, claims, deployment)
    except LtiError:
        consume_state(session, row)
        session.commit()
        raise


def _state_values(login: LoginState, now: datetime) -> dict[str, Any]:
    return {
        "state": digest(login.state),
        "nonce": digest(login.nonce),
        "registration_id": login.registration_id,
        "binding_hash": login.binding_hash,
        "storage_target": login.storage_target,
        "created_at": now,
        "expires_at": login.expires_at,
        "used_at": now,
    }


@contextmanager
def _refusing_replays(session: Session) -> Iterator[None]:
    """A state's insert failing on its primary key: the state was used before, on any worker.
    Nothing precedes the insert in its transaction, so the rollback loses nothing."""
    try:
        yield
    except IntegrityError as exc:
        session.rollback()
        raise ReplayError("state already used") from exc


def consume_state(session: Session, login: LoginState) -> None:
    """Mark a login's state (and its nonce) used, in the caller's transaction; a state used
    before is :class:`ReplayError`."""
    with _refusing_replays(session):
        session.connection().execute(_CONSUME_STATE, _state_values(login, utcnow()))


def _registration_and_deployment(
    session: Session, registration_id: int, deployment_id: Any
) -> tuple[LtiRegistration | None, LtiDeployment | None]:
    """The login's registration and, in the same query, the deployment the (not yet verified)
    token names; the deployment is used only if the verified claim names the same one."""
    if not isinstance(deployment_id, str) or not deployment_id:
        return session.get(LtiRegistration, registration_id), None
    found = (
        session.connection()
        .execute(
            _REGISTRATION_AND_DEPLOYMENT,
            {"registration_id": registration_id, "deployment_id": deployment_id},
        )
        .first()
    )
    if found is None:
        return None, None
    # Read-only snapshots of the rows, attribute for attribute (the launch only reads them; a
    # deployment seen for the first time is created through the ORM by deployment_for). Not
    # ORM instances: building two of those cost more than the query (issue 16).
    registration = SimpleNamespace(
        **dict(zip(_REG_COLUMNS, found[: len(_REG_COLUMNS)], strict=True))
    )
    if found[len(_REG_COLUMNS) + _DEP_COLUMNS.index("id")] is None:  # no such deployment
        return cast(LtiRegistration, registration), None
    deployment = SimpleNamespace(**dict(zip(_DEP_COLUMNS, found[len(_REG_COLUMNS) :], strict=True)))
    return cast(LtiRegistration, registration), cast(LtiDeployment, deployment)


def _check_message(
    session: Session,
    registration: LtiRegistration,
    claims: dict[str, Any],
    known: LtiDeployment | None = None,
) -> VerifiedLaunch:
    verified_return = return_url_of(claims)
    deployment_id = claims.get(DEPLOYMENT_ID)
    if not isinstance(deployment_id, str) or not deployment_id:
        raise MessageError("deployment_id claim missing", return_url=verified_return)
    try:
        message_type = adapter.validate_message(claims)
    except adapter.ClaimError as exc:
        raise MessageError(str(exc), return_url=verified_return) from exc
    if message_type not in (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST):
        raise MessageError(f"{message_type} is not supported", return_url=verified_return)
    if message_type == DEEP_LINKING_REQUEST:
        settings = claims.get(DL_SETTINGS)
        back = settings.get("deep_link_return_url") if isinstance(settings, dict) else None
        if not isinstance(back, str) or not on_platform(back, registration):
            # The browser posts the signed response there: only the platform's own http(s) URL.
            raise MessageError(
                "deep_link_return_url is not an http(s) URL of this platform",
                return_url=verified_return,
            )
    if known is not None and known.deployment_id == deployment_id:
        deployment = known
    else:
        deployment = deployment_for(session, registration, deployment_id)
    if not deployment.active:
        raise InactiveDeployment(
            f"deployment {deployment_id[:100]!r} of {registration.issuer}",
            return_url=verified_return,
        )
    return VerifiedLaunch(claims, registration, deployment, message_type)


def roles_of(claims: dict[str, Any]) -> tuple[str, ...]:
    raw = claims.get(ROLES) or []
    names = {r for r in raw if isinstance(r, str)}
    roles: list[str] = []
    if names & TEACHER_ROLES:
        roles.append(ROLE_TEACHER)
    if names & ADMIN_ROLES:
        roles.append(ROLE_ADMIN)
    if names & LEARNER_ROLES:
        roles.append(ROLE_LEARNER)
    return tuple(roles)


def _object(claims: dict[str, Any], name: str) -> dict[str, Any]:
    value = claims.get(name)
    return value if isinstance(value, dict) else {}


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def build_context(
    verified: VerifiedLaunch, *, hmac_key: str, launch_id: str
) -> tuple[LaunchContext, dict[str, Any]]:
    """The pseudonymous LaunchContext and the services record of a verified launch."""
    claims = verified.claims
    issuer = verified.registration.issuer
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise MessageError("sub claim missing", return_url=verified.return_url)
    context = _object(claims, CONTEXT)
    context_id = _string(context.get("id"))
    resource_link = _object(claims, RESOURCE_LINK)
    custom = _object(claims, CUSTOM)
    target = _string(custom.get("target"))
    locale = _string(claims.get("locale")) or "nl"
    ags = _object(claims, AGS_ENDPOINT)
    scopes = tuple(s for s in ags.get("scope", []) if isinstance(s, str))
    launch = LaunchContext(
        pseudonym=pseudonymise(hmac_key, issuer, person_id(sub, custom)),
        context_pseudonym=pseudonymise(hmac_key, issuer, context_id, prefix="c")
        if context_id
        else None,
        roles=roles_of(claims),
        registration_id=verified.registration.id,
        deployment_id=verified.deployment.deployment_id,
        resource_link_id=resource_link.get("id")
        if isinstance(resource_link.get("id"), str)
        else None,
        target=target[:100] if target else None,
        locale="en" if locale.lower().startswith("en") else "nl",
        return_url=verified.return_url,
        ags_lineitem=_string(ags.get("lineitem")),
        ags_lineitems=_string(ags.get("lineitems")),
        ags_scopes=scopes,
        launch_id=launch_id,
    )
    services: dict[str, Any] = {"message_type": verified.message_type}
    if ags:
        services["ags"] = {k: ags[k] for k in ("lineitem", "lineitems", "scope") if k in ags}
    if verified.message_type == DEEP_LINKING_REQUEST:
        services["deep_linking"] = claims.get(DL_SETTINGS)
    return launch, services


def store_launch(
    session: Session,
    launch: LaunchContext,
    services: dict[str, Any],
    *,
    registration_id: int,
    sealed_subject: str | None,
    ttl: timedelta = LAUNCH_TTL,
    browser_key: str | None = None,
    consuming: LoginState | None = None,
    alone: bool = False,
) -> str:
    """Record a verified launch for ``ttl``; with ``browser_key`` it may also travel in URLs.

    One prebuilt INSERT in the caller's transaction (no row object); returns the launch id.
    ``consuming``: the launch's login state, consumed here with the record (see
    :func:`verify_launch`'s ``consume``); a state used before is :class:`ReplayError`.
    ``alone``: nothing else is written before the commit, so on PostgreSQL the one statement
    needs no transaction around it.
    """
    launch_id = launch.launch_id or new_secret()
    now = utcnow()
    values = {
        "id": launch_id,
        "registration_id": registration_id,
        "context": launch.to_dict(),
        "services": services,
        "ags_subject": sealed_subject,
        "created_at": now,
        "expires_at": now + ttl,
        "browser_hash": digest(browser_key) if browser_key else None,
    }
    connection = session.connection()
    if consuming is None:
        connection.execute(_STORE_LAUNCH, values)
    elif connection.dialect.name == "postgresql":
        for name, value in _state_values(consuming, now).items():
            values["s_" + name] = value
        with _refusing_replays(session):
            connection.execute(_CONSUME_AND_STORE_ALONE if alone else _CONSUME_AND_STORE, values)
    else:
        consume_state(session, consuming)
        connection.execute(_STORE_LAUNCH, values)
    return launch_id


def load_launch(session: Session, launch_id: str) -> LtiLaunch | None:
    row = session.get(LtiLaunch, launch_id) if launch_id and len(launch_id) <= 64 else None
    if row is None or _aware(row.expires_at) < utcnow():
        return None
    return row


def purge_expired(session: Session) -> None:
    """Drop used or expired login states and expired launches (with their sealed subjects)."""
    from sqlalchemy import delete

    now = utcnow()
    session.execute(delete(LtiLoginState).where(LtiLoginState.expires_at < now))
    session.execute(delete(LtiLaunch).where(LtiLaunch.expires_at < now))
    session.commit()
