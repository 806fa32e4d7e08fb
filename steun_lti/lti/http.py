"""Outgoing HTTP of the LTI layer: always with timeouts, size limits and no blind redirects.

Every request the tool makes on a platform's behalf (Dynamic Registration, the key set, the token
endpoint, AGS line items and scores) goes to an address checked against :class:`AddressPolicy`,
and to that address only (:func:`pinned`): a platform, or a launch it signed, cannot make the tool
send its bearer token to 127.0.0.1 or an internal service, also not by answering DNS twice.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
MAX_BYTES = 256 * 1024
USER_AGENT = "Steun-LTI/1.0"


class HttpError(Exception):
    """An outgoing request failed; ``reason`` is safe to log (no tokens)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class UnsafeTarget(HttpError):
    """A URL the tool must not send a request to (private address, wrong scheme, no host)."""


@dataclass(frozen=True)
class AddressPolicy:
    """Where outgoing requests may go. The default: public addresses only.

    ``allow_private``: private and loopback addresses too (``STEUN_REGISTRATION_ALLOW_PRIVATE_
    ADDRESSES``: tests, a closed network); ``allow_loopback``: loopback, and plain http to it
    where https is otherwise required (debug and demo mode: the demo LMS on 127.0.0.1).
    """

    allow_private: bool = False
    allow_loopback: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> AddressPolicy:
        return cls(
            allow_private=bool(settings.registration_allow_private_addresses),
            allow_loopback=bool(settings.debug or settings.demo_mode),
        )


def checked_address(
    url: str, policy: AddressPolicy, *, what: str = "URL", require_https: bool = False
) -> tuple[str, str]:
    """The host of ``url`` and the one address to connect to, or :class:`UnsafeTarget`.

    Every address the name resolves to must pass ``policy``; the caller connects to the returned
    one only (:func:`pinned`), so a second DNS answer cannot send it elsewhere (DNS rebinding).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise UnsafeTarget(f"{what} is not a usable URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget(f"{what} has an invalid port") from exc
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"{what}: host {host!r} does not resolve") from exc
    resolved = [str(info[4][0]).split("%", 1)[0] for info in infos]
    addresses = {ipaddress.ip_address(a) for a in resolved}
    loopback = all(a.is_loopback for a in addresses)
    if require_https and parts.scheme != "https" and not (loopback and policy.allow_loopback):
        raise UnsafeTarget(f"{what} must use https")
    for address in addresses:
        if address.is_global:
            continue
        if policy.allow_private or (address.is_loopback and policy.allow_loopback):
            continue
        raise UnsafeTarget(f"{what}: {host!r} resolves to a non-public address")
    return host, resolved[0]


class TimeoutSession(requests.Session):
    """A requests session that never waits forever (pylti1p3's own calls have no timeout)."""

    def __init__(self, timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT)) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


class GuardedSession(TimeoutSession):
    """A :class:`TimeoutSession` whose every request goes only to an address ``policy`` allows,
    pinned to the address that was checked (for pylti1p3's token and AGS calls)."""

    def __init__(
        self,
        policy: AddressPolicy,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    ) -> None:
        super().__init__(timeout)
        self.policy = policy

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        text = url.decode() if isinstance(url, bytes) else str(url)
        _host, address = checked_address(text, self.policy)
        session, target, host_header = pinned(text, address)
        kwargs["headers"] = {**self.headers, **(kwargs.get("headers") or {}), "Host": host_header}
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        with session:
            return session.request(method, target, *args, **kwargs)


def read_limited(response: requests.Response, max_bytes: int = MAX_BYTES) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise HttpError(f"response larger than {max_bytes} bytes")
    body = b""
    for chunk in response.iter_content(65536):
        body += chunk
        if len(body) > max_bytes:
            response.close()
            raise HttpError(f"response larger than {max_bytes} bytes")
    return body


class _PinnedAdapter(HTTPAdapter):
    """Checks the TLS certificate against the host name while connecting to a fixed address."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        # urllib3 drops both keywords for plain-http pools.
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


def pinned(url: str, address: str) -> tuple[requests.Session, str, str]:
    """A session and URL that reach ``url``'s host at ``address`` only.

    The address is the one a safety check resolved and approved: connecting to it, rather than
    resolving the name a second time, closes the DNS-rebinding gap between check and use. The
    Host header and, for https, SNI and certificate checks still use the real host name.
    Returns (session, url with the address, Host header value).
    """
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    ip = ipaddress.ip_address(address)
    netloc = f"[{ip}]" if ip.version == 6 else str(ip)
    if parts.port is not None:
        netloc += f":{parts.port}"
    session = requests.Session()
    session.mount(f"{parts.scheme}://", _PinnedAdapter(hostname))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return session, urlunsplit(parts._replace(netloc=netloc)), host_header


def request_json(
    method: str,
    url: str,
    *,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    max_bytes: int = MAX_BYTES,
    pin: str | None = None,
    policy: AddressPolicy | None = None,
    **kwargs: Any,
) -> Any:
    """Send a request and return its JSON body; redirects are not followed.

    ``pin``: an IP address already checked for ``url``'s host; the request goes there and
    nowhere else (see :func:`pinned`). ``policy``: check the address here, then pin it.
    """
    http: Any = session or requests
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **kwargs.pop("headers", {})}
    target = url
    if pin is None and policy is not None:
        pin = checked_address(url, policy)[1]
    if pin is not None:
        http, target, headers["Host"] = pinned(url, pin)
    try:
        response = http.request(
            method,
            target,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
            headers=headers,
            **kwargs,
        )
    except requests.Timeout as exc:
        raise HttpError(f"{method} {url}: timed out") from exc
    except requests.RequestException as exc:
        raise HttpError(f"{method} {url}: {type(exc).__name__}") from exc
    with response:
        if 300 <= response.status_code < 400:
            raise HttpError(f"{method} {url}: redirect refused", response.status_code)
        body = read_limited(response, max_bytes)
        if response.status_code >= 400:
            raise HttpError(f"{method} {url}: HTTP {response.status_code}", response.status_code)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise HttpError(f"{method} {url}: not JSON") from exc
