"""Who may do what: HTTP Basic authentication against the store and the scope checks that
every resource (a mixin on :class:`Resource`) makes.
"""

from __future__ import annotations

import base64
import binascii

from xapi.lrs.app.messages import XRequest
from xapi.lrs.exceptions import Forbidden, Unauthorized
from xapi.lrs.store import Credential, Store

READ_ANY = ("all", "all/read")


class Resource:
    """What every resource handler builds on: the store and the credential checks."""

    store: Store

    def authenticate(self, xreq: XRequest) -> Credential:
        header = xreq.header("Authorization") or ""
        if not header.lower().startswith("basic "):
            raise Unauthorized("HTTP Basic authentication is required.")
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            key, _, secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("Malformed Basic credentials.") from None
        credential = self.store.authenticate(key, secret)
        if credential is None:
            raise Unauthorized("Unknown or revoked credentials.")
        return credential

    @staticmethod
    def need(xreq: XRequest, *, read: tuple[str, ...], write: tuple[str, ...]) -> None:
        assert xreq.credential is not None
        if xreq.method in ("GET", "HEAD"):
            allowed = xreq.credential.allows(*read, *READ_ANY)
        else:
            allowed = xreq.credential.allows(*write, "all")
        if not allowed:
            raise Forbidden()

    @staticmethod
    def _credential(xreq: XRequest) -> Credential:
        assert xreq.credential is not None
        return xreq.credential
