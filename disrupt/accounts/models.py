from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from disrupt.db import Base

ROLES = ("caseworker", "supervisor", "admin")


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="caseworker")
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    def can_see_all_cases(self) -> bool:
        return self.role in ("supervisor", "admin")


class AuditEvent(Base):
    """Append-only: who did what to which record, when, from where."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_record", "record_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))  # user / victim / system / api
    action: Mapped[str] = mapped_column(String(60))
    record_type: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[int | None]
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
