from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String
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
    #: An administrator's unlock: failed log-in steps before it no longer count.
    lock_lifted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # TOTP second factor: the secret encrypted with the instance's data key. Set but not
    # enrolled while the user is scanning the QR code.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enrolled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]  # the last accepted time step: a replay is refused
    # Part of the session identity: changing it (disable, re-role, 2FA reset) ends sessions.
    session_nonce: Mapped[str] = mapped_column(
        String(32), default=lambda: secrets.token_hex(16))

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_enrolled_at is not None and self.totp_secret_encrypted is not None

    def get_id(self) -> str:  # flask-login: a stale nonce logs the session out
        return f"{self.id}:{self.session_nonce}"

    def can_see_all_cases(self) -> bool:
        return self.role in ("supervisor", "admin")


class RecoveryCode(Base):
    """A one-time code that replaces a TOTP code once (lost phone). Stored as a SHA-256
    digest: the codes are 80 random bits, so a fast hash is enough."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only: who did what to which record, when, from where."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_record", "record_type", "record_id"),
        Index("ix_audit_events_case", "case_id", "at"),
        Index("ix_audit_events_remote_at", "remote_addr", "at"),
        Index("ix_audit_events_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_kind: Mapped[str] = mapped_column(String(20))  # user / victim / system / api
    action: Mapped[str] = mapped_column(String(60))
    record_type: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[int | None]
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    # The case the record belongs to (no foreign key: the log outlives an erased case).
    case_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WebSession(Base):
    """One log-in of a caseworker or one opened case page of a victim. The browser holds only
    the random token; this row holds its SHA-256 digest, so a copy of the table opens
    nothing. A row is refused once revoked, idle, or presented by another client."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # staff / victim
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    # The user's session_nonce at log in: a later disable, re-role or 2FA reset changes it.
    user_nonce: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(index=True)
    # HMAC of the client's address and user agent (never the text itself).
    client_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(20))
