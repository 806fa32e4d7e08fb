"""Secrets never reach a log: a filter that masks them in every record, whatever logger wrote it.

Invite tokens travel in a path (``/lti/register/<token>``), launch ids, states, id_tokens and
login hints in query strings or form bodies, and an access log or a refusal message would print
them. :class:`MaskSecrets` rewrites each record's message (and its traceback) before a handler
formats it; :func:`install` puts it on the handlers and loggers of the tool, werkzeug and gunicorn.
"""

from __future__ import annotations

import logging
import re

MASK = "[masked]"
SENSITIVE_PARAMS = (
    "token",
    "invite",
    "invite_url",
    "registration_token",
    "lti_launch",
    "id_token",
    "state",
    "nonce",
    "login_hint",
    "lti_message_hint",
    "lti_storage_binding",
    "access_token",
    "client_assertion",
    "csrf_token",
    "csrf",
    "jwt",
)
_PARAM = re.compile(r"(?i)(?<![\w-])((?:" + "|".join(SENSITIVE_PARAMS) + r")(?:=|%3D))[^&\s\"'<>]+")
_INVITE_PATH = re.compile(r"(/lti/register/)[^/?#\s\"'<>]+")
_JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
_HEADER = re.compile(r"(?i)(x-steun-launch\s*[:=]\s*)\S+")

LOGGERS = ("", "steun", "werkzeug", "gunicorn.error", "gunicorn.access", "flask.app")


def _may_hold_secret(text: str) -> bool:
    """A cheap first look: every pattern below needs one of these substrings (most log lines,
    the access log's among them, have none, and five regular expressions cost more)."""
    if "=" in text or "%3" in text or "eyJ" in text or "/lti/register/" in text:
        return True
    lowered = text.lower()
    return "bearer" in lowered or "x-steun-launch" in lowered


def mask(text: str) -> str:
    """``text`` with invite paths, sensitive query values, JWTs and bearer tokens masked."""
    if not text or not _may_hold_secret(text):
        return text
    text = _INVITE_PATH.sub(r"\1" + MASK, text)
    text = _JWT.sub(MASK, text)
    text = _BEARER.sub(r"\1" + MASK, text)
    text = _HEADER.sub(r"\1" + MASK, text)
    return _PARAM.sub(r"\1" + MASK, text)


class MaskSecrets(logging.Filter):
    """Format the record's message now, masked, so no handler sees the raw arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string: keep what there is
            message = str(record.msg)
        record.msg = mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


_FILTER = MaskSecrets()


def install(*targets: logging.Logger | logging.Handler) -> None:
    """Mask on these loggers (and every handler they have now) or handlers; idempotent.

    Without arguments: the root logger and those of the tool, werkzeug and gunicorn.
    """
    chosen = list(targets) or [logging.getLogger(name) for name in LOGGERS]
    for target in chosen:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
        for handler in getattr(target, "handlers", []):
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
