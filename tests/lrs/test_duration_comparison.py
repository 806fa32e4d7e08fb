"""Durations compare to 0.01 second: xAPI 1.0.3 Data 4.6 ("When comparing Durations, any
precision beyond 0.01 second precision SHOULD* NOT be included in the comparison") and xAPI 2.0
4.2.7 ("When making a comparison (e.g. as a part of the statement signing process) of Statements in
regard to a Duration, any precision beyond 0.01 second precision shall not be included in the
comparison"). ADL's 2.0 suite signs a statement with PT0.12S and sends it with PT0.1237S."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, text

from tests.lrs.conftest import Lrs, statement
from tests.lrs.test_alternate_and_attachments import SIGNATURE, attachment_meta, multipart_body
from xapi.lrs.comparison import comparable_duration
from xapi.lrs.store.keys import core_json

VERSIONS = ["1.0.3", "2.0.0"]


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def send_signed(
    lrs: Lrs, sent: dict[str, Any], signed: dict[str, Any], key: Any, version: str
) -> requests.Response:
    jws = jwt.encode(signed, key, algorithm="RS256").encode()
    meta = attachment_meta(jws, usage=SIGNATURE, content_type="application/octet-stream")
    content_type, body = multipart_body(
        [
            (
                {"Content-Type": "application/json"},
                json.dumps({**sent, "attachments": [meta]}).encode(),
            ),
            (
                {
                    "Content-Type": "application/octet-stream",
                    "Content-Transfer-Encoding": "binary",
                    "X-Experience-API-Hash": meta["sha2"],
                },
                jws,
            ),
        ]
    )
    return lrs.request(
        "POST",
        "statements",
        data=body,
        headers={"Content-Type": content_type, "X-Experience-API-Version": version},
    )


def test_comparable_duration_truncates_seconds_to_hundredths() -> None:
    assert comparable_duration("P1DT12H36M0.1237S") == "P1DT12H36M0.12S"
    assert comparable_duration("P1DT12H36M0.12S") == "P1DT12H36M0.12S"
    assert comparable_duration("PT0.129S") == "PT0.12S"  # truncated, not rounded
    assert comparable_duration("PT1.10S") == comparable_duration("PT1.1S") == "PT1.1S"
    assert comparable_duration("PT1.001S") == comparable_duration("PT1S") == "PT1S"
    assert comparable_duration("PT10,555S") == "PT10.55S"
    assert comparable_duration("P4W") == "P4W"
    assert comparable_duration("PT1.5M") == "PT1.5M"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_signature_compares_durations_to_hundredths(lrs: Lrs, key: Any, version: str) -> None:
    signed = statement(id=str(uuid.uuid4()), result={"duration": "P1DT12H36M0.12S"})
    sent = {**signed, "result": {"duration": "P1DT12H36M0.1237S"}}
    assert send_signed(lrs, sent, signed, key, version).status_code == 200
    # Stored as received: the LRS may truncate, Steun does not.
    got = lrs.get(params={"statementId": sent["id"]}, headers={"X-Experience-API-Version": version})
    assert got.json()["result"]["duration"] == "P1DT12H36M0.1237S"
    # A difference in the hundredths still breaks the signature.
    other = statement(id=str(uuid.uuid4()), result={"duration": "PT0.12S"})
    changed = {**other, "result": {"duration": "PT0.13S"}}
    assert send_signed(lrs, changed, other, key, version).status_code == 400
    # Also in a SubStatement.
    sub = statement(id=str(uuid.uuid4()))
    sub["object"] = {
        "objectType": "SubStatement",
        **{k: v for k, v in statement(result={"duration": "PT5.5S"}).items()},
    }
    longer = json.loads(json.dumps(sub))
    longer["object"]["result"]["duration"] = "PT5.50999S"
    assert send_signed(lrs, longer, sub, key, version).status_code == 200


@pytest.mark.parametrize("version", VERSIONS)
def test_a_statement_sent_again_compares_durations_to_hundredths(lrs: Lrs, version: str) -> None:
    """Same id, same content (durations to 0.01 s): accepted, nothing changes; a difference in
    the hundredths is a conflict (409)."""
    headers = {"X-Experience-API-Version": version}
    first = statement(id=str(uuid.uuid4()), result={"duration": "PT1M2.3456S"})
    assert lrs.post(first, headers=headers).status_code == 200
    again = {**first, "result": {"duration": "PT1M2.34S"}}
    assert lrs.post(again, headers=headers).status_code == 204  # nothing new stored
    put = lrs.request("PUT", "statements", params={"statementId": first["id"]}, json_body=again)
    assert put.status_code == 204
    got = lrs.get(params={"statementId": first["id"]}, headers=headers)
    assert got.json()["result"]["duration"] == "PT1M2.3456S"
    different = {**first, "result": {"duration": "PT1M2.35S"}}
    assert lrs.post(different, headers=headers).status_code == 409


def test_a_row_stored_before_the_change_still_matches_its_exact_resend(lrs: Lrs) -> None:
    """Rows stored before durations compared to 0.01 s carry the fingerprint of the exact text:
    sending the very same statement again is still 'the same' (204), not a conflict."""
    first = statement(id=str(uuid.uuid4()), result={"duration": "PT9.87654S"})
    assert lrs.post(first).status_code == 200
    exact = hashlib.sha256(core_json(first).encode()).hexdigest()
    engine = create_engine(lrs.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE lrs_statement SET fingerprint = :f WHERE id = :i"),
                {"f": exact, "i": first["id"]},
            )
    finally:
        engine.dispose()
    assert lrs.post(first).status_code == 204
    assert lrs.post({**first, "result": {"duration": "PT9.88S"}}).status_code == 409


def test_comparable_duration_leaves_what_has_no_seconds_fraction() -> None:
    for text in ("PT1.5M2S", "PT.5S", "PT12.34S", "", "S", "PT1S"):
        assert comparable_duration(text) == text
    assert comparable_duration("PT1.0S") == "PT1S"
