"""Outgoing HTTP of the LTI layer: always with timeouts, size limits and no blind redirects."""

from __future__ import annotations

import json
from typing import Any

import requests

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


def request_json(
    method: str,
    url: str,
    *,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    max_bytes: int = MAX_BYTES,
    **kwargs: Any,
) -> Any:
    """Send a request and return its JSON body; redirects are not followed."""
    http = session or requests
    try:
        response = http.request(
            method,
            url,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                **kwargs.pop("headers", {}),
            },
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
