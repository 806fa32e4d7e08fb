"""State, Activity Profile and Agent Profile documents: read, list, replace or merge (with
ETag preconditions) and delete.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from xapi.lrs import schema as t
from xapi.lrs.exceptions import BadRequest, Conflict, PreconditionFailed
from xapi.lrs.limits import loads
from xapi.lrs.store.clock import now_us
from xapi.lrs.store.connection import StoreBase
from xapi.lrs.store.keys import hkey


class Documents(StoreBase):
    """The three document resources, one table (``kind`` tells them apart)."""

    def get_document(self, kind: str, scope: str, doc_id: str) -> Any:
        d = t.document.c
        with self.read() as conn:
            return conn.execute(
                select(t.document).where(
                    d.kind == kind, d.scope == scope, d.doc_hash == hkey(doc_id)
                )
            ).first()

    def list_documents(
        self, kind: str, *, scope: str | None = None, owner: str | None = None, since_us: int | None
    ) -> list[str]:
        d = t.document.c
        query = select(d.doc_id).where(d.kind == kind)
        query = query.where(d.scope == scope) if scope else query.where(d.owner == owner)
        if since_us is not None:
            query = query.where(d.updated_us > since_us)
        with self.read() as conn:
            return list(conn.execute(query.order_by(d.doc_id)).scalars())

    def save_document(self, *args: Any, **kwargs: Any) -> str:
        """PUT (replace) or POST (merge JSON objects) one document; returns the new ETag.

        Two workers creating the same new document at once: the loser retries and then
        sees the winner's row (and its preconditions)."""
        try:
            return self._save_document(*args, **kwargs)
        except IntegrityError:
            return self._save_document(*args, **kwargs)

    def _save_document(
        self,
        kind: str,
        scope: str,
        doc_id: str,
        content: bytes,
        content_type: str,
        *,
        owner: str,
        agent_hash: str | None,
        merge: bool,
        if_match: str | None,
        if_none_match: str | None,
        require_precondition: bool,
        precondition_to_create: bool = False,
    ) -> str:
        d = t.document.c
        with self.write() as conn:
            row = conn.execute(
                select(t.document)
                .where(d.kind == kind, d.scope == scope, d.doc_hash == hkey(doc_id))
                .with_for_update()
            ).first()
            check_preconditions(row, if_match, if_none_match)
            if (
                row is not None
                and require_precondition
                and not merge
                and not (if_match or if_none_match)
            ):
                raise Conflict(
                    "The document exists; send If-Match (its ETag) or If-None-Match to replace it."
                )
            if (
                row is None
                and precondition_to_create
                and not merge
                and not (if_match or if_none_match)
            ):
                raise BadRequest(
                    "A PUT to a profile resource needs If-Match or If-None-Match;"
                    " send If-None-Match: * to create the document."
                )
            if merge and row is not None:
                content, content_type = merge_json(
                    row.content, row.content_type, content, content_type
                )
            etag = hashlib.sha1(content).hexdigest()  # noqa: S324 - an ETag, not security
            values = {
                "content": content,
                "content_type": content_type,
                "etag": etag,
                "updated_us": now_us(),
            }
            if row is None:
                conn.execute(
                    insert(t.document).values(
                        kind=kind,
                        scope=scope,
                        doc_hash=hkey(doc_id),
                        doc_id=doc_id,
                        owner=owner,
                        agent_hash=agent_hash,
                        **values,
                    )
                )
            else:
                conn.execute(update(t.document).where(d.pk == row.pk).values(**values))
        return etag

    def delete_documents(
        self,
        kind: str,
        doc_id: str | None,
        *,
        scope: str | None = None,
        owner: str | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> None:
        d = t.document.c
        with self.write() as conn:
            query = delete(t.document).where(d.kind == kind)
            query = query.where(d.scope == scope) if scope else query.where(d.owner == owner)
            if doc_id is not None:
                row = conn.execute(
                    select(t.document).where(
                        d.kind == kind, d.scope == scope, d.doc_hash == hkey(doc_id)
                    )
                ).first()
                check_preconditions(row, if_match, if_none_match)
                query = query.where(d.doc_hash == hkey(doc_id))
            conn.execute(query)


def state_owner(activity_id: str, agent: str) -> str:
    """The activity and agent a State document belongs to (across registrations)."""
    return hkey(f"state\n{activity_id}\n{agent}")


def state_scope(activity_id: str, agent: str, registration: str | None) -> str:
    return hkey(f"state\n{activity_id}\n{agent}\n{registration or ''}")


def check_preconditions(row: Any, if_match: str | None, if_none_match: str | None) -> None:
    if if_match is not None:
        tags = {tag.strip().strip('"') for tag in if_match.split(",")}
        if row is None or ("*" not in tags and row.etag not in tags):
            raise PreconditionFailed("If-Match does not match the document's current ETag.")
    if if_none_match is not None and row is not None:
        tags = {tag.strip().strip('"') for tag in if_none_match.split(",")}
        if "*" in tags or row.etag in tags:
            raise PreconditionFailed("If-None-Match: the document exists already.")


def _json_object(content: bytes, content_type: str) -> dict[str, Any]:
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise BadRequest("POST merges JSON documents only: Content-Type must be application/json.")
    value = loads(content, what="The document")
    if not isinstance(value, dict):
        raise BadRequest("POST merges JSON objects only.")
    return value


def merge_json(old: bytes, old_type: str, new: bytes, new_type: str) -> tuple[bytes, str]:
    """Communication 2.2.4 JSON Procedure with Requirements: merge top-level properties."""
    try:
        current = _json_object(old, old_type)
    except BadRequest:
        raise BadRequest("The stored document is not a JSON object; it cannot be merged.") from None
    current.update(_json_object(new, new_type))
    return json.dumps(current, separators=(",", ":")).encode(), "application/json"
