"""Reading the audit log: filters, pages and the CSV export. Never writes to it."""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from disrupt.accounts.models import AuditEvent, User
from disrupt.csv_export import SafeWriter

CSV_COLUMNS = ("id", "at", "actor_id", "actor_email", "actor_kind", "action", "record_type",
               "record_id", "case_id", "remote_addr", "detail")


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    action: str | None = None
    record_type: str | None = None
    record_id: int | None = None
    case_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select) -> Select:
        if self.actor_id is not None:
            query = query.where(AuditEvent.actor_id == self.actor_id)
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.record_type:
            query = query.where(AuditEvent.record_type == self.record_type)
        if self.record_id is not None:
            query = query.where(AuditEvent.record_id == self.record_id)
        if self.case_id is not None:
            query = query.where(AuditEvent.case_id == self.case_id)
        if self.since is not None:
            query = query.where(AuditEvent.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.at < self.until)
        return query


def audit_page(session: Session, where: AuditFilter, *, before_id: int | None = None,
               limit: int = 100) -> list[tuple[AuditEvent, str | None]]:
    """Newest first, keyset-paginated on the id; each event with its actor's e-mail."""
    query = where.apply(select(AuditEvent, User.email).outerjoin(
        User, User.id == AuditEvent.actor_id))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    rows = session.execute(query.order_by(AuditEvent.id.desc()).limit(limit)).all()
    return [(event, email) for event, email in rows]


def known_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def audit_csv(session: Session, where: AuditFilter, batch: int = 2000) -> Iterator[str]:
    """The filtered log as CSV, oldest first, read in batches so memory stays flat."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    yield out.getvalue()
    after = 0
    while True:
        query = where.apply(select(AuditEvent, User.email).outerjoin(
            User, User.id == AuditEvent.actor_id)).where(AuditEvent.id > after)
        rows = session.execute(query.order_by(AuditEvent.id).limit(batch)).all()
        if not rows:
            return
        out.seek(0)
        out.truncate()
        for event, email in rows:
            writer.writerow((
                event.id, event.at.isoformat(), event.actor_id or "", email or "",
                event.actor_kind, event.action, event.record_type or "", event.record_id or "",
                event.case_id or "", event.remote_addr or "",
                json.dumps(event.detail or {}, sort_keys=True, default=str),
            ))
        yield out.getvalue()
        after = rows[-1][0].id

