"""Typed builders of the statements Steun emits (xAPI 1.0.3), as plain JSON-ready dicts.

Rules every builder keeps:
- the actor is ``account {homePage: base URL, name: pseudonym}``; never mbox, mbox_sha1sum or a name;
- a child appears only as its code, in the ``child-code`` context extension;
- the statement id is uuid5 of a natural key (what happened, to what, by whom, when), so sending the
  same statement again is idempotent;
- ``registration`` is one questionnaire attempt (uuid5 of actor, study, wave, instrument, child, attempt);
- wave and study are in ``contextActivities.grouping``, the profile in ``category``, and
  ``context.language`` is set.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from xapi import vocab
from xapi.vocab import Iris, Verb

Statement = dict[str, Any]

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://w3id.org/steun/xapi/statement")


def natural_id(*parts: object) -> str:
    """A stable UUID from the parts of a natural key."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def iso(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Choice:
    """One scale point or choice of an item: its id (the stored response) and its label."""

    id: str
    label: str


@dataclass(frozen=True)
class ItemDefinition:
    """What the statement says about a questionnaire item (no correct answer: it is a survey)."""

    interaction_type: str = "likert"
    text: str | None = None
    choices: Sequence[Choice] = ()


class StatementFactory:
    """Builds statements for one tool (base URL) and language."""

    def __init__(self, base_url: str, language: str = vocab.LANGUAGE) -> None:
        self.iris = Iris(base_url)
        self.language = language

    # -- parts --
    def actor(self, pseudonym: str) -> dict[str, Any]:
        return {
            "objectType": "Agent",
            "account": {"homePage": self.iris.base_url, "name": pseudonym},
        }

    def _activity(
        self, iri: str, type_: str, name: str | None = None, **definition: Any
    ) -> dict[str, Any]:
        d: dict[str, Any] = {"type": type_}
        if name:
            d["name"] = {self.language: name}
        d.update(definition)
        return {"objectType": "Activity", "id": iri, "definition": d}

    def _ref(self, iri: str, type_: str) -> dict[str, Any]:
        return {"objectType": "Activity", "id": iri, "definition": {"type": type_}}

    def _category(self) -> list[dict[str, Any]]:
        return [self._ref(self.iris.profile, vocab.T_PROFILE)]

    def _study_grouping(self, study: str, wave: str | None = None) -> list[dict[str, Any]]:
        refs = []
        if wave is not None:
            refs.append(self._ref(self.iris.wave(study, wave), self.iris.activity_type("wave")))
        refs.append(self._ref(self.iris.study(study), self.iris.activity_type("study")))
        return refs

    def registration(
        self,
        actor: str,
        study: str,
        wave: str,
        instrument: str,
        child_code: str | None,
        attempt: object,
    ) -> str:
        return natural_id("registration", actor, study, wave, instrument, child_code or "", attempt)

    def _statement(
        self,
        sid: str,
        actor: str,
        verb: Verb,
        obj: dict[str, Any],
        at: datetime,
        *,
        context: dict[str, Any],
        result: dict[str, Any] | None = None,
    ) -> Statement:
        ctx: dict[str, Any] = {"language": self.language, **context}
        ctx.setdefault("contextActivities", {})["category"] = self._category()
        st: Statement = {
            "id": sid,
            "actor": self.actor(actor),
            "verb": verb.as_json(),
            "object": obj,
            "context": ctx,
            "timestamp": iso(at),
        }
        if result is not None:
            st["result"] = result
        return st

    def _ext(self, **values: object) -> dict[str, object]:
        return {
            self.iris.extension(k.replace("_", "-")): v for k, v in values.items() if v is not None
        }

    # -- the questionnaire tool --
    def launched(
        self, actor: str, at: datetime, *, target: str | None, context: str | None, role: str | None
    ) -> Statement:
        obj = self._activity(self.iris.tool, self.iris.activity_type("tool"), "Steun-vragenlijsten")
        ctx: dict[str, Any] = {"contextActivities": {}}
        ext = self._ext(course_context=context, role=role)
        if ext:
            ctx["extensions"] = ext
        sid = natural_id("launched", actor, target or "", context or "", iso(at))
        return self._statement(sid, actor, vocab.LAUNCHED, obj, at, context=ctx)

    def consent(
        self, actor: str, at: datetime, *, study: str, given: bool, consent_version: str | None
    ) -> Statement:
        verb = vocab.own_verb(self.iris, "consented" if given else "withdrew")
        obj = self._activity(self.iris.study(study), self.iris.activity_type("study"))
        ctx: dict[str, Any] = {"contextActivities": {}}
        ext = self._ext(consent_version=consent_version)
        if ext:
            ctx["extensions"] = ext
        sid = natural_id(verb.key, actor, study, consent_version or "", iso(at))
        return self._statement(sid, actor, verb, obj, at, context=ctx)

    def child(
        self,
        actor: str,
        at: datetime,
        *,
        study: str,
        child_code: str,
        added: bool,
        reasons: Sequence[str] | None = None,
    ) -> Statement:
        """A child added to (with the ids of the reasons ticked) or withdrawn from a list."""
        verb = vocab.own_verb(self.iris, "added" if added else "withdrew")
        obj = self._activity(self.iris.child_list(study), self.iris.activity_type("child-list"))
        ext = self._ext(child_code=child_code)
        if added and reasons is not None:
            ext[self.iris.extension("reasons")] = [str(r) for r in reasons]
        ctx = {
            "contextActivities": {"grouping": self._study_grouping(study)},
            "extensions": ext,
        }
        sid = natural_id(verb.key, "child", actor, study, child_code, iso(at))
        return self._statement(sid, actor, verb, obj, at, context=ctx)

    def child_reasons(
        self, actor: str, at: datetime, *, study: str, child_code: str, reasons: Sequence[str]
    ) -> Statement:
        """The teacher changed why they picked a child (the reason category ids ticked now)."""
        verb = vocab.own_verb(self.iris, "updated")
        obj = self._activity(self.iris.child_list(study), self.iris.activity_type("child-list"))
        ext = self._ext(child_code=child_code)
        ext[self.iris.extension("reasons")] = [str(r) for r in reasons]
        ctx = {"contextActivities": {"grouping": self._study_grouping(study)}, "extensions": ext}
        sid = natural_id(verb.key, "child", actor, study, child_code, iso(at))
        return self._statement(sid, actor, verb, obj, at, context=ctx)

    def _attempt_context(
        self,
        actor: str,
        study: str,
        wave: str,
        instrument: str,
        version: str,
        child_code: str | None,
        attempt: object,
        parent: bool,
    ) -> dict[str, Any]:
        activities: dict[str, Any] = {"grouping": self._study_grouping(study, wave)}
        if parent:
            activities["parent"] = [
                self._ref(self.iris.instrument(instrument, version), vocab.T_ASSESSMENT)
            ]
        return {
            "registration": self.registration(actor, study, wave, instrument, child_code, attempt),
            "contextActivities": activities,
            "extensions": self._ext(child_code=child_code, attempt=_int_or_str(attempt)),
        }

    def item_answered(
        self,
        actor: str,
        at: datetime,
        *,
        study: str,
        wave: str,
        instrument: str,
        instrument_version: str,
        item: str,
        response: object,
        child_code: str | None,
        attempt: object,
        definition: ItemDefinition | None = None,
    ) -> Statement:
        definition = definition or ItemDefinition()
        extra: dict[str, Any] = {"interactionType": definition.interaction_type}
        entries = [
            {"id": c.id, "description": {self.language: c.label}} for c in definition.choices
        ]
        if entries and definition.interaction_type == "likert":
            extra["scale"] = entries
        elif entries and definition.interaction_type == "choice":
            extra["choices"] = entries
        obj = self._activity(
            self.iris.item(instrument, instrument_version, item),
            vocab.T_INTERACTION,
            definition.text,
            **extra,
        )
        ctx = self._attempt_context(
            actor, study, wave, instrument, instrument_version, child_code, attempt, parent=True
        )
        text = "" if response is None else str(response)
        sid = natural_id(
            "answered",
            actor,
            study,
            wave,
            instrument,
            child_code or "",
            attempt,
            item,
            text,
            iso(at),
        )
        return self._statement(
            sid, actor, vocab.ANSWERED, obj, at, context=ctx, result={"response": text}
        )

    def page_completed(
        self,
        actor: str,
        at: datetime,
        *,
        study: str,
        wave: str,
        instrument: str,
        instrument_version: str,
        page: str,
        child_code: str | None,
        attempt: object,
    ) -> Statement:
        obj = self._activity(
            self.iris.page(instrument, instrument_version, page),
            self.iris.activity_type("questionnaire-page"),
        )
        ctx = self._attempt_context(
            actor, study, wave, instrument, instrument_version, child_code, attempt, parent=True
        )
        sid = natural_id("page", actor, study, wave, instrument, child_code or "", attempt, page)
        return self._statement(
            sid, actor, vocab.PROGRESSED, obj, at, context=ctx, result={"completion": True}
        )

    def questionnaire_completed(
        self,
        actor: str,
        at: datetime,
        *,
        study: str,
        wave: str,
        instrument: str,
        instrument_version: str,
        child_code: str | None,
        attempt: object,
        scores: Mapping[str, float | int | None] | None = None,
        duration: str | None = None,
    ) -> Statement:
        obj = self._activity(
            self.iris.instrument(instrument, instrument_version), vocab.T_ASSESSMENT, instrument
        )
        ctx = self._attempt_context(
            actor, study, wave, instrument, instrument_version, child_code, attempt, parent=False
        )
        result: dict[str, Any] = {"completion": True}
        if duration:
            result["duration"] = duration
        if scores:
            result["extensions"] = self._ext(scores=dict(scores))
        sid = natural_id("completed", actor, study, wave, instrument, child_code or "", attempt)
        return self._statement(sid, actor, vocab.COMPLETED, obj, at, context=ctx, result=result)

    def wave_completed(self, actor: str, at: datetime, *, study: str, wave: str) -> Statement:
        obj = self._activity(self.iris.wave(study, wave), self.iris.activity_type("wave"))
        ctx = {"contextActivities": {"grouping": self._study_grouping(study)}}
        sid = natural_id("wave-completed", actor, study, wave)
        return self._statement(
            sid, actor, vocab.COMPLETED, obj, at, context=ctx, result={"completion": True}
        )

    # -- the course package (through the relay) --
    def course_event(
        self,
        actor: str,
        at: datetime,
        *,
        course: str,
        event: str,
        module: str | None = None,
        exercise: str | None = None,
        response: str | None = None,
        duration: str | None = None,
        session: str | None = None,
        provenance: str | None = None,
    ) -> Statement:
        """module_started / module_completed / exercise_answered / course_started /
        course_completed / course_suspended / course_resumed / course_terminated.

        ``provenance`` says how the record reached the tool (``package-key:<kid>``: a course
        package keyed for one platform, decision 0012); it goes into a context extension."""
        course_ref = self._ref(self.iris.course(course), vocab.T_COURSE)
        activities: dict[str, Any] = {}
        result: dict[str, Any] | None = None
        if event in COURSE_MODULE_EVENTS:
            if not module:
                raise ValueError(f"{event} needs a module")
            obj = self._activity(self.iris.module(course, module), vocab.T_MODULE)
            activities["parent"] = [course_ref]
            verb = vocab.ATTEMPTED if event == "module_started" else vocab.COMPLETED
            if event == "module_completed":
                result = {"completion": True}
        elif event == "exercise_answered":
            if not module or not exercise:
                raise ValueError("exercise_answered needs a module and an exercise")
            obj = self._activity(
                self.iris.exercise(course, module, exercise),
                vocab.T_INTERACTION,
                interactionType="other",
            )
            activities["parent"] = [self._ref(self.iris.module(course, module), vocab.T_MODULE)]
            activities["grouping"] = [course_ref]
            verb = vocab.ANSWERED
            result = {"response": response or ""}
        elif event in COURSE_EVENTS:
            obj = self._activity(self.iris.course(course), vocab.T_COURSE)
            verb = COURSE_EVENTS[event]
            if event == "course_completed":
                result = {"completion": True}
        else:
            raise ValueError(f"unknown course event {event!r}")
        if duration:
            result = {**(result or {}), "duration": duration}
        ctx: dict[str, Any] = {"contextActivities": activities}
        if session:
            ctx["registration"] = natural_id("course-session", actor, course, session)
        if provenance:
            ctx["extensions"] = self._ext(provenance=provenance)
        sid = natural_id(
            "course", actor, course, event, module or "", exercise or "", response or "", iso(at)
        )
        return self._statement(sid, actor, verb, obj, at, context=ctx, result=result)

    def voiding(self, actor: str, at: datetime, target_id: str) -> Statement:
        """Void one statement (the LRS then hides it from ordinary queries)."""
        return {
            "id": natural_id("voided", target_id),
            "actor": self.actor(actor),
            "verb": vocab.VOIDED.as_json(),
            "object": {"objectType": "StatementRef", "id": target_id},
            "timestamp": iso(at),
        }


COURSE_MODULE_EVENTS = frozenset({"module_started", "module_completed"})
COURSE_EVENTS: dict[str, Verb] = {
    "course_started": vocab.INITIALIZED,
    "course_completed": vocab.COMPLETED,
    "course_suspended": vocab.SUSPENDED,
    "course_resumed": vocab.RESUMED,
    "course_terminated": vocab.TERMINATED,
}
ALL_COURSE_EVENTS = frozenset({*COURSE_MODULE_EVENTS, "exercise_answered", *COURSE_EVENTS})


def _int_or_str(value: object) -> object:
    if isinstance(value, int) or value is None:
        return value
    text = str(value)
    return int(text) if text.isdigit() else text
