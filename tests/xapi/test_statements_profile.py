"""Every statement Steun emits validates and conforms to a template of Steun's xAPI Profile."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from xapi import vocab
from xapi.exceptions import StatementInvalid
from xapi.profile import EXAMPLE_BASE_URL, EXAMPLE_FILE, build_profile
from xapi.profile.conformance import explain, matching_templates, resolve
from xapi.statements import ALL_COURSE_EVENTS, Choice, ItemDefinition, StatementFactory
from xapi.validate import validate_statement

BASE = "https://steun.example.nl"
AT = datetime(2027, 3, 16, 9, 12, tzinfo=UTC)
F = StatementFactory(BASE)
ATTEMPT = {
    "study": "steun",
    "wave": "t1",
    "instrument": "demo-relatie",
    "instrument_version": "1",
    "child_code": "B",
    "attempt": 1,
}
SCALE = (Choice("1", "helemaal niet"), Choice("5", "helemaal wel"))


def every_statement() -> list[tuple[str, dict[str, Any]]]:
    out = [
        ("launched", F.launched("p-1", AT, target="wave:t1", context="c-1", role="teacher")),
        ("consented", F.consent("p-1", AT, study="steun", given=True, consent_version="2")),
        (
            "consent-withdrawn",
            F.consent("p-1", AT, study="steun", given=False, consent_version=None),
        ),
        (
            "child-added",
            F.child("p-1", AT, study="steun", child_code="B", added=True, reasons=["loss"]),
        ),
        (
            "child-reasons-updated",
            F.child_reasons("p-1", AT, study="steun", child_code="B", reasons=["loss", "other"]),
        ),
        ("child-withdrawn", F.child("p-1", AT, study="steun", child_code="B", added=False)),
        ("page-completed", F.page_completed("p-1", AT, page="2", **ATTEMPT)),
        (
            "questionnaire-completed",
            F.questionnaire_completed(
                "p-1", AT, scores={"closeness": 4.2, "conflict": None}, **ATTEMPT
            ),
        ),
        ("wave-completed", F.wave_completed("p-1", AT, study="steun", wave="t1")),
    ]
    for itype, choices in (
        ("likert", SCALE),
        ("choice", (Choice("a", "ja"), Choice("b", "nee"))),
        ("numeric", ()),
        ("fill-in", ()),
    ):
        definition = ItemDefinition(itype, "Item", choices)
        out.append(
            (
                "item-answered",
                F.item_answered(
                    "p-1", AT, item="q07", response="5", definition=definition, **ATTEMPT
                ),
            )
        )
    for event in sorted(ALL_COURSE_EVENTS):
        st = F.course_event(
            "p-1",
            AT,
            course="steun",
            event=event,
            module="m1",
            exercise="e1",
            response="a",
            duration="PT3M",
            provenance="package-key:0123456789abcdef",  # as the relay adds (decision 0012)
        )
        expected = event.replace("_", "-")
        out.append((expected, st))
    return out


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    return build_profile(BASE)


@pytest.mark.parametrize(
    ("template", "statement"), every_statement(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_every_statement_validates_and_matches_its_template(
    profile: dict[str, Any], template: str, statement: dict[str, Any]
) -> None:
    validate_statement(statement)
    matches = matching_templates(profile, statement)
    assert f"{BASE}/xapi/profile/template/{template}" in matches, explain(profile, statement)


def test_statement_rules_of_the_issue() -> None:
    st = F.item_answered(
        "p-1",
        AT,
        item="q07",
        response=4,
        definition=ItemDefinition("likert", None, SCALE),
        **ATTEMPT,
    )
    assert st["actor"] == {"objectType": "Agent", "account": {"homePage": BASE, "name": "p-1"}}
    assert "correctResponsesPattern" not in st["object"]["definition"]
    assert st["object"]["definition"]["scale"][0] == {
        "id": "1",
        "description": {"nl-NL": "helemaal niet"},
    }
    ctx = st["context"]
    assert ctx["language"] == "nl-NL"
    assert [a["id"] for a in ctx["contextActivities"]["grouping"]] == [
        f"{BASE}/xapi/study/steun/wave/t1",
        f"{BASE}/xapi/study/steun",
    ]
    assert ctx["contextActivities"]["category"][0]["id"] == f"{BASE}/xapi/profile"
    assert ctx["extensions"][f"{BASE}/xapi/ext/child-code"] == "B"
    # the same attempt shares a registration; another attempt or child does not
    other = F.item_answered("p-1", AT, item="q08", response=4, **ATTEMPT)
    assert other["context"]["registration"] == ctx["registration"]
    assert (
        F.item_answered("p-1", AT, item="q07", response=4, **{**ATTEMPT, "attempt": 2})["context"][
            "registration"
        ]
        != ctx["registration"]
    )
    # idempotent ids
    again = F.item_answered(
        "p-1",
        AT,
        item="q07",
        response=4,
        definition=ItemDefinition("likert", None, SCALE),
        **ATTEMPT,
    )
    assert again["id"] == st["id"]
    assert F.item_answered("p-1", AT, item="q07", response=3, **ATTEMPT)["id"] != st["id"]


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda s: s["actor"].update(mbox="mailto:a@b.nl"), "actor.mbox"),
        (lambda s: s["actor"].update(name="Anna"), "actor.name"),
        (lambda s: s["actor"].update(mbox_sha1sum="ab" * 20), "actor.mbox_sha1sum"),
        (
            lambda s: s["object"]["definition"].update(correctResponsesPattern=[]),
            "correctResponsesPattern",
        ),
        (lambda s: s["object"]["definition"].update(interactionType="slider"), "interactionType"),
        (lambda s: s.update(id="not-a-uuid"), "id"),
        (lambda s: s.update(timestamp="2027-03-16T09:12:00"), "timestamp"),
        (lambda s: s["context"].update(registration="x"), "context.registration"),
        (lambda s: s["verb"].update(id="answered"), "verb.id"),
        (lambda s: s["result"].update(response=4), "result.response"),
    ],
)
def test_validation_names_what_is_wrong(mutate: Any, where: str) -> None:
    st = F.item_answered("p-1", AT, item="q07", response="4", **ATTEMPT)
    mutate(st)
    with pytest.raises(StatementInvalid, match=where):
        validate_statement(st)


def test_voiding_statement_is_valid() -> None:
    validate_statement(
        F.voiding("p-1", AT, F.wave_completed("p-1", AT, study="s", wave="t1")["id"])
    )


def test_profile_file_in_repo_is_in_sync() -> None:
    assert json.loads(EXAMPLE_FILE.read_text()) == build_profile(EXAMPLE_BASE_URL)


def test_profile_is_well_formed(profile: dict[str, Any]) -> None:
    ids = (
        [c["id"] for c in profile["concepts"]]
        + [t["id"] for t in profile["templates"]]
        + [p["id"] for p in profile["patterns"]]
    )
    assert len(ids) == len(set(ids))
    known = {t["id"] for t in profile["templates"]} | {p["id"] for p in profile["patterns"]}
    for pattern in profile["patterns"]:
        for key in ("sequence", "alternates"):
            for ref in pattern.get(key, []):
                assert ref in known
        for key in ("zeroOrMore", "oneOrMore", "optional"):
            if key in pattern:
                assert pattern[key] in known
    verbs = {c["id"] for c in profile["concepts"] if c["type"] == "Verb"}
    for template in profile["templates"]:
        assert template["verb"] in verbs
        for rule in template["rules"]:
            resolve({}, rule["location"])  # every location parses
    assert vocab.ANSWERED.id in verbs


def test_iris_parse_back() -> None:
    iris = F.iris
    assert iris.parse(iris.item("demo relatie", "2", "q/1")) == {
        "kind": "item",
        "instrument": "demo relatie",
        "version": "2",
        "item": "q/1",
    }
    assert iris.parse(iris.exercise("c", "m", "e"))["kind"] == "exercise"
    assert iris.parse("https://elsewhere.example/xapi/course/c") == {}


def test_a_course_statement_without_provenance_does_not_match() -> None:
    """Records from before decision 0012 (no package key) are told apart by the profile too."""
    profile = build_profile(EXAMPLE_BASE_URL)
    st = StatementFactory(EXAMPLE_BASE_URL).course_event(
        "p-1", AT, course="steun", event="course_completed"
    )
    assert not matching_templates(profile, st)
