"""Flask's signed cookie session, with its serializer built once per key instead of per request.

Flask's ``SecureCookieSessionInterface`` builds a new ``URLSafeTimedSerializer`` to open and again
to save the session on every request; building one costs more than signing or checking the cookie
(``benchmarks/launch_profile.py``). The cookie, its signature, salt, key derivation and lifetime
are Flask's own, unchanged: only the object is reused while the secret key and its fallbacks stay
the same (a changed key builds a new one).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._cached: tuple[Any, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._cached
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._cached = (keys, serializer)
        return serializer
