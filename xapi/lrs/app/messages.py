"""A request as the resources see it (:class:`XRequest`, after the alternate syntax is
resolved) and their answer (:class:`XResponse`), with the time formats of HTTP headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from xapi.lrs import limits
from xapi.lrs.exceptions import BadRequest
from xapi.lrs.store import Credential
from xapi.lrs.validation import parse_timestamp
from xapi.lrs.xapi2 import V1_0_3, XapiVersion

PREFIX = "/xapi/"


@dataclass
class XRequest:
    method: str
    resource: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes
    accept_language: str = ""
    credential: Credential | None = None
    version: XapiVersion = V1_0_3
    json_depth: int = limits.DEFAULT_LIMITS.json_depth
    # False until the body was read (after authentication, within the resource's limit).
    body_read: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def allow(self, params: set[str]) -> None:
        unknown = sorted(set(self.params) - params)
        if unknown:
            raise BadRequest(f"Unknown parameter {', '.join(unknown)} for this resource.")

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if value is None or value == "":
            raise BadRequest(f"Parameter '{name}' is required.")
        return value

    def json_body(self) -> Any:
        """The body as strict JSON (finite numbers, limited nesting: see ``limits``)."""
        return limits.loads(self.body, max_depth=self.json_depth)


@dataclass
class XResponse:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> XResponse:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return XResponse(status, body, "application/json", dict(headers or {}))


def to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def http_date(iso: str | None) -> str:

    if not iso:
        return formatdate(time.time(), usegmt=True)
    return formatdate(parse_timestamp(iso, "stored").timestamp(), usegmt=True)


def http_date_us(us: int) -> str:
    return formatdate(us / 1_000_000, usegmt=True)
