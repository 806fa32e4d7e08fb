"""The contract between the course package and the tool's relay (decision 0012).

Both sides import this module (the course builder and the tool may import ``xapi``, never each
other), so the file name, the script's form and the token algorithm are written down once:

- every package carries ``steun-relay.js``, loaded before the runtime. It sets
  ``window.STEUN_RELAY`` to ``null`` (no relay) or to ``{"url", "kid", "key"}``: where to post
  course events, the id of the package key and the key itself (hex);
- the tool hands each platform's admin a copy of the package whose ``steun-relay.js`` holds that
  platform's key (:func:`relay_script`); the build itself stays byte-identical;
- with every post the runtime sends ``kid``, ``learner_id`` and ``token`` =
  HMAC-SHA256(key, learner_id) in hex (:func:`learner_token`), computed once per session with
  WebCrypto. The relay recomputes it and refuses a post whose token does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

RELAY_FILE = "steun-relay.js"
_PREFIX = "window.STEUN_RELAY = "
KID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,32}$")
KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def learner_token(key_hex: str, learner_id: str) -> str:
    """HMAC-SHA256(key, learner_id), hex: proof that the post comes from a keyed package."""
    return hmac.new(bytes.fromhex(key_hex), learner_id.encode(), hashlib.sha256).hexdigest()


def relay_script(url: str | None = None, kid: str | None = None, key_hex: str | None = None) -> str:
    """The content of ``steun-relay.js``: no relay, or the relay URL with a package key."""
    if url is None:
        return _PREFIX + "null;\n"
    if not (kid and KID_PATTERN.match(kid) and key_hex and KEY_PATTERN.match(key_hex)):
        raise ValueError("a relay needs a key id (8-32 letters, digits, - or _) and a 64-hex key")
    config = {"url": url, "kid": kid, "key": key_hex}
    return _PREFIX + json.dumps(config, sort_keys=True) + ";\n"


def parse_relay_key(text: str) -> tuple[str, str]:
    """``KID:KEY`` (as ``steun platform course-key`` prints it) into its two parts."""
    kid, _, key = text.strip().partition(":")
    if not (KID_PATTERN.match(kid) and KEY_PATTERN.match(key)):
        raise ValueError("expected KID:KEY (a key id, a colon, 64 hex characters)")
    return kid, key
