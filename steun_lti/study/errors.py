"""Refusals of the study flow; the web layer renders them as a Dutch/English page or JSON."""

from __future__ import annotations

from steun_lti.exceptions import SteunError


class StudyError(SteunError):
    default_message = "Dit kan niet. / This is not possible."


class NotFound(StudyError):
    default_message = "Niet gevonden. / Not found."
    http_status = 404


class ConsentRequired(StudyError):
    default_message = "Eerst is uw toestemming nodig. / Your consent is needed first."
    http_status = 403


class Locked(StudyError):
    default_message = (
        "Deze vragenlijst is al ingeleverd en kan niet meer worden gewijzigd. / "
        "This questionnaire has been submitted and can no longer be changed."
    )
    http_status = 409


class WindowClosed(StudyError):
    default_message = (
        "Deze meting is gesloten; antwoorden kunnen niet meer worden gewijzigd. / "
        "This wave is closed; answers can no longer be changed."
    )
    http_status = 409


class InvalidAnswer(StudyError):
    http_status = 422

    def __init__(self, item_id: str, reason: str) -> None:
        self.item_id = item_id
        self.reason = reason
        super().__init__(f"{item_id}: {reason}")
