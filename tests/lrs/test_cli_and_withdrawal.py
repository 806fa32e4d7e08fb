"""`steun lrs` credentials and withdrawal: scopes managed from the CLI take effect at once in
every worker; an agent's data can be deleted for good (admin only)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

from steun_lti.cli import main
from steun_lti.plumbing.settings import Settings
from tests.lrs.conftest import Lrs, statement, unique_iri
from xapi.lrs.admin import delete_agent_over_http
from xapi.lrs.exceptions import LrsError


def run(lrs: Lrs, *args: str) -> Any:
    settings = Settings(data_dir=lrs.data_dir, lrs_server={"database_url": lrs.database_url})  # type: ignore[arg-type]
    return CliRunner().invoke(main, ["lrs", *args], obj={"settings": settings})


def test_credentials_add_list_revoke(lrs: Lrs) -> None:
    """Communication 4: credentials made with `steun lrs credentials add` authenticate; `revoke`
    refuses them from the next request on, in every worker."""
    result = run(lrs, "credentials", "add", "--scope", "statements/read", "--label", "analyst")
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    creds = (lines["key"].strip(), lines["secret"].strip())
    for _ in range(4):  # several requests reach several workers
        assert lrs.get(params={"limit": 1}, auth=creds).status_code == 200
    listed = json.loads(run(lrs, "credentials", "list", "--json").stdout)
    mine = next(c for c in listed if c["key"] == creds[0])
    assert mine["scopes"] == ["statements/read"] and not mine["revoked"]
    assert creds[1] not in run(lrs, "credentials", "list").output
    assert run(lrs, "credentials", "revoke", creds[0]).exit_code == 0
    for _ in range(4):
        assert lrs.get(params={"limit": 1}, auth=creds).status_code == 401


def test_cli_errors_are_clear(lrs: Lrs) -> None:
    """Bad input on the CLI: `Error: ...` and exit code 2, no stack trace."""
    bad_scope = run(lrs, "credentials", "add", "--scope", "everything")
    assert bad_scope.exit_code == 2 and "Error: Unknown scope everything" in bad_scope.output
    unknown = run(lrs, "credentials", "revoke", "no-such-key")
    assert unknown.exit_code == 2 and "Error:" in unknown.output
    bad_agent = run(lrs, "delete-agent", "{not json", "--yes")
    assert bad_agent.exit_code == 2 and "Error:" in bad_agent.output


def pseudonym() -> dict[str, Any]:
    return {
        "objectType": "Agent",
        "account": {"homePage": "https://steun.example.nl", "name": uuid.uuid4().hex},
    }


def test_delete_agent_removes_statements_and_documents(lrs: Lrs) -> None:
    """Withdrawal: every statement about the agent (actor, object, instructor, group member,
    SubStatement, statements referring to them, voided ones) and its State and Agent Profile
    documents are deleted; others stay."""
    who, bystander = pseudonym(), pseudonym()
    activity = unique_iri()
    ids = lrs.post(
        [
            statement(actor=who, object={"id": activity}),
            statement(actor=bystander, object=who),
            statement(actor=bystander, context={"instructor": who}),
            statement(actor={"objectType": "Group", "member": [who, bystander]}),
            statement(
                actor=bystander,
                object={
                    "objectType": "SubStatement",
                    "actor": who,
                    "verb": {"id": "http://example.org/v"},
                    "object": {"id": activity},
                },
            ),
        ]
    ).json()
    lrs.post(
        statement(
            verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
            actor=bystander,
            object={"objectType": "StatementRef", "id": ids[0]},
        )
    )
    kept = lrs.post(statement(actor=bystander, object={"id": activity})).json()[0]
    state = {"activityId": activity, "agent": who, "stateId": "s"}
    lrs.request("PUT", "activities/state", params=state, json_body={"answers": 3})
    lrs.request(
        "PUT",
        "agents/profile",
        params={"agent": who, "profileId": "p"},
        json_body={},
        headers={"If-None-Match": "*"},
    )

    with pytest.raises(LrsError):
        delete_agent_over_http(lrs.endpoint, *lrs.creds["all"], who)  # 'all' is not admin
    counts = delete_agent_over_http(lrs.endpoint, *lrs.creds["admin"], who)
    assert counts == {"statements": 6, "documents": 2}

    for sid in ids:
        assert lrs.get(params={"statementId": sid}).status_code == 404
        assert lrs.get(params={"voidedStatementId": sid}).status_code == 404
    assert lrs.get(params={"agent": who, "related_agents": "true"}).json()["statements"] == []
    assert lrs.get("activities/state", params=state).status_code == 404
    assert lrs.get(params={"statementId": kept}).status_code == 200


def test_delete_agent_from_the_cli(lrs: Lrs) -> None:
    """`steun lrs delete-agent AGENT --yes` deletes directly in the store and reports counts."""
    who = pseudonym()
    (sid,) = lrs.post(statement(actor=who)).json()
    result = run(lrs, "delete-agent", json.dumps(who), "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 1 statements and 0 documents." in result.output
    assert who["account"]["name"] not in result.output
    assert lrs.get(params={"statementId": sid}).status_code == 404
