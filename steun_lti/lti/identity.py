"""Which launch value names the person, so the course and the questionnaires share one pseudonym.

The course reaches Steun through the LMS's SCORM player, which reports its own learner id
(``cmi.core.student_id`` / ``cmi.learner_id``); the questionnaires through an LTI launch, whose
``sub`` is often another value for the same person (Moodle: the username vs the numeric user id).
Both channels pseudonymise HMAC(key, issuer, person id), so the launch must use the value the SCORM
player reports. Where the LMS can substitute it into a custom parameter, Steun asks for it at
registration (Dynamic Registration, or by hand; ``docs/lti.md``, "One person, one pseudonym"), and
the launch uses it instead of ``sub``. Where no such parameter arrives, ``sub`` is used as before,
so the pseudonyms of platforms whose two ids already agree never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The custom parameter that carries the SCORM player's learner id in a launch.
LEARNER_ID_PARAM = "scorm_learner_id"

# Per LMS (the platform's ``product_family_code``), the substitution variable whose value equals what
# its SCORM player reports. Only what was verified in the LMS's source or in a real launch is here.
SCORM_LEARNER_ID_VARIABLE: dict[str, str] = {
    "moodle": "$User.username",  # mod/scorm/datamodels/scorm_12lib.php: $USER->username
}

MAX_PERSON_ID = 255  # the relay's limit for a learner id


def registration_custom_parameters(product_family: str | None) -> dict[str, str]:
    """The custom parameters to ask for at Dynamic Registration with this platform."""
    variable = SCORM_LEARNER_ID_VARIABLE.get((product_family or "").strip().lower())
    return {LEARNER_ID_PARAM: variable} if variable else {}


def person_id(sub: str, custom: Mapping[str, Any]) -> str:
    """The id to pseudonymise: the SCORM learner id when the LMS substituted it, else ``sub``.

    An LMS that does not know the variable sends it back unsubstituted (``$User.username``) or
    empty; both fall back to ``sub``.
    """
    value = custom.get(LEARNER_ID_PARAM)
    if isinstance(value, str):
        value = value.strip()
        if value and not value.startswith("$") and len(value) <= MAX_PERSON_ID:
            return value
    return sub
