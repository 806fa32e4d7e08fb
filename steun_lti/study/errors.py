"""Refusals of the study flow; the web layer renders them as a page (or JSON) in the user's language.

Messages are lazy Babel strings: translated when shown, in the request's locale.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext

from steun_lti.exceptions import SteunError


class StudyError(SteunError):
    default_message = lazy_gettext("This is not possible.")

    def __init__(self, message: Any = None) -> None:
        super().__init__(message)


class NotFound(StudyError):
    default_message = lazy_gettext("Not found.")
    http_status = 404


class ConsentRequired(StudyError):
    default_message = lazy_gettext("Your consent is needed first.")
    http_status = 403


class Locked(StudyError):
    default_message = lazy_gettext(
        "This questionnaire has been submitted and can no longer be changed."
    )
    http_status = 409


class WindowClosed(StudyError):
    default_message = lazy_gettext("This wave is closed; answers can no longer be changed.")
    http_status = 409


class InvalidAnswer(StudyError):
    http_status = 422

    def __init__(self, item_id: str, reason: str) -> None:
        self.item_id = item_id
        self.reason = reason
        super().__init__(f"{item_id}: {reason}")
