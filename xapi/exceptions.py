"""Errors of the learning-records part. One base class; subclasses carry a default message."""

from __future__ import annotations


class XapiError(Exception):
    """Base class of every error ``xapi`` raises on purpose."""

    default_message = "xAPI error."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class StatementInvalid(XapiError):
    """A statement breaks xAPI 1.0.3 or Steun's rules; the message names the field."""

    default_message = "Invalid statement."


class LrsError(XapiError):
    """The LRS could not be used."""

    default_message = "The LRS could not be used."


class LrsUnreachable(LrsError):
    default_message = "The LRS cannot be reached."


class LrsAuthError(LrsError):
    default_message = "The LRS refused the credentials (401/403)."


class LrsRejected(LrsError):
    """The LRS refused a request as invalid (400)."""

    default_message = "The LRS refused the statements (400)."


class LrsConflict(LrsError):
    default_message = "The LRS holds a different statement with this id (409)."


class LrsUnavailable(LrsError):
    """A temporary failure: 5xx or 429."""

    default_message = "The LRS is temporarily unavailable."

    def __init__(self, message: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
