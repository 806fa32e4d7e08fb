"""Statements with attachments in multipart/mixed (Communication 1.5.2), and signed statements."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from typing import Any, cast

from xapi.lrs.comparison import for_comparison
from xapi.lrs.exceptions import BadRequest
from xapi.lrs.limits import DEFAULT_LIMITS, loads

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
SIGNING_ALGORITHMS = {"RS256", "RS384", "RS512"}


def _boundary(content_type: str) -> bytes:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode()
    raise BadRequest("multipart/mixed without a boundary.")


def _parse_part(raw: bytes) -> tuple[dict[str, str], bytes]:
    """One part: headers, a blank line, the content. CRLF per RFC 2046; bare LF tolerated."""
    for newline in (b"\r\n", b"\n"):
        if raw.startswith(newline):
            raw = raw[len(newline) :]
            break
    crlf, lf = raw.find(b"\r\n\r\n"), raw.find(b"\n\n")
    if crlf == -1 and lf == -1:
        raise BadRequest("A multipart part lacks the blank line after its headers.")
    if crlf != -1 and (lf == -1 or crlf <= lf):
        head, content, newline = raw[:crlf], raw[crlf + 4 :], b"\r\n"
    else:
        head, content, newline = raw[:lf], raw[lf + 2 :], b"\n"
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise BadRequest(f"Malformed multipart header line '{line}'.")
        headers[name.strip().lower()] = value.strip()
    if content.endswith(newline):
        content = content[: -len(newline)]
    return headers, content


def parse_statement_request(
    content_type: str, body: bytes, *, max_depth: int = DEFAULT_LIMITS.json_depth
) -> tuple[Any, dict[str, tuple[str, bytes]]]:
    """The statement JSON (first part) and the attachment parts keyed by their SHA-2."""
    delimiter = b"--" + _boundary(content_type)
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise BadRequest("multipart/mixed body has no parts.")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(_parse_part(chunk))
    if not parts:
        raise BadRequest("multipart/mixed body has no parts.")
    first_headers, first = parts[0]
    if not first_headers.get("content-type", "").lower().startswith("application/json"):
        raise BadRequest(
            "The first part of a multipart statement request must be application/json."
        )
    statements = loads(first, max_depth=max_depth, what="The first part")
    files: dict[str, tuple[str, bytes]] = {}
    for index, (headers, content) in enumerate(parts[1:], start=2):
        sha2 = headers.get("x-experience-api-hash")
        if not sha2:
            raise BadRequest(f"Part {index} lacks the X-Experience-API-Hash header.")
        if headers.get("content-transfer-encoding", "").lower() != "binary":
            raise BadRequest(f"Part {index} needs 'Content-Transfer-Encoding: binary'.")
        files[sha2.lower()] = (headers.get("content-type", "application/octet-stream"), content)
    return statements, files


def match_attachments(
    statements: list[dict[str, Any]], parts: dict[str, tuple[str, bytes]]
) -> dict[str, tuple[str, bytes]]:
    """Check every attachment without fileUrl has its part and every part is declared."""
    declared: set[str] = set()
    for i, statement in enumerate(statements):
        for j, attachment in enumerate(statement.get("attachments", []) or []):
            sha2 = attachment["sha2"].lower()
            declared.add(sha2)
            if sha2 in parts:
                _check_hash(sha2, parts[sha2][1], f"statement[{i}].attachments[{j}]")
                if attachment["usageType"] == SIGNATURE:
                    if attachment["contentType"] != "application/octet-stream":
                        raise BadRequest(
                            "A signature attachment has contentType application/octet-stream."
                        )
                    check_signature(statement, parts[sha2][1])
            elif "fileUrl" not in attachment:
                raise BadRequest(
                    f"statement[{i}].attachments[{j}] has no fileUrl and no multipart part with its sha2."
                )
    extra = set(parts) - declared
    if extra:
        raise BadRequest("A multipart part matches no attachment of the statements.")
    return parts


def _check_hash(sha2: str, content: bytes, path: str) -> None:
    algorithms = {64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512, 56: hashlib.sha224}
    algorithm = algorithms.get(len(sha2))
    if algorithm is None or algorithm(content).hexdigest() != sha2:
        raise BadRequest(f"{path}: the part's content does not match its sha2.")


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _comparable(statement: dict[str, Any]) -> str:
    body = {
        k: v
        for k, v in for_comparison(statement).items()
        if k not in ("attachments", "authority", "stored", "version", "id")
    }
    return json.dumps(body, sort_keys=True)


def check_signature(statement: dict[str, Any], jws: bytes) -> None:
    """A signed statement (Data 2.6): a JWS whose payload is the statement itself."""
    try:
        header_b64, payload_b64, signature_b64 = jws.decode("ascii").strip().split(".")
        header = loads(_b64(header_b64))
        payload = loads(_b64(payload_b64))
        _b64(signature_b64)
    except (ValueError, UnicodeDecodeError, binascii.Error, BadRequest):
        raise BadRequest(
            "The signature attachment is not a JWS in compact serialization."
        ) from None
    if not isinstance(header, dict) or header.get("alg") not in SIGNING_ALGORITHMS:
        raise BadRequest("A statement signature uses RS256, RS384 or RS512.")
    if not isinstance(payload, dict) or _comparable(payload) != _comparable(statement):
        raise BadRequest("The signed payload differs from the statement.")
    if "id" in payload and "id" in statement and payload["id"].lower() != statement["id"].lower():
        raise BadRequest("The signed payload differs from the statement.")
    if header.get("x5c"):
        _verify_with_certificate(header, jws.decode("ascii").strip())


def _verify_with_certificate(header: dict[str, Any], token: str) -> None:
    import jwt
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        jwt.api_jws.decode_complete(
            token,
            cast(Any, certificate.public_key()),
            algorithms=[header["alg"]],
        )
    except Exception:
        raise BadRequest(
            "The statement signature does not verify with its x5c certificate."
        ) from None


def build(result: Any, files: dict[str, tuple[str, bytes]]) -> tuple[str, bytes]:
    """A multipart/mixed response: the statement result, then each attachment."""
    boundary = "xapi-" + secrets.token_hex(12)
    out = [
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(),
        json.dumps(result, separators=(",", ":")).encode(),
        b"\r\n",
    ]
    for sha2, (content_type, content) in files.items():
        out.append(
            (
                f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha2}\r\n\r\n"
            ).encode()
        )
        out.append(content)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return f"multipart/mixed; boundary={boundary}", b"".join(out)
