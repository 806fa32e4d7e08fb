"""Which URLs belong to a registered platform: the origins of its issuer and its known endpoints.

A launch names URLs the tool then uses: the Deep Linking return URL (a browser posts the signed
response there) and the AGS line item URLs (they get the platform's bearer token). A URL that is
not http(s) on one of these origins is refused: Moodle's are all on its own host (``wwwroot``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from steun_lti.lti.models import LtiRegistration

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL without credentials; ``None`` for anything else."""
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    return scheme, host, port or (443 if scheme == "https" else 80)


def platform_origins(registration: LtiRegistration) -> set[Origin]:
    urls = (
        registration.issuer,
        registration.auth_login_url,
        registration.auth_token_url,
        registration.key_set_url,
    )
    return {found for url in urls if (found := origin_of(url)) is not None}


def on_platform(url: str, registration: LtiRegistration) -> bool:
    """True when ``url`` is http(s) on the origin of the platform's issuer or a known endpoint."""
    found = origin_of(url)
    return found is not None and found in platform_origins(registration)
