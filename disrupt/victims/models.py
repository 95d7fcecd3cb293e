from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from disrupt.db import Base


class LoginThrottle(Base):
    """Failed case look-ups per reference and per client address, shared by every web
    process. The key is an HMAC of the reference or address, never the text itself."""

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))  # reference / client
    key: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class VictimUpdate(Base):
    """The e-mail that tells a victim, in neutral words, that their case has news. One row per
    case that has had one: what it last announced, and the outbox state of the next one."""

    __tablename__ = "victim_updates"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         primary_key=True)
    announced_news_at: Mapped[datetime | None]  # the Case.news_at the last e-mail announced
    sending_news_at: Mapped[datetime | None]    # the one being announced (the idempotency key)
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]


class ContactConfirmation(Base):
    """The one e-mail that asks a victim to confirm the address she left, and its answer.
    No update e-mail goes to an address before it is confirmed: anyone can type anyone's
    address into the form. The token is in the link only; the table holds its SHA-256 and,
    until the e-mail has left, a copy encrypted with the data key (the worker sends it)."""

    __tablename__ = "contact_confirmations"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         primary_key=True)
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None]
