"""Where a ``next`` (or any redirect) parameter may send a browser: only a path on this site.

Browsers forgive a lot in a Location header: they drop tabs and newlines, read ``\\`` as ``/`` and
``//host`` as another site. So a target is refused unless, also after percent-decoding, it starts
with a single ``/``, has no scheme or host, and holds no backslash, whitespace or control character.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

_DECODE_ROUNDS = 3  # %2509 -> %09 -> tab: look at every layer a browser or proxy might undo


def _plain_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//"):
        return False
    for char in text:
        if char == "\\" or char.isspace() or unicodedata.category(char)[0] in "CZ":
            return False  # C*: control/format/unassigned, Z*: separators
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def internal_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else ``None`` (never an open redirect)."""
    if not target:
        return None
    layer = target
    for _ in range(_DECODE_ROUNDS):
        if not _plain_path(layer):
            return None
        decoded = unquote(layer)
        if decoded == layer:
            return target
        layer = decoded
    return target if _plain_path(layer) else None
