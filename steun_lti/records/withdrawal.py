"""Withdrawal: remove a teacher's (or one child's) answers everywhere, and log that it happened.

1. In the tool's database, every registered hook deletes its rows for the scope (the outbox is one;
   others' modules register theirs with :func:`withdrawal_hook`), and, as a safety net, rows of any
   table with a ``pseudonym`` column (teacher scope) or ``child_code`` column (child scope);
2. in the LRS, the statements are voided, and hard-deleted where the LRS offers it (Steun's
   embedded LRS does; a plain xAPI LRS keeps voided statements retrievable by ``voidedStatementId``);
3. the withdrawal is recorded *without content*: when, the scope, a hash of the subject, counts.

If the LRS cannot be reached the database part still happens; the record says ``lrs-pending`` and
running the same command again finishes the LRS part.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from steun_lti.exceptions import SteunError
from steun_lti.plumbing import audit
from steun_lti.plumbing.db import Base, Database
from steun_lti.plumbing.settings import Settings
from steun_lti.records.outbox import DELIVERED, SENDING, OutboxStatement
from xapi.client import LrsClient
from xapi.exceptions import LrsError
from xapi.statements import StatementFactory

log = logging.getLogger("steun.withdrawal")

# Tables that are kept: the withdrawal and audit logs hold no answers.
KEEP_TABLES = frozenset({"xapi_withdrawal", "audit_event", "alembic_version"})


class WithdrawalError(SteunError):
    default_message = "The withdrawal could not be carried out."


@dataclass(frozen=True)
class Scope:
    """Whose data goes: a teacher (pseudonym), or one child (code) of one or all teachers."""

    pseudonym: str | None = None
    child_code: str | None = None

    @property
    def kind(self) -> str:
        return "child" if self.child_code else "teacher"


Hook = Callable[[Session, Scope], int]
_HOOKS: list[tuple[str, Hook]] = []


def withdrawal_hook(name: str) -> Callable[[Hook], Hook]:
    """Register a function that deletes a module's rows for a scope and returns how many."""

    def register(func: Hook) -> Hook:
        if name not in {n for n, _ in _HOOKS}:
            _HOOKS.append((name, func))
        return func

    return register


@withdrawal_hook("xapi_outbox")
def _outbox_rows(session: Session, scope: Scope) -> int:
    stmt = delete(OutboxStatement)
    if scope.pseudonym:
        stmt = stmt.where(OutboxStatement.actor == scope.pseudonym)
    if scope.child_code:
        stmt = stmt.where(OutboxStatement.child_code == scope.child_code)
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def _generic_rows(session: Session, scope: Scope) -> int:
    """Rows of any other table keyed on ``pseudonym`` / ``child_code`` (children first)."""
    removed = 0
    hooked = {n for n, _ in _HOOKS}
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in KEEP_TABLES or table.name in hooked:
            continue
        cols = table.c
        conditions = []
        if scope.child_code:
            if "child_code" not in cols:
                continue
            conditions.append(cols["child_code"] == scope.child_code)
            if scope.pseudonym and "pseudonym" in cols:
                conditions.append(cols["pseudonym"] == scope.pseudonym)
        else:
            if "pseudonym" not in cols:
                continue
            conditions.append(cols["pseudonym"] == scope.pseudonym)
        removed += int(session.execute(table.delete().where(*conditions)).rowcount)  # type: ignore[attr-defined]
    return removed


class Withdrawal(Base):
    """That a withdrawal happened, without content."""

    __tablename__ = "xapi_withdrawal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scope: Mapped[str] = mapped_column(String(10))
    subject_hash: Mapped[str] = mapped_column(String(64))
    rows_removed: Mapped[int] = mapped_column(Integer, default=0)
    statements_voided: Mapped[int] = mapped_column(Integer, default=0)
    lrs_erased: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))


@dataclass
class WithdrawalResult:
    teachers: list[str]
    rows_removed: int = 0
    statements_voided: int = 0
    lrs_erased: bool = False
    lrs_error: str | None = None
    by_hook: dict[str, int] = field(default_factory=dict)
    withdrawn_before: datetime | None = None  # the last earlier withdrawal of the same scope

    @property
    def status(self) -> str:
        return "lrs-pending" if self.lrs_error else "complete"

    @property
    def found_nothing(self) -> bool:
        """Nothing in the tool and, as far as the LRS could be asked, nothing there either."""
        return not self.rows_removed and not self.statements_voided and not self.lrs_error


def subject_hash(scope: Scope) -> str:
    return hashlib.sha256(
        f"{scope.pseudonym or ''}\x00{scope.child_code or ''}".encode()
    ).hexdigest()


def _teachers_for_child(session: Session, code: str) -> list[str]:
    return sorted(
        set(
            session.scalars(
                select(OutboxStatement.actor).where(OutboxStatement.child_code == code).distinct()
            )
        )
    )


def _sent_statement_ids(session: Session, scope: Scope) -> list[str]:
    """Ids of the scope's statements the outbox sent or is sending (before its rows go): the
    LRS may hold them even if a query does not show them yet (a batch in flight)."""
    query = select(OutboxStatement.statement_id).where(
        OutboxStatement.status.in_((DELIVERED, SENDING))
    )
    if scope.pseudonym:
        query = query.where(OutboxStatement.actor == scope.pseudonym)
    if scope.child_code:
        query = query.where(OutboxStatement.child_code == scope.child_code)
    return [i for i in session.scalars(query) if i]


def withdraw(
    database: Database,
    scope: Scope,
    factory: StatementFactory,
    client: LrsClient | None,
    eraser: Callable[[dict[str, object]], bool] | None = None,
    *,
    reader: LrsClient | None = None,
    admin: LrsClient | None = None,
    statement_eraser: Callable[[list[str]], bool] | None = None,
) -> WithdrawalResult:
    """Carry out a withdrawal (see the module docstring).

    ``client`` writes the voiding statements; ``reader`` (default: ``client``) finds the
    statements; ``admin`` hard-deletes them through the LRS's extensions (Steun's LRS); the
    erasers delete directly in a local LRS store when no admin credential is at hand."""
    if not scope.pseudonym and not scope.child_code:
        raise WithdrawalError("Name a pseudonym, a child code, or both.")
    with database.session() as session:
        if scope.pseudonym:
            teachers = [scope.pseudonym]
        else:
            teachers = _teachers_for_child(session, scope.child_code or "")
            if not teachers:
                # Codes are per teacher (every teacher has an "A"): without knowing whose child
                # this is, nothing may be deleted.
                raise WithdrawalError(
                    f"The tool knows no teacher with child code {scope.child_code!r} (its "
                    "outbox may have been purged); name the teacher's pseudonym: "
                    "steun withdraw PSEUDONYM --child CODE."
                )
            if len(teachers) > 1:
                raise WithdrawalError(
                    f"Child code {scope.child_code!r} is used by {len(teachers)} teachers; "
                    "name the teacher's pseudonym as well: steun withdraw PSEUDONYM --child CODE."
                )
        result = WithdrawalResult(teachers=teachers)
        result.withdrawn_before = session.scalar(
            select(func.max(Withdrawal.at)).where(Withdrawal.subject_hash == subject_hash(scope))
        )
        sent = {
            teacher: _sent_statement_ids(session, Scope(teacher, scope.child_code))
            for teacher in teachers
        }
        for name, hook in _HOOKS:
            for teacher in teachers or [None]:  # type: ignore[list-item]
                n = hook(session, Scope(teacher, scope.child_code))
                result.by_hook[name] = result.by_hook.get(name, 0) + n
                result.rows_removed += n
        for teacher in teachers or [None]:  # type: ignore[list-item]
            n = _generic_rows(session, Scope(teacher, scope.child_code))
            result.by_hook["other tables"] = result.by_hook.get("other tables", 0) + n
            result.rows_removed += n
    if client is not None:
        lrs = _LrsAccess(client, reader or client, admin, eraser, statement_eraser)
        try:
            _withdraw_from_lrs(lrs, factory, scope, teachers, sent, result)
        except LrsError as exc:
            result.lrs_error = exc.message
    else:
        result.lrs_error = "no LRS configured"
    with database.session() as session:
        session.add(
            Withdrawal(
                at=datetime.now(UTC),
                scope=scope.kind,
                subject_hash=subject_hash(scope),
                rows_removed=result.rows_removed,
                statements_voided=result.statements_voided,
                lrs_erased=result.lrs_erased,
                status=result.status,
            )
        )
        audit.record(
            session,
            "withdrawal",
            None,
            scope=scope.kind,
            rows_removed=result.rows_removed,
            statements_voided=result.statements_voided,
            lrs_erased=result.lrs_erased,
            status=result.status,
        )
    return result


@dataclass
class _LrsAccess:
    writer: LrsClient
    reader: LrsClient
    admin: LrsClient | None
    agent_eraser: Callable[[dict[str, object]], bool] | None
    statement_eraser: Callable[[list[str]], bool] | None

    def erase_statements(self, ids: list[str]) -> bool:
        """Hard-delete by id: over HTTP with the admin credential where the LRS offers it
        (About lists ``statements-delete``), else directly in a local store; False when
        neither is possible (an external LRS: the statements stay voided)."""
        if not ids:
            return True
        if self.admin is not None and self.admin.delete_statements(ids):
            return True
        return self.statement_eraser(ids) if self.statement_eraser is not None else False

    def erase_agent(self, agent: dict[str, object]) -> bool:
        for client in (self.admin, self.writer):
            if client is not None and client.delete_agent(agent):
                return True
        return self.agent_eraser(agent) if self.agent_eraser is not None else False


def _withdraw_from_lrs(
    lrs: _LrsAccess,
    factory: StatementFactory,
    scope: Scope,
    teachers: list[str],
    sent: dict[str, list[str]],
    result: WithdrawalResult,
) -> None:
    child_ext = factory.iris.extension("child-code")
    now = datetime.now(UTC)
    erased = bool(teachers)
    for teacher in teachers:
        agent = factory.actor(teacher)
        ids = dict.fromkeys(sent.get(teacher, []))
        for st in lrs.reader.iter_statements(agent=agent):
            if st.get("verb", {}).get("id") == "http://adlnet.gov/expapi/verbs/voided":
                continue
            if scope.child_code:
                ext = (st.get("context") or {}).get("extensions") or {}
                if ext.get(child_ext) != scope.child_code:
                    continue
            ids[st["id"]] = None
        targets = list(ids)
        for start in range(0, len(targets), 100):
            voids = [factory.voiding(teacher, now, sid) for sid in targets[start : start + 100]]
            lrs.writer.post_statements(voids)
            result.statements_voided += len(voids)
        if scope.child_code:
            erased = lrs.erase_statements(targets) and erased
        else:
            erased = lrs.erase_agent(agent) and erased
    result.lrs_erased = erased


def withdraw_everywhere(database: Database, scope: Scope, settings: Settings) -> WithdrawalResult:
    """:func:`withdraw` with the LRS clients the settings give: the tool's credential writes the
    voiding statements, the researchers' reads (the tool's own may not), the admin credential
    hard-deletes; directly in the embedded LRS's store when it is local and no admin credential
    is at hand. What ``steun withdraw`` and the teacher's own "remove my data" run."""
    from steun_lti.records.statements import make_admin_client, make_client, statement_factory

    client = make_client(settings)
    reader = make_client(settings, researcher=True)
    admin = make_admin_client(settings)
    erase_agent, erase_statements = embedded_lrs_erasers(settings)
    try:
        return withdraw(
            database,
            scope,
            statement_factory(settings),
            client,
            eraser=erase_agent,
            reader=reader,
            admin=admin,
            statement_eraser=erase_statements,
        )
    finally:
        for each in (client, reader, admin):
            if each is not None:
                each.close()


def embedded_lrs_erasers(
    settings: Settings,
) -> tuple[Callable[[dict[str, object]], bool] | None, Callable[[list[str]], bool] | None]:
    """When the embedded LRS's store is on this machine, erasers that delete in it directly
    (for when no admin credential is at hand; the tool's own LRS credential has no admin scope)."""
    try:
        from xapi.lrs import admin  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None, None
    url = settings.resolved_lrs_database_url
    if (
        settings.lrs_server.database_url is None
        and not (settings.data_dir / "lrs.sqlite3").exists()
    ):
        return None, None

    def erase_agent(agent: dict[str, object]) -> bool:
        admin.delete_agent(url, dict(agent), by="steun withdraw")
        return True

    def erase_statements(ids: list[str]) -> bool:
        admin.delete_statements(url, ids, by="steun withdraw")
        return True

    return erase_agent, erase_statements
