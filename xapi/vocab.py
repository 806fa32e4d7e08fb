"""The vocabulary of Steun's statements: ADL and SCORM-profile IRIs, and our own under the base URL.

Verbs and activity types come from ADL's vocabulary (as the SCORM profile uses them) wherever one
exists; Steun's own IRIs (activities, extensions, the few verbs ADL lacks) live under the tool's
base URL, ``{base}/xapi/...``, so they resolve to something the tool serves or describes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

XAPI_VERSION = "1.0.3"
LANGUAGE = "nl-NL"

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITIES = "http://adlnet.gov/expapi/activities/"
SCORM_PROFILE = "https://w3id.org/xapi/scorm"
# The IRI prefix under which Steun's LRS lists its extensions in About (the client finds them there).
LRS_EXTENSIONS = "https://steun.example.nl/xapi/lrs/extensions/"


@dataclass(frozen=True)
class Verb:
    key: str
    id: str
    nl: str
    en: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "display": {"nl-NL": self.nl, "en-US": self.en}}


def _adl(key: str, nl: str, en: str) -> Verb:
    return Verb(key, ADL_VERBS + key, nl, en)


# ADL verbs (also those of the SCORM profile).
LAUNCHED = _adl("launched", "startte", "launched")
INITIALIZED = _adl("initialized", "begon", "initialized")
ATTEMPTED = _adl("attempted", "probeerde", "attempted")
ANSWERED = _adl("answered", "beantwoordde", "answered")
RESPONDED = _adl("responded", "reageerde", "responded")
PROGRESSED = _adl("progressed", "vorderde", "progressed")
COMPLETED = _adl("completed", "voltooide", "completed")
SUSPENDED = _adl("suspended", "onderbrak", "suspended")
RESUMED = _adl("resumed", "hervatte", "resumed")
TERMINATED = _adl("terminated", "beëindigde", "terminated")
VOIDED = _adl("voided", "maakte ongeldig", "voided")

ADL_VERB_SET = (
    LAUNCHED,
    INITIALIZED,
    ATTEMPTED,
    ANSWERED,
    RESPONDED,
    PROGRESSED,
    COMPLETED,
    SUSPENDED,
    RESUMED,
    TERMINATED,
    VOIDED,
)

# Activity types (ADL).
T_COURSE = ADL_ACTIVITIES + "course"
T_MODULE = ADL_ACTIVITIES + "module"
T_ASSESSMENT = ADL_ACTIVITIES + "assessment"
T_INTERACTION = ADL_ACTIVITIES + "cmi.interaction"
T_QUESTION = ADL_ACTIVITIES + "question"
T_LESSON = ADL_ACTIVITIES + "lesson"
T_PROFILE = ADL_ACTIVITIES + "profile"

INTERACTION_TYPES = frozenset(
    {
        "true-false",
        "choice",
        "fill-in",
        "long-fill-in",
        "matching",
        "performance",
        "sequencing",
        "likert",
        "numeric",
        "other",
    }
)
# What a questionnaire item may be (a survey has no correct answers).
ITEM_INTERACTION_TYPES = frozenset({"likert", "choice", "numeric", "fill-in"})

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def is_slug(value: str) -> bool:
    """Ids that appear in our IRIs: letters, digits, dot, underscore, dash; at most 80."""
    return bool(_SLUG.match(value))


@dataclass(frozen=True)
class Iris:
    """Steun's own IRIs under the tool's base URL (no trailing slash)."""

    base_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def root(self) -> str:
        return f"{self.base_url}/xapi"

    def _join(self, *parts: str) -> str:
        return "/".join([self.root, *(quote(str(p), safe="") for p in parts)])

    # -- profile, verbs, types, extensions --
    @property
    def profile(self) -> str:
        return f"{self.root}/profile"

    @property
    def profile_version(self) -> str:
        return f"{self.root}/profile/v1"

    def verb(self, key: str) -> str:
        return self._join("verb", key)

    def activity_type(self, key: str) -> str:
        return self._join("activity-type", key)

    def extension(self, key: str) -> str:
        return self._join("ext", key)

    def template(self, key: str) -> str:
        return self._join("profile", "template", key)

    def pattern(self, key: str) -> str:
        return self._join("profile", "pattern", key)

    # -- activities --
    @property
    def tool(self) -> str:
        return self._join("tool")

    def study(self, study: str) -> str:
        return self._join("study", study)

    def wave(self, study: str, wave: str) -> str:
        return self._join("study", study, "wave", wave)

    def child_list(self, study: str) -> str:
        return self._join("study", study, "children")

    def instrument(self, instrument: str, version: str) -> str:
        return self._join("instrument", instrument, f"v{version}")

    def item(self, instrument: str, version: str, item: str) -> str:
        return self._join("instrument", instrument, f"v{version}", "item", item)

    def page(self, instrument: str, version: str, page: str) -> str:
        return self._join("instrument", instrument, f"v{version}", "page", page)

    def course(self, course: str) -> str:
        return self._join("course", course)

    def module(self, course: str, module: str) -> str:
        return self._join("course", course, "module", module)

    def exercise(self, course: str, module: str, exercise: str) -> str:
        return self._join("course", course, "module", module, "exercise", exercise)

    def parse(self, iri: str) -> dict[str, str]:
        """Split one of our activity IRIs into its parts (empty dict when it is not ours)."""
        prefix = self.root + "/"
        if not iri.startswith(prefix):
            return {}
        parts = [unquote(p) for p in iri[len(prefix) :].split("/")]
        out: dict[str, str] = {}
        if parts[0] == "instrument" and len(parts) >= 3:
            out = {"kind": "instrument", "instrument": parts[1], "version": parts[2][1:]}
            if len(parts) == 5:
                out["kind"] = parts[3]
                out[parts[3]] = parts[4]
        elif parts[0] == "study" and len(parts) >= 2:
            out = {"kind": "study", "study": parts[1]}
            if len(parts) == 4 and parts[2] == "wave":
                out.update(kind="wave", wave=parts[3])
            elif len(parts) == 3 and parts[2] == "children":
                out.update(kind="child-list")
        elif parts[0] == "course" and len(parts) >= 2:
            out = {"kind": "course", "course": parts[1]}
            if len(parts) >= 4 and parts[2] == "module":
                out.update(kind="module", module=parts[3])
            if len(parts) == 6 and parts[4] == "exercise":
                out.update(kind="exercise", exercise=parts[5])
        return out


# Our own verbs, where ADL has none.
OWN_VERBS = {
    "consented": ("gaf toestemming", "consented"),
    "withdrew": ("trok zich terug", "withdrew"),
    "added": ("voegde toe", "added"),
    "updated": ("wijzigde", "updated"),
}


def own_verb(iris: Iris, key: str) -> Verb:
    nl, en = OWN_VERBS[key]
    return Verb(key, iris.verb(key), nl, en)


# Our own activity types and extensions (described in the profile).
OWN_ACTIVITY_TYPES = {
    "study": ("Studie", "A research study"),
    "wave": ("Meetmoment", "One measurement wave of a study"),
    "child-list": ("Kinderlijst", "The children a teacher follows in a study, by code"),
    "questionnaire-page": ("Vragenlijstpagina", "One page of a questionnaire"),
    "tool": ("Steun-vragenlijsttool", "The Steun questionnaire tool (LTI)"),
}
OWN_EXTENSIONS = {
    "child-code": (
        "ContextExtension",
        "Code of the child the answers are about (never a name).",
    ),
    "attempt": ("ContextExtension", "Attempt number of the questionnaire for this child and wave."),
    "role": ("ContextExtension", "The launch role: teacher, learner or admin."),
    "course-context": ("ContextExtension", "Pseudonym of the LMS course the launch came from."),
    "consent-version": ("ContextExtension", "Version of the consent text agreed to."),
    "reasons": (
        "ContextExtension",
        "Why the teacher picked the child: the ids of the reason categories ticked when adding "
        "it (the study definition's reasons; never free text).",
    ),
    "provenance": (
        "ContextExtension",
        "How a course record reached the tool: package-key:<key id>, a course package keyed for "
        "one registered platform (the relay checked the key's token and the participant's consent).",
    ),
    "scores": ("ResultExtension", "Scale scores computed by the tool: {scale: number or null}."),
}
