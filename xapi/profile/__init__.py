"""Steun's xAPI Profile (JSON-LD, xAPI Profiles 1.0): concepts, statement templates and patterns.

Our own IRIs live under the tool's base URL, so the profile is built for a base URL; the tool serves
it at ``{base}/xapi/profile``. ``steun-profile.jsonld`` next to this file is the profile for
``https://steun.example.nl`` (a test keeps it in sync), for readers of the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xapi import vocab
from xapi.vocab import Iris

EXAMPLE_BASE_URL = "https://steun.example.nl"
EXAMPLE_FILE = Path(__file__).with_name("steun-profile.jsonld")
PROFILE_CONTEXT = "https://w3id.org/xapi/profiles/context"
GENERATED_AT = "2026-11-25T00:00:00Z"


def _common_rules(iris: Iris) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {"location": "$.id", "presence": "included"},
        {"location": "$.actor.account.homePage", "presence": "included", "all": [iris.base_url]},
        {"location": "$.actor.account.name", "presence": "included"},
        {"location": "$.context.language", "presence": "included"},
        {"location": "$.timestamp", "presence": "included"},
    ]
    for forbidden in ("mbox", "mbox_sha1sum", "openid", "name"):
        rules.append({"location": f"$.actor.{forbidden}", "presence": "excluded"})
    return rules


def _ext(iris: Iris, key: str) -> str:
    return f"$.context.extensions['{iris.extension(key)}']"


def _template_specs(iris: Iris) -> list[dict[str, Any]]:
    t_wave = iris.activity_type("wave")
    t_study = iris.activity_type("study")
    attempt_rules: list[dict[str, Any]] = [
        {"location": "$.context.registration", "presence": "included"},
        {"location": _ext(iris, "attempt"), "presence": "included"},
    ]
    course_verbs = {
        "course-started": vocab.INITIALIZED,
        "course-completed": vocab.COMPLETED,
        "course-suspended": vocab.SUSPENDED,
        "course-resumed": vocab.RESUMED,
        "course-terminated": vocab.TERMINATED,
    }
    specs: list[dict[str, Any]] = [
        {
            "key": "launched",
            "label": "Tool launched from the LMS",
            "verb": vocab.LAUNCHED.id,
            "objectActivityType": iris.activity_type("tool"),
            "rules": [],
        },
        {
            "key": "consented",
            "label": "Consent given to a study",
            "verb": iris.verb("consented"),
            "objectActivityType": t_study,
            "rules": [],
        },
        {
            "key": "consent-withdrawn",
            "label": "Consent withdrawn from a study",
            "verb": iris.verb("withdrew"),
            "objectActivityType": t_study,
            "rules": [],
        },
        {
            "key": "child-added",
            "label": "A child (by code) added to a teacher's list",
            "verb": iris.verb("added"),
            "objectActivityType": iris.activity_type("child-list"),
            "contextGroupingActivityType": [t_study],
            "rules": [{"location": _ext(iris, "child-code"), "presence": "included"}],
        },
        {
            "key": "child-reasons-updated",
            "label": "The reasons why a teacher picked a child changed",
            "verb": iris.verb("updated"),
            "objectActivityType": iris.activity_type("child-list"),
            "contextGroupingActivityType": [t_study],
            "rules": [
                {"location": _ext(iris, "child-code"), "presence": "included"},
                {"location": _ext(iris, "reasons"), "presence": "included"},
            ],
        },
        {
            "key": "child-withdrawn",
            "label": "A child (by code) withdrawn from a teacher's list",
            "verb": iris.verb("withdrew"),
            "objectActivityType": iris.activity_type("child-list"),
            "contextGroupingActivityType": [t_study],
            "rules": [{"location": _ext(iris, "child-code"), "presence": "included"}],
        },
        {
            "key": "item-answered",
            "label": "A questionnaire item answered",
            "verb": vocab.ANSWERED.id,
            "objectActivityType": vocab.T_INTERACTION,
            "contextParentActivityType": [vocab.T_ASSESSMENT],
            "contextGroupingActivityType": [t_wave, t_study],
            "rules": [
                *attempt_rules,
                {
                    "location": "$.object.definition.interactionType",
                    "presence": "included",
                    "any": sorted(vocab.ITEM_INTERACTION_TYPES),
                },
                {"location": "$.object.definition.correctResponsesPattern", "presence": "excluded"},
                {"location": "$.result.response", "presence": "included"},
            ],
        },
        {
            "key": "page-completed",
            "label": "A questionnaire page completed",
            "verb": vocab.PROGRESSED.id,
            "objectActivityType": iris.activity_type("questionnaire-page"),
            "contextParentActivityType": [vocab.T_ASSESSMENT],
            "contextGroupingActivityType": [t_wave, t_study],
            "rules": attempt_rules,
        },
        {
            "key": "questionnaire-completed",
            "label": "A questionnaire completed about one child",
            "verb": vocab.COMPLETED.id,
            "objectActivityType": vocab.T_ASSESSMENT,
            "contextGroupingActivityType": [t_wave, t_study],
            "rules": [
                *attempt_rules,
                {"location": "$.result.completion", "presence": "included", "all": [True]},
            ],
        },
        {
            "key": "wave-completed",
            "label": "All questionnaires of a wave completed",
            "verb": vocab.COMPLETED.id,
            "objectActivityType": t_wave,
            "contextGroupingActivityType": [t_study],
            "rules": [],
        },
        {
            "key": "module-started",
            "label": "A course module started",
            "verb": vocab.ATTEMPTED.id,
            "objectActivityType": vocab.T_MODULE,
            "contextParentActivityType": [vocab.T_COURSE],
            "rules": [],
        },
        {
            "key": "module-completed",
            "label": "A course module completed",
            "verb": vocab.COMPLETED.id,
            "objectActivityType": vocab.T_MODULE,
            "contextParentActivityType": [vocab.T_COURSE],
            "rules": [],
        },
        {
            "key": "exercise-answered",
            "label": "A course exercise answered",
            "verb": vocab.ANSWERED.id,
            "objectActivityType": vocab.T_INTERACTION,
            "contextParentActivityType": [vocab.T_MODULE],
            "contextGroupingActivityType": [vocab.T_COURSE],
            "rules": [{"location": "$.result.response", "presence": "included"}],
        },
    ]
    for key, verb in course_verbs.items():
        specs.append(
            {
                "key": key,
                "label": f"Course {key.split('-')[1]}",
                "verb": verb.id,
                "objectActivityType": vocab.T_COURSE,
                "rules": [],
            }
        )
    course_keys = {"module-started", "module-completed", "exercise-answered", *course_verbs}
    for spec in specs:  # the course's records carry how they reached the tool (decision 0012)
        if spec["key"] in course_keys:
            spec["rules"].append({"location": _ext(iris, "provenance"), "presence": "included"})
    return specs


def build_profile(base_url: str) -> dict[str, Any]:
    """The profile document for a tool at ``base_url``."""
    iris = Iris(base_url)
    version = iris.profile_version
    concepts: list[dict[str, Any]] = []
    for verb in vocab.ADL_VERB_SET:
        concepts.append(
            {
                "id": verb.id,
                "type": "Verb",
                "inScheme": version,
                "prefLabel": {"nl": verb.nl, "en": verb.en},
                "definition": {"en": f"ADL verb '{verb.en}', as used by the SCORM profile."},
                "exactMatch": [verb.id],
            }
        )
    for key, (nl, en) in vocab.OWN_VERBS.items():
        concepts.append(
            {
                "id": iris.verb(key),
                "type": "Verb",
                "inScheme": version,
                "prefLabel": {"nl": nl, "en": en},
                "definition": {"en": f"Steun: the actor {en} (no ADL verb says this)."},
            }
        )
    for key, (nl, en) in vocab.OWN_ACTIVITY_TYPES.items():
        concepts.append(
            {
                "id": iris.activity_type(key),
                "type": "ActivityType",
                "inScheme": version,
                "prefLabel": {"nl": nl, "en": en},
                "definition": {"en": en},
            }
        )
    for key, (kind, text) in vocab.OWN_EXTENSIONS.items():
        concepts.append(
            {
                "id": iris.extension(key),
                "type": kind,
                "inScheme": version,
                "prefLabel": {"en": key},
                "definition": {"en": text},
            }
        )
    templates = []
    for spec in _template_specs(iris):
        template: dict[str, Any] = {
            "id": iris.template(spec["key"]),
            "type": "StatementTemplate",
            "inScheme": version,
            "prefLabel": {"en": spec["label"]},
            "definition": {"en": spec["label"] + "."},
            "verb": spec["verb"],
            "objectActivityType": spec["objectActivityType"],
            "contextCategoryActivityType": [vocab.T_PROFILE],
        }
        for key in ("contextParentActivityType", "contextGroupingActivityType"):
            if key in spec:
                template[key] = spec[key]
        rules = _common_rules(iris) + spec["rules"]
        rules.append(
            {"location": "$.context.contextActivities.category[*].id", "any": [iris.profile]}
        )
        template["rules"] = rules
        templates.append(template)

    def t(key: str) -> str:
        return iris.template(key)

    def pattern(key: str, label: str, primary: bool, **shape: Any) -> dict[str, Any]:
        return {
            "id": iris.pattern(key),
            "type": "Pattern",
            "primary": primary,
            "inScheme": version,
            "prefLabel": {"en": label},
            "definition": {"en": label + "."},
            **shape,
        }

    course_keys = [
        "course-started",
        "module-started",
        "exercise-answered",
        "module-completed",
        "course-suspended",
        "course-resumed",
        "course-terminated",
        "course-completed",
    ]
    patterns = [
        pattern(
            "answer-or-page",
            "An item answered or a page completed",
            False,
            alternates=[t("item-answered"), t("page-completed")],
        ),
        pattern(
            "answers",
            "The answers of one attempt",
            False,
            zeroOrMore=iris.pattern("answer-or-page"),
        ),
        pattern(
            "questionnaire-attempt",
            "One questionnaire attempt about one child in one wave (one registration)",
            True,
            sequence=[iris.pattern("answers"), t("questionnaire-completed")],
        ),
        pattern(
            "course-step",
            "One step in the course",
            False,
            alternates=[t(k) for k in course_keys],
        ),
        pattern(
            "course-progress",
            "A teacher's progress through the course",
            True,
            oneOrMore=iris.pattern("course-step"),
        ),
        pattern(
            "study-step",
            "One step of taking part in the study",
            False,
            alternates=[
                t(k)
                for k in (
                    "launched",
                    "consented",
                    "consent-withdrawn",
                    "child-added",
                    "child-reasons-updated",
                    "child-withdrawn",
                    "wave-completed",
                )
            ],
        ),
        pattern(
            "study-participation",
            "Taking part in the study",
            True,
            oneOrMore=iris.pattern("study-step"),
        ),
    ]
    return {
        "@context": PROFILE_CONTEXT,
        "id": iris.profile,
        "type": "Profile",
        "conformsTo": "https://w3id.org/xapi/profiles#1.0",
        "prefLabel": {"nl": "Steun in het onderwijs", "en": "Steun (support in education)"},
        "definition": {
            "en": "Statements of the Steun questionnaire study and course: questionnaire answers "
            "about children (by code only) at study waves, and teachers' course progress. Actors "
            "are pseudonymous accounts; no names or e-mail addresses.",
            "nl": "Statements van de Steun-vragenlijststudie en -cursus. Actoren zijn pseudoniemen.",
        },
        "author": {"type": "Organization", "name": "Steun in het onderwijs"},
        "versions": [{"id": version, "generatedAtTime": GENERATED_AT}],
        "seeAlso": SCORM_SEE_ALSO,
        "concepts": concepts,
        "templates": templates,
        "patterns": patterns,
    }


SCORM_SEE_ALSO = vocab.SCORM_PROFILE
