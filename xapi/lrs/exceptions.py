"""Errors of the LRS; each carries the HTTP status the specification asks for."""

from __future__ import annotations


class LrsError(Exception):
    """Base of every LRS error."""

    status = 500
    default_message = "Internal error in the LRS."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequest(LrsError):
    status = 400
    default_message = "Bad request."


class Unauthorized(LrsError):
    status = 401
    default_message = "Authentication required."


class Forbidden(LrsError):
    status = 403
    default_message = "These credentials lack the scope for this request."


class NotFound(LrsError):
    status = 404
    default_message = "Not found."


class MethodNotAllowed(LrsError):
    status = 405
    default_message = "Method not allowed."


class Conflict(LrsError):
    status = 409
    default_message = "Conflict."


class PreconditionFailed(LrsError):
    status = 412
    default_message = "Precondition failed."


class PayloadTooLarge(LrsError):
    status = 413
    default_message = "Request body too large."


class UnsupportedMediaType(LrsError):
    status = 415
    default_message = "Unsupported media type."


class ServiceUnavailable(LrsError):
    """The database is down, locked or unreadable; answered with ``Retry-After``."""

    status = 503
    default_message = "The LRS's database is unavailable; try again."
