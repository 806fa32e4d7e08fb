"""Plain functions behind ``steun lrs``: provisioning, credentials and withdrawal.

They take explicit parameters (a database URL, keys) so any caller can use them; the
``steun`` CLI builds those from its settings. :func:`delete_agent_over_http` is what export
and withdrawal code calls against a running LRS with an admin credential.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from xapi.lrs.exceptions import LrsError
from xapi.lrs.store import Store

TOOL_SCOPES = ("statements/write", "state")
RESEARCHER_SCOPES = ("all/read",)
ADMIN_SCOPES = ("admin",)


def open_store(database_url: str) -> Store:
    store = Store(database_url)
    store.create_schema()
    return store


def provision(
    database_url: str,
    *,
    tool: tuple[str, str],
    researcher: tuple[str, str],
    admin: tuple[str, str] | None = None,
) -> None:
    """Ensure the tool's (write + state), the researchers' (all/read) and, when given, the
    withdrawal's (admin: hard deletes only) credentials exist."""
    store = open_store(database_url)
    try:
        store.ensure_credential(tool[0], tool[1], TOOL_SCOPES, "Steun tool and course relay")
        store.ensure_credential(
            researcher[0], researcher[1], RESEARCHER_SCOPES, "Steun researchers (read-only)"
        )
        if admin is not None:
            store.ensure_credential(
                admin[0], admin[1], ADMIN_SCOPES, "Steun withdrawal (hard deletes)"
            )
    finally:
        store.dispose()


def add_credential(database_url: str, scopes: list[str], label: str) -> tuple[str, str]:
    store = open_store(database_url)
    try:
        return store.add_credential(scopes, label)
    finally:
        store.dispose()


def list_credentials(database_url: str) -> list[dict[str, Any]]:
    store = open_store(database_url)
    try:
        return store.list_credentials()
    finally:
        store.dispose()


def revoke_credential(database_url: str, key: str) -> None:
    store = open_store(database_url)
    try:
        store.revoke_credential(key)
    finally:
        store.dispose()


def delete_agent(database_url: str, agent: dict[str, Any], *, by: str = "cli") -> dict[str, int]:
    """Hard-delete one agent's statements and documents directly in the store."""
    store = open_store(database_url)
    try:
        return store.delete_agent(agent, by=by)
    finally:
        store.dispose()


def delete_statements(
    database_url: str, statement_ids: list[str], *, by: str = "cli"
) -> dict[str, int]:
    """Hard-delete statements by id (and what refers to them) directly in the store."""
    store = open_store(database_url)
    try:
        return store.delete_statements(statement_ids, by=by)
    finally:
        store.dispose()


def delete_agent_over_http(
    endpoint: str, key: str, secret: str, agent: dict[str, Any], *, timeout: float = 30.0
) -> dict[str, int]:
    """Ask a running Steun LRS (admin credential) to delete one agent's data."""
    response = requests.delete(
        endpoint.rstrip("/") + "/extensions/agent",
        params={"agent": json.dumps(agent)},
        auth=(key, secret),
        headers={"X-Experience-API-Version": "1.0.3"},
        timeout=timeout,
    )
    if response.status_code != 200:
        raise LrsError(f"The LRS refused the deletion ({response.status_code}): {response.text}")
    counts: dict[str, int] = response.json()
    return counts
