"""From domain events to xAPI statements in the outbox, and the LRS settings the tool uses.

:func:`handle_event` is registered on the app (``init_app``) and runs inside the transaction of the
fact it records (see ``steun_lti/records/events.py``): the statements it queues commit with the fact.

Extra, optional keys an ``item_answered`` event may carry to describe the item in the statement:
``interaction_type`` (likert, choice, numeric, fill-in), ``item_text`` and ``choices`` (a list of
``[id, label]`` pairs or ``{"id", "label"}`` dicts: the scale of a likert item).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from steun_lti.plumbing.secrets import load_or_create_secret
from steun_lti.plumbing.settings import Settings
from steun_lti.records.events import Event, add_handler
from steun_lti.records.outbox import drop_queued, enqueue
from xapi.client import LrsClient
from xapi.statements import Choice, ItemDefinition, Statement, StatementFactory

log = logging.getLogger("steun.records")


# -- settings glue --------------------------------------------------------------------------


def tool_credentials(settings: Settings) -> tuple[str, str]:
    """The write credential: from the settings, else the one the embedded LRS provisions."""
    if settings.lrs.key:
        secret = settings.lrs.secret.get_secret_value() if settings.lrs.secret else ""
        return settings.lrs.key, secret
    return (
        load_or_create_secret(settings.data_dir, "lrs_tool_key", 12),
        load_or_create_secret(settings.data_dir, "lrs_tool_secret"),
    )


def researcher_credentials(settings: Settings) -> tuple[str, str]:
    """The read credential for exports: the settings' key if set, else the embedded LRS's."""
    if settings.lrs.key:
        return tool_credentials(settings)
    return (
        load_or_create_secret(settings.data_dir, "lrs_researcher_key", 12),
        load_or_create_secret(settings.data_dir, "lrs_researcher_secret"),
    )


def admin_credentials(settings: Settings) -> tuple[str, str] | None:
    """The credential for hard deletes (withdrawal): the settings' admin key, else the one the
    embedded LRS provisions in the data directory when it exists; None otherwise."""
    if settings.lrs.admin_key:
        secret = settings.lrs.admin_secret.get_secret_value() if settings.lrs.admin_secret else ""
        return settings.lrs.admin_key, secret
    secrets_dir = settings.data_dir / "secrets"
    if settings.lrs.key or not (secrets_dir / "lrs_admin_key").is_file():
        return None  # never create a credential the LRS does not know
    return (
        load_or_create_secret(settings.data_dir, "lrs_admin_key", 12),
        load_or_create_secret(settings.data_dir, "lrs_admin_secret"),
    )


def make_admin_client(settings: Settings) -> LrsClient | None:
    creds = admin_credentials(settings)
    if creds is None:
        return None
    return LrsClient(settings.lrs.endpoint, *creds, timeout=settings.lrs.timeout)


def make_client(settings: Settings, *, researcher: bool = False) -> LrsClient:
    key, secret = researcher_credentials(settings) if researcher else tool_credentials(settings)
    return LrsClient(settings.lrs.endpoint, key, secret, timeout=settings.lrs.timeout)


def client_factory(settings: Settings) -> Callable[[], LrsClient]:
    return partial(make_client, settings)


def hmac_key(settings: Settings) -> str:
    if settings.hmac_key:
        return settings.hmac_key.get_secret_value()
    return load_or_create_secret(settings.data_dir, "hmac_key")


def statement_factory(settings: Settings) -> StatementFactory:
    return _factory(settings.base_url)


@lru_cache(maxsize=8)
def _factory(base_url: str) -> StatementFactory:
    return StatementFactory(base_url)


# -- events -> statements -------------------------------------------------------------------


def _choices(raw: Any) -> tuple[Choice, ...]:
    out = []
    for entry in raw or ():
        if isinstance(entry, dict):
            out.append(Choice(str(entry["id"]), str(entry.get("label", entry["id"]))))
        else:
            out.append(Choice(str(entry[0]), str(entry[1])))
    return tuple(out)


def statements_for(factory: StatementFactory, event: Event) -> list[Statement]:
    """The statements that record one event (none for kinds that have no statement)."""
    d = event.data
    a, at = event.actor, event.at
    kind = event.kind
    if kind == "launched":
        return [
            factory.launched(
                a, at, target=d.get("target"), context=d.get("context"), role=d.get("role")
            )
        ]
    if kind in ("consent_given", "consent_withdrawn"):
        return [
            factory.consent(
                a,
                at,
                study=d["study"],
                given=kind == "consent_given",
                consent_version=d.get("consent_version"),
            )
        ]
    if kind in ("child_added", "child_withdrawn"):
        return [
            factory.child(
                a,
                at,
                study=d["study"],
                child_code=d["child_code"],
                added=kind == "child_added",
                reasons=d.get("reasons"),
            )
        ]
    if kind == "child_reasons_changed":
        return [
            factory.child_reasons(
                a, at, study=d["study"], child_code=d["child_code"], reasons=d["reasons"]
            )
        ]
    attempt_keys = {
        "study": d.get("study"),
        "wave": d.get("wave"),
        "instrument": d.get("instrument"),
        "instrument_version": str(d.get("instrument_version", "1")),
        "child_code": d.get("child_code"),
        "attempt": d.get("attempt", 1),
    }
    if kind == "item_answered":
        definition = ItemDefinition(
            interaction_type=d.get("interaction_type", "likert"),
            text=d.get("item_text"),
            choices=_choices(d.get("choices")),
        )
        return [
            factory.item_answered(
                a,
                at,
                item=str(d["item"]),
                response=d.get("response"),
                definition=definition,
                **attempt_keys,
            )
        ]
    if kind == "page_completed":
        return [factory.page_completed(a, at, page=str(d["page"]), **attempt_keys)]
    if kind == "questionnaire_completed":
        return [
            factory.questionnaire_completed(
                a, at, scores=d.get("scores"), duration=d.get("duration"), **attempt_keys
            )
        ]
    if kind == "wave_completed":
        return [factory.wave_completed(a, at, study=d["study"], wave=d["wave"])]
    return []


def handle_event(session: Session, event: Event) -> None:
    """The event handler: queue the event's statements in the caller's transaction."""
    settings: Settings = current_app.config["STEUN_SETTINGS"]
    factory = statement_factory(settings)
    try:
        statements = statements_for(factory, event)
    except (KeyError, ValueError, TypeError) as exc:
        # A malformed event is our bug; the fact must still be saved. Log without content.
        log.error("Event %s could not become a statement: %s", event.kind, type(exc).__name__)
        return
    if event.kind == "consent_withdrawn":
        # A withdrawal also stops what is still queued about this person (issue 14).
        dropped = drop_queued(session, event.actor)
        if dropped:
            log.info("Consent withdrawn: %d queued statement(s) dropped", dropped)
    for statement in statements:
        enqueue(session, statement, actor=event.actor, child_code=event.data.get("child_code"))


def init_app(app: Flask) -> None:
    add_handler(app, handle_event)
