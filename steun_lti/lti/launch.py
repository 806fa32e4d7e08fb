"""The pseudonymous identity of a launched user, as the rest of the tool sees it.

The LTI layer (``steun_lti/lti/``) verifies a launch and turns it into a :class:`LaunchContext`
that holds only pseudonyms and protocol facts — never a name, e-mail or raw LMS user id.
Views ask :func:`current_launch` who is there; they never look at LTI claims themselves.

How the context travels between requests is the LTI layer's business: the Flask session where
cookies work, and a server-side launch record named in the URL where third-party cookies are
blocked. This module offers the session transport and a hook for others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import abort, current_app, g, session

ROLE_TEACHER = "teacher"
ROLE_LEARNER = "learner"
ROLE_ADMIN = "admin"


@dataclass(frozen=True)
class LaunchContext:
    """Who launched, from where, and what the LMS offers back (AGS, return URL)."""

    pseudonym: str  # HMAC(study key, issuer NUL sub)
    context_pseudonym: str | None  # HMAC(study key, issuer NUL context id)
    roles: tuple[str, ...]  # ROLE_* values
    registration_id: int | None = None
    deployment_id: str | None = None
    resource_link_id: str | None = None
    target: str | None = None  # what was launched, e.g. "dashboard" or "wave:t1"
    locale: str = "nl"
    return_url: str | None = None
    ags_lineitem: str | None = None
    ags_lineitems: str | None = None
    ags_scopes: tuple[str, ...] = field(default_factory=tuple)
    launch_id: str | None = None

    def return_link(self, **params: str) -> str | None:
        """The platform's return URL with ``lti_msg``/``lti_log`` or ``lti_errormsg``/``lti_errorlog``.

        Only ever from a launch whose token verified; None when the platform gave no return URL.
        """
        return with_lti_params(self.return_url, params) if self.return_url else None

    @property
    def is_staff(self) -> bool:
        """The course's teachers and admins: they place links and see the course's overview.

        Taking part in the study does not depend on the role: a school's staff course enrols the
        participating teachers as students, so they launch as Learners (issue 13).
        """
        return ROLE_TEACHER in self.roles or ROLE_ADMIN in self.roles

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = list(self.roles)
        data["ags_scopes"] = list(self.ags_scopes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LaunchContext:
        data = dict(data)
        data["roles"] = tuple(data.get("roles", ()))
        data["ags_scopes"] = tuple(data.get("ags_scopes", ()))
        return cls(**data)


LTI_RETURN_PARAMS = ("lti_msg", "lti_log", "lti_errormsg", "lti_errorlog")
MAX_RETURN_PARAM = 400  # characters: enough for a sentence, short enough for any LMS's URL limit


def with_lti_params(url: str, params: dict[str, str]) -> str:
    """``url`` with the LTI 1.3 return parameters added to its query (before any fragment).

    Parameters the platform put in the URL itself are kept, ours replace any of the same name.
    """
    ours = {
        k: " ".join(v.split())[:MAX_RETURN_PARAM]
        for k, v in params.items()
        if k in LTI_RETURN_PARAMS and v
    }
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ours]
    return urlunsplit(parts._replace(query=urlencode([*kept, *ours.items()])))


SESSION_KEY = "steun_launch"
# Other transports (e.g. a launch id in the URL for cookie-less iframes) register a resolver here.
Resolver = Callable[[], LaunchContext | None]


def register_resolver(app: Any, resolver: Resolver) -> None:
    app.extensions.setdefault("steun.launch_resolvers", []).append(resolver)


def remember(launch: LaunchContext) -> None:
    """Keep the launch in the (cookie) session for the following requests."""
    session[SESSION_KEY] = launch.to_dict()
    g.steun_launch = launch


def current_launch() -> LaunchContext | None:
    if "steun_launch" in g:
        launch: LaunchContext | None = g.steun_launch
        return launch
    found: LaunchContext | None = None
    for resolver in current_app.extensions.get("steun.launch_resolvers", []):
        found = resolver()
        if found is not None:
            break
    if found is None and SESSION_KEY in session:
        found = LaunchContext.from_dict(session[SESSION_KEY])
    g.steun_launch = found
    return found


def require_launch(staff: bool = False) -> LaunchContext:
    """The current launch, or a 401 page; with ``staff``, a 403 page for anyone but course staff."""
    launch = current_launch()
    if launch is None:
        abort(401)
    if staff and not launch.is_staff:
        abort(403)
    return launch
