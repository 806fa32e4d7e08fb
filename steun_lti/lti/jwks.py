"""A per-process cache of platform key sets that fetches again once when it meets an unknown kid.

Platforms rotate keys (D2L about hourly); a fixed-lifetime cache would refuse every launch signed
with the new key until it expires. Here an unknown kid triggers one refetch, at most once per
``min_refetch`` seconds per URL after a refetch that did not help, so a flood of bogus kids cannot make us hammer the platform.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from steun_lti.lti.http import AddressPolicy, HttpError, request_json


@dataclass
class _Entry:
    keys: dict[str, Any]  # kid -> PyJWK
    fetched: float
    after_miss: bool = False  # fetched because a kid was unknown


@dataclass
class JwksCache:
    policy: AddressPolicy = field(default_factory=AddressPolicy)  # where key sets may be
    ttl: float = 3600.0
    min_refetch: float = 5.0
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    fetches: int = 0

    def _fetch(self, url: str, after_miss: bool = False) -> _Entry:
        data = request_json("GET", url, policy=self.policy)
        self.fetches += 1
        keys: dict[str, Any] = {}
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise HttpError(f"GET {url}: not a JWK set")
        for raw in data["keys"]:
            if not isinstance(raw, dict) or not raw.get("kid") or raw.get("kty") != "RSA":
                continue
            try:
                keys[str(raw["kid"])] = jwt.PyJWK(raw, algorithm="RS256")
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue
        entry = _Entry(keys=keys, fetched=time.monotonic(), after_miss=after_miss)
        self._entries[url] = entry
        return entry

    def get(self, url: str, kid: str) -> Any | None:
        """The platform's public key with this kid, or None when the platform does not have it."""
        with self._lock:
            now = time.monotonic()
            entry = self._entries.get(url)
            if entry is None or now - entry.fetched > self.ttl:
                entry = self._fetch(url)
            elif kid not in entry.keys and not (
                entry.after_miss and now - entry.fetched < self.min_refetch
            ):
                entry = self._fetch(url, after_miss=True)
            return entry.keys.get(kid)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
