"""Errors of the LTI tool. One base class; each subclass carries a default message.

Boundaries translate them: the web layer into an HTML error page with a 4xx status,
the CLI into a message on stderr and exit code 2.
"""

from __future__ import annotations


class SteunError(Exception):
    """Base class of every error Steun raises on purpose."""

    default_message = "Er ging iets mis. / Something went wrong."
    http_status = 400

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message


class ConfigurationError(SteunError):
    """A setting, a data directory or a secret file is unusable."""

    default_message = "Invalid configuration."
    http_status = 500


class DatabaseError(SteunError):
    """The database could not be reached or migrated."""

    default_message = "The database is not available."
    http_status = 503
