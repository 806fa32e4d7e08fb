"""Who is in the demo course and what it holds: the demo users with their LTI roles, the packages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COURSE_CONTEXT = "demo-groep-5"
LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
INSTRUCTOR = LIS + "membership#Instructor"
LEARNER = LIS + "membership#Learner"
ADMINISTRATOR = LIS + "institution/person#Administrator"
# Paths the fake platform answers (the LTI side); everything else is a demo page.
PLATFORM_PATHS = ("/auth", "/token", "/jwks.json", "/.well-known/openid-configuration", "/register")
PLATFORM_PREFIXES = ("/ags/", "/nrps/")


@dataclass(frozen=True)
class DemoUser:
    key: str
    sub: str  # the LMS's own user id; the tool turns it into a pseudonym at once
    label: str  # Dutch
    label_en: str
    roles: tuple[str, ...]
    deep_linking: bool = False


USERS = {
    user.key: user
    for user in (
        DemoUser("leerkracht-1", "demo-leerkracht-1", "Leerkracht 1", "Teacher 1", (INSTRUCTOR,)),
        DemoUser("leerkracht-2", "demo-leerkracht-2", "Leerkracht 2", "Teacher 2", (INSTRUCTOR,)),
        DemoUser(
            "leerling",
            "demo-leerkracht-3",
            "Leerkracht 3 (cursist)",
            "Teacher 3 (enrolled as a student)",
            (LEARNER,),
        ),
        DemoUser(
            "beheerder",
            "demo-beheerder",
            "Beheerder (items plaatsen)",
            "Admin (place items)",
            (ADMINISTRATOR, INSTRUCTOR),
            deep_linking=True,
        ),
    )
}
STANDARDS = ("scorm12", "scorm2004")
