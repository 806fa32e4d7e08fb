"""Errors of the LTI layer: one base class, each subclass with a Dutch and an English message.

``message_nl``/``message_en`` say what happened; ``hint_nl``/``hint_en`` what the LMS admin can do.
``code`` is a stable identifier (logged, shown small on the page, sent as ``lti_errorlog``).
"""

from __future__ import annotations

from steun_lti.exceptions import SteunError


class LtiError(SteunError):
    """A launch, login or registration was refused."""

    http_status = 400
    code = "lti_error"
    message_nl = "De leeromgeving kon Steun niet openen."
    message_en = "Your learning platform could not open Steun."
    hint_nl = "Probeer het opnieuw vanuit de cursus. Blijft het misgaan, meld het dan de beheerder."
    hint_en = "Try again from the course. If it keeps failing, tell your platform's administrator."

    def __init__(self, detail: str | None = None, *, return_url: str | None = None) -> None:
        super().__init__(f"{self.message_en} ({self.code}{': ' + detail if detail else ''})")
        self.detail = detail  # for the log and the page; never holds token content
        self.return_url = return_url  # only set after the token's signature was verified


class UnknownPlatform(LtiError):
    code = "unknown_platform"
    message_nl = "Deze leeromgeving is (nog) niet bij Steun geregistreerd."
    message_en = "This learning platform is not (yet) registered with Steun."
    hint_nl = (
        "De beheerder van de leeromgeving registreert Steun via een uitnodigingslink of handmatig."
    )
    hint_en = "The platform's administrator registers Steun with an invitation link or by hand."


class InactiveDeployment(LtiError):
    http_status = 403
    code = "deployment_inactive"
    message_nl = "Steun is in deze leeromgeving geïnstalleerd, maar nog niet geactiveerd."
    message_en = "Steun is installed in this learning platform but not activated yet."
    hint_nl = (
        "Vraag de beheerder van Steun deze installatie te activeren (installatie-id hieronder)."
    )
    hint_en = "Ask Steun's operator to activate this installation (deployment id below)."


class StateError(LtiError):
    code = "state_invalid"
    message_nl = "De aanmelding is verlopen of hoort niet bij deze browser."
    message_en = "The sign-in expired or does not belong to this browser."
    hint_nl = "Open de activiteit opnieuw vanuit de cursus. Lukt dat niet, open haar dan in een nieuw venster."
    hint_en = "Open the activity again from the course; if that fails, open it in a new window."


class ReplayError(LtiError):
    code = "replay"
    message_nl = "Deze aanmelding is al gebruikt."
    message_en = "This sign-in has already been used."
    hint_nl = "Open de activiteit opnieuw vanuit de cursus."
    hint_en = "Open the activity again from the course."


class TokenError(LtiError):
    code = "token_invalid"
    message_nl = "Het aanmeldbewijs van de leeromgeving is ongeldig."
    message_en = "The platform's launch token is invalid."
    hint_nl = "Controleer de sleutel-URL (JWKS) en de client-id van de registratie, en de klok van de server."
    hint_en = "Check the registration's key set URL (JWKS), client id, and the server clocks."


class TokenExpired(TokenError):
    code = "token_expired"
    message_nl = "Het aanmeldbewijs van de leeromgeving is verlopen."
    message_en = "The platform's launch token has expired."


class MessageError(LtiError):
    code = "message_invalid"
    message_nl = "De leeromgeving stuurde een onvolledig of onbekend bericht."
    message_en = "The platform sent an incomplete or unknown message."
    hint_nl = "Meld de foutcode hieronder aan de beheerder van de leeromgeving."
    hint_en = "Report the error code below to the platform's administrator."


class RoleError(LtiError):
    http_status = 403
    code = "role_not_allowed"
    message_nl = "Deze functie is alleen voor leerkrachten en beheerders."
    message_en = "This is only for teachers and administrators."
    hint_nl = "Open de activiteit met een docentenaccount."
    hint_en = "Open the activity with a teacher account."


class PlatformUnreachable(LtiError):
    http_status = 502
    code = "platform_unreachable"
    message_nl = "Steun kon de leeromgeving niet bereiken."
    message_en = "Steun could not reach the learning platform."
    hint_nl = "Controleer of de adressen in de registratie kloppen en vanaf de Steun-server bereikbaar zijn."
    hint_en = "Check that the registration's URLs are right and reachable from Steun's server."


class RegistrationRefused(LtiError):
    code = "registration_refused"
    message_nl = "De registratie van Steun is geweigerd."
    message_en = "Registering Steun was refused."
    hint_nl = "Vraag de beheerder van Steun om een nieuwe uitnodigingslink."
    hint_en = "Ask Steun's operator for a new invitation link."


class InviteInvalid(RegistrationRefused):
    http_status = 403
    code = "invite_invalid"
    message_nl = "Deze registratielink is onbekend, al gebruikt of verlopen."
    message_en = "This registration link is unknown, already used or expired."
