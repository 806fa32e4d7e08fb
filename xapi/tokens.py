"""Random tokens for keys and secrets that people handle."""

from __future__ import annotations

import secrets


def cli_safe_token(nbytes: int) -> str:
    """A URL-safe random token that does not start with "-", so that it can be given on a command
    line (``steun lrs credentials revoke KEY``) without being read as an option."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value
