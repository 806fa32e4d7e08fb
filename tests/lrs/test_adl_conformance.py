"""Requirements that ADL's LRS conformance suite (xAPI 1.0.3) checks and the other files here
did not cover yet; each test cites the specification text it is derived from."""

from __future__ import annotations

import json
import uuid

from tests.lrs.conftest import Lrs, statement, unique_iri

AGENT = json.dumps({"mbox": "mailto:someone@example.com"})


def test_a_method_a_resource_does_not_have_is_405_before_authentication(lrs: Lrs) -> None:
    """Communication 3.2: "405 Method Not Allowed - Indicates that the request method is not
    supported by the resource". That holds whoever asks, so it comes before the 401 for missing
    credentials (ADL suite: DELETE on statements, activities and agents without credentials)."""
    cases = [
        ("DELETE", "statements", {"statementId": "2b9c3a6e-3c4f-4d5e-9f6a-7b8c9d0e1f2a"}),
        ("DELETE", "activities", {"activityId": "http://example.com/a"}),
        ("DELETE", "agents", {"agent": AGENT}),
        ("POST", "activities", {"activityId": "http://example.com/a"}),
        ("PUT", "agents", {"agent": AGENT}),
        ("POST", "about", {}),
    ]
    for method, resource, params in cases:
        for auth in (None, "all"):
            response = lrs.request(method, resource, params=params, auth=auth)
            assert response.status_code == 405, (method, resource, auth, response.text)
            assert response.headers["X-Experience-API-Version"] == "1.0.3"


def test_revision_and_platform_only_with_an_activity_object(lrs: Lrs) -> None:
    """Data 2.4.6: "The revision property MUST only be used if the Statement's Object is an
    Activity" (platform alike): also refused for a StatementRef or SubStatement object."""
    ref = {"objectType": "StatementRef", "id": str(uuid.uuid4())}
    sub = {
        "objectType": "SubStatement",
        "actor": {"mbox": "mailto:sub@example.com"},
        "verb": {"id": "http://example.com/verb"},
        "object": {"id": "http://example.com/activity"},
    }
    for key in ("revision", "platform"):
        for obj in (ref, sub, {"objectType": "Agent", "mbox": "mailto:a@example.com"}):
            response = lrs.post(statement(object=obj, context={key: "1"}))
            assert response.status_code == 400, (key, obj["objectType"])
            assert f"context.{key}" in response.text
        assert lrs.post(statement(context={key: "1"})).status_code == 200


def test_a_week_duration_stands_alone(lrs: Lrs) -> None:
    """Data 4.6: durations are ISO 8601 durations; ISO 8601 writes weeks only as PnW, never
    combined with other components."""
    for ok in ("P4W", "P1Y2M3DT4H5M6S", "PT0.5S", "P1D", "PT16559.14S"):
        assert lrs.post(statement(result={"duration": ok})).status_code == 200, ok
    for bad in ("P4W1D", "P1YT", "P", "PT", "PT1H-3M", "1H"):
        assert lrs.post(statement(result={"duration": bad})).status_code == 400, bad


def test_empty_objects_are_refused_except_in_extensions(lrs: Lrs) -> None:
    """ADL's LRS conformance requirement XAPI-00001 (for Data 2.2): "An LRS rejects with error
    code 400 Bad Request any Statement having a property whose value is set to "null", an empty
    object, or has no value, except in an "extensions" property". The ADL suite checks empty
    contextActivities. An empty activity definition is accepted: every property of a definition
    is optional (Data 2.4.4.1; issue 16)."""
    empty_cases = {
        "context.contextActivities": statement(context={"contextActivities": {}}),
        "context": statement(context={}),
        "result.score": statement(result={"score": {}}),
        "result": statement(result={}),
    }
    for where, body in empty_cases.items():
        response = lrs.post(body)
        assert response.status_code == 400, where
        assert f"statement.{where}: must not be an empty object" in response.text
    empty_definition = {"objectType": "Activity", "id": "http://example.com/a", "definition": {}}
    assert lrs.post(statement(object=empty_definition)).status_code == 200
    extensions = {"http://example.com/ext": {}}
    ok = statement(
        object={"id": "http://example.com/a", "definition": {"extensions": {}}},
        context={"extensions": extensions},
        result={"extensions": {}},
    )
    assert lrs.post(ok).status_code == 200


def test_a_reserved_four_letter_language_subtag_is_not_a_language_tag(lrs: Lrs) -> None:
    """Data 4.2: language map keys are RFC 5646 language tags. RFC 5646 2.2.1 reserves
    four-character primary language subtags, so no valid tag starts with one (the ADL suite
    uses {"test": ...} as an invalid interaction component description)."""
    for tag in ("test", "abcd-US"):
        body = statement(verb={"id": "http://example.com/verb", "display": {tag: "x"}})
        assert lrs.post(body).status_code == 400, tag
    for tag in ("en", "en-US", "zh-Hant-TW", "tlh", "de-CH-1996", "x-private"):
        body = statement(verb={"id": "http://example.com/verb", "display": {tag: "x"}})
        assert lrs.post(body).status_code == 200, tag


def test_every_resource_declares_its_methods() -> None:
    """The 405 check above needs the methods of every resource (a new route must add its own)."""
    from xapi.lrs.app import ALLOWED_METHODS, LrsApp

    app = LrsApp(store=None)  # type: ignore[arg-type]
    assert set(app.routes) == set(ALLOWED_METHODS)


def test_a_profile_put_without_either_header_is_400_also_for_a_new_document(lrs: Lrs) -> None:
    """Communication 3.1 (1.0.3 3.1.s3.b1, and the 2.0 client rules): "A Client making a PUT
    request to either the Agent Profile Resource or Activity Profile Resource MUST include the
    If-Match header or the If-None-Match header". The LRS MUST answer 409 when the document
    exists; ADL's 1.0.3 suite (XAPI-00273, Communication 2.7) wants 400 when it does not, and
    Steun follows it in both versions (docs/lrs.md). The State resource permits PUT without
    the headers, and a POST needs none."""
    for version in ("1.0.3", "2.0.0"):
        headers = {"X-Experience-API-Version": version}
        for resource, params in (
            ("activities/profile", {"activityId": unique_iri(), "profileId": "p"}),
            ("agents/profile", {"agent": json.loads(AGENT) | {"name": "x"}, "profileId": "p"}),
        ):
            params = {**params, "profileId": uuid.uuid4().hex}
            bare = lrs.request("PUT", resource, params=params, json_body={"a": 1}, headers=headers)
            assert bare.status_code == 400, (version, resource, bare.text)
            assert "If-None-Match" in bare.json()["message"]
            assert lrs.get(resource, params=params, headers=headers).status_code == 404
            create = {**headers, "If-None-Match": "*"}
            put = lrs.request("PUT", resource, params=params, json_body={"a": 1}, headers=create)
            assert put.status_code == 204
            again = lrs.request("PUT", resource, params=params, json_body={"a": 2}, headers=headers)
            assert again.status_code == 409  # the document exists now
            posted = {**params, "profileId": uuid.uuid4().hex}
            post = lrs.request("POST", resource, params=posted, json_body={"a": 1}, headers=headers)
            assert post.status_code == 204
        state = {
            "activityId": unique_iri(),
            "agent": json.loads(AGENT),
            "stateId": uuid.uuid4().hex,
        }
        put = lrs.request("PUT", "activities/state", params=state, json_body={}, headers=headers)
        assert put.status_code == 204
