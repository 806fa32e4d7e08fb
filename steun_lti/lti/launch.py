"""The pseudonymous identity of a launched user, as the rest of the tool sees it.

The LTI layer (``steun_lti/lti/``) verifies a launch and turns it into a :class:`LaunchContext`
that holds only pseudonyms and protocol facts — never a name, e-mail or raw LMS user id.
Views ask :func:`current_launch` who is there; they never look at LTI claims themselves.

How the context travels between requests is the LTI layer's business: the Flask session where
cookies work, and a server-side launch record named in the URL where third-party cookies are
blocked. This module offers the session transport and hooks for the others and for the check
every request makes (``steun_lti/lti/sessions.py``): a session ends with its launch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import abort, current_app, g, session
from werkzeug.exceptions import Unauthorized

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
        # Flat fields of str/None/tuples of str: no need for dataclasses.asdict's deep copy.
        data = {name: getattr(self, name) for name in _FIELDS}
        data["roles"] = list(self.roles)
        data["ags_scopes"] = list(self.ags_scopes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LaunchContext:
        data = dict(data)
        data["roles"] = tuple(data.get("roles", ()))
        data["ags_scopes"] = tuple(data.get("ags_scopes", ()))
        return cls(**data)


_FIELDS = tuple(f.name for f in fields(LaunchContext))

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
# What a cookie session keeps of its launch: the launch id, its deployment and the platform's
# return URL (for the "session ended" page after the record is gone). The context itself is
# read back from the launch record, which every request reads anyway to check the launch: a
# cookie that carried the whole context cost a signed, compressed, doubly-encoded JSON on
# every launch and every page (issue 16), and showed the pseudonym and roles to anyone who
# decodes it. Older cookies (the context as a dict or a JSON object) are still read.
# Other transports (e.g. a launch id in the URL for cookie-less iframes) register a resolver here.
Resolver = Callable[[], LaunchContext | None]
# The LTI layer's check of a launch in use, by launch id and deployment id: the context its
# record holds and None while it may be used, else why not (and the context if it is known).
Check = Callable[[str, str], tuple[dict[str, Any] | None, str | None]]
CHECK_KEY = "steun.launch_check"


class SessionEnded(Unauthorized):
    """No usable launch: never launched, ended, expired, or its deployment switched off."""

    def __init__(self, reason: str = "no launch") -> None:
        super().__init__(reason)
        self.reason = reason


def register_resolver(app: Any, resolver: Resolver) -> None:
    app.extensions.setdefault("steun.launch_resolvers", []).append(resolver)


def register_check(app: Any, check: Check) -> None:
    app.extensions[CHECK_KEY] = check


def remember(launch: LaunchContext) -> None:
    """Keep the launch in the (cookie) session for the following requests (it replaces any
    earlier launch; child mode belongs to that earlier launch's record and stays with it)."""
    if launch.launch_id and CHECK_KEY in current_app.extensions:
        kept = [launch.launch_id, launch.deployment_id or "", launch.return_url or ""]
        session[SESSION_KEY] = json.dumps(kept, separators=(",", ":"))  # a JSON list
    else:  # no launch record to read it back from: the whole context, as one JSON string
        session[SESSION_KEY] = json.dumps(launch.to_dict(), separators=(",", ":"))
    g.steun_launch = launch
    g.steun_launch_via = "cookie"


def forget() -> None:
    """Sign-out: the cookie session keeps nothing of the launch."""
    session.pop(SESSION_KEY, None)
    g.steun_launch = None
    g.steun_launch_via = None


def _check(launch_id: str, deployment_id: str) -> tuple[dict[str, Any] | None, str | None]:
    check: Check | None = current_app.extensions.get(CHECK_KEY)
    return check(launch_id, deployment_id) if check is not None else (None, None)


def _from_cookie() -> LaunchContext | None:
    """The session cookie's launch, if it is still usable; a stale one is dropped from it."""
    if SESSION_KEY not in session:
        return None
    kept = session[SESSION_KEY]
    launch: LaunchContext | None = None
    return_url: str | None = None
    try:
        if isinstance(kept, str) and kept.startswith("["):
            launch_id, deployment_id, return_url = (str(v) for v in json.loads(kept))
            stored, problem = _check(launch_id, deployment_id)
            if problem is None:
                launch = LaunchContext.from_dict(stored or {})
                if launch.launch_id != launch_id:
                    problem = "unreadable"
        else:  # an older cookie: the context itself
            data = json.loads(kept) if isinstance(kept, str) else kept
            launch = LaunchContext.from_dict(data)
            return_url = launch.return_url
            problem = _check(launch.launch_id or "", launch.deployment_id or "")[1]
    except (TypeError, ValueError):
        problem = "unreadable"
    if problem is None:
        return launch
    session.pop(SESSION_KEY, None)
    g.steun_launch_refused = problem
    g.steun_launch_ended_return_url = return_url or None
    return None


def current_launch() -> LaunchContext | None:
    """Who is there. The browser's own cookie session wins: a launch id in the URL is looked at
    only when there is no usable one (issue 14: a pasted link never overrides a session)."""
    if "steun_launch" in g:
        launch: LaunchContext | None = g.steun_launch
        return launch
    found = _from_cookie()
    via = "cookie" if found is not None else None
    if found is None:
        for resolver in current_app.extensions.get("steun.launch_resolvers", []):
            found = resolver()
            if found is not None:
                via = "url"
                break
    g.steun_launch = found
    g.steun_launch_via = via
    return found


def launch_in_url() -> bool:
    """Whether this request's launch travels in the URL (links and forms must keep it)."""
    current_launch()
    return g.get("steun_launch_via") == "url"


def require_launch(staff: bool = False) -> LaunchContext:
    """The current launch, or a 401 page; with ``staff``, a 403 page for anyone but course staff."""
    launch = current_launch()
    if launch is None:
        raise SessionEnded(g.get("steun_launch_refused") or "no launch")
    if staff and not launch.is_staff:
        abort(403)
    return launch
