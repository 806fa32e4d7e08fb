"""Communication 1.3 alternate request syntax; Data 2.4.11 / Communication 1.5.2 attachments in
multipart/mixed; Data 2.6 signed statements."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.lrs.conftest import Lrs, statement, unique_iri

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


def basic(creds: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


def alternate(
    lrs: Lrs, method: str, resource: str, form: dict[str, str], query: str = ""
) -> requests.Response:
    return requests.post(
        f"{lrs.endpoint}{resource}?method={method}{query}",
        data=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )


def test_alternate_syntax_put_and_get(lrs: Lrs) -> None:
    """Communication 1.3: a POST with ?method=X and a form body carrying headers, parameters and
    content is treated as that request."""
    statement_id = str(uuid.uuid4())
    auth = basic(lrs.creds["all"])
    form = {
        "statementId": statement_id,
        "Authorization": auth,
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
        "content": json.dumps(statement()),
    }
    assert alternate(lrs, "PUT", "statements", form).status_code == 204
    got = alternate(
        lrs,
        "GET",
        "statements",
        {"statementId": statement_id, "Authorization": auth, "X-Experience-API-Version": "1.0.3"},
    )
    assert got.status_code == 200 and got.json()["id"] == statement_id


def test_alternate_syntax_with_real_headers(lrs: Lrs) -> None:
    """Communication 1.3: headers not given as form fields may come as real headers."""
    statement_id = str(uuid.uuid4())
    response = requests.post(
        f"{lrs.endpoint}statements?method=PUT",
        data=urlencode({"statementId": statement_id, "content": json.dumps(statement())}),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Experience-API-Version": "1.0.3",
            "Authorization": basic(lrs.creds["all"]),
        },
        timeout=10,
    )
    assert response.status_code == 204
    assert lrs.get(params={"statementId": statement_id}).status_code == 200


def test_alternate_syntax_allows_no_other_url_parameters(lrs: Lrs) -> None:
    """Communication 1.3: with the alternate syntax, `method` is the only query parameter."""
    form = {"Authorization": basic(lrs.creds["all"]), "X-Experience-API-Version": "1.0.3"}
    assert alternate(lrs, "GET", "statements", form, query="&limit=1").status_code == 400
    assert alternate(lrs, "PATCH", "statements", form).status_code == 400


def multipart_body(
    parts: list[tuple[dict[str, str], bytes]], boundary: str = "abc123"
) -> tuple[str, bytes]:
    out = b""
    for headers, content in parts:
        out += f"--{boundary}\r\n".encode()
        out += "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f'multipart/mixed; boundary="{boundary}"', out


def attachment_meta(
    content: bytes, usage: str = "http://example.org/usage/notes", content_type: str = "text/plain"
) -> dict[str, Any]:
    return {
        "usageType": usage,
        "display": {"en-US": "notes"},
        "contentType": content_type,
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
    }


def send_multipart(
    lrs: Lrs, statements: Any, files: list[bytes], *, encoding: str = "binary"
) -> requests.Response:
    parts = [({"Content-Type": "application/json"}, json.dumps(statements).encode())]
    for content in files:
        parts.append(
            (
                {
                    "Content-Type": "application/octet-stream",
                    "Content-Transfer-Encoding": encoding,
                    "X-Experience-API-Hash": hashlib.sha256(content).hexdigest(),
                },
                content,
            )
        )
    content_type, body = multipart_body(parts)
    return lrs.request("POST", "statements", data=body, headers={"Content-Type": content_type})


def test_attachment_roundtrip(lrs: Lrs) -> None:
    """Communication 1.5.2: attachments travel as multipart/mixed parts matched by sha2, and
    GET with attachments=true returns them the same way."""
    content = b"observation notes \x00\x01 binary"
    body = statement(attachments=[attachment_meta(content)])
    response = send_multipart(lrs, body, [content])
    assert response.status_code == 200, response.text
    (statement_id,) = response.json()
    got = lrs.get(params={"statementId": statement_id, "attachments": "true"})
    assert got.headers["Content-Type"].startswith("multipart/mixed")
    assert content in got.content
    assert json.dumps(statement_id).encode() in got.content
    plain = lrs.get(params={"statementId": statement_id})
    assert plain.headers["Content-Type"] == "application/json"
    assert content not in plain.content
    listing = lrs.get(params={"attachments": "true", "limit": 1})
    boundary = listing.headers["Content-Type"].split(";")[1].replace(" boundary=", "")
    first = listing.content.split(b"--" + boundary.encode())[1]
    assert b'"statements"' in first


def test_attachment_parts_must_match(lrs: Lrs) -> None:
    """Communication 1.5.2: an attachment without fileUrl needs its part; every part needs its
    attachment; parts carry Content-Transfer-Encoding: binary; hashes must match."""
    content = b"abc"
    body = statement(attachments=[attachment_meta(content)])
    assert lrs.post(body).status_code == 400
    assert send_multipart(lrs, statement(), [content]).status_code == 400
    assert send_multipart(lrs, body, [content], encoding="base64").status_code == 400
    wrong = statement(
        attachments=[{**attachment_meta(content), "sha2": hashlib.sha256(b"x").hexdigest()}]
    )
    assert send_multipart(lrs, wrong, [content]).status_code == 400


@pytest.fixture(scope="module")
def signing_key() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "steun test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return key, base64.b64encode(cert.public_bytes(Encoding.DER)).decode()


def signed(body: dict[str, Any], jws: str) -> tuple[dict[str, Any], bytes]:
    content = jws.encode()
    meta = attachment_meta(content, usage=SIGNATURE, content_type="application/octet-stream")
    return {**body, "attachments": [meta]}, content


def test_signed_statement_is_accepted(lrs: Lrs, signing_key: tuple[Any, str]) -> None:
    """Data 2.6: a JWS (RS256) over the statement, with an x5c certificate, is verified and stored."""
    key, cert = signing_key
    body = statement(id=str(uuid.uuid4()))
    jws = jwt.encode(body, key, algorithm="RS256", headers={"x5c": [cert]})
    full, content = signed(body, jws)
    assert send_multipart(lrs, full, [content]).status_code == 200


def test_signed_statement_must_match_and_verify(lrs: Lrs, signing_key: tuple[Any, str]) -> None:
    """Data 2.6: the LRS MUST reject a signature whose payload differs from the statement, that
    does not use RS256/384/512, or that fails verification."""
    key, cert = signing_key
    body = statement(id=str(uuid.uuid4()))
    other = {**body, "object": {"id": unique_iri()}}
    tampered, content = signed(
        body, jwt.encode(other, key, algorithm="RS256", headers={"x5c": [cert]})
    )
    assert send_multipart(lrs, tampered, [content]).status_code == 400
    hmac, content = signed(
        body, jwt.encode(body, "secret-key-of-32-bytes-or-longer!", algorithm="HS256")
    )
    assert send_multipart(lrs, hmac, [content]).status_code == 400
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged, content = signed(
        body, jwt.encode(body, other_key, algorithm="RS256", headers={"x5c": [cert]})
    )
    assert send_multipart(lrs, forged, [content]).status_code == 400
    garbage, content = signed(body, "not.a-jws")
    assert send_multipart(lrs, garbage, [content]).status_code == 400
