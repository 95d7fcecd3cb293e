from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from disrupt.db import Base
from disrupt.platforms.models import Platform

FEEDBACK_VALUES = ("None", "QualityUnknown", "PendingReview", "Blocked", "NotBlocked",
                   "Withdrawn", "Deleted")


class APIClient(Base):
    """A platform's key to the hash exchange. The subscription key names the client; the
    function key is the secret, shown once and stored as a SHA-256 digest (it has 256 random
    bits, so a slow password hash adds nothing)."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    subscription_key: Mapped[str] = mapped_column(String(40), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    platform: Mapped[Platform] = relationship()


class HashFeedback(Base):
    """What a platform said about a hash: PendingReview, Blocked, NotBlocked..."""

    __tablename__ = "hash_feedback"
    __table_args__ = (Index("ix_hash_feedback_hash_time", "hash_value", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signal_type: Mapped[str | None] = mapped_column(String(20))
    hash_value: Mapped[str] = mapped_column(String(64))
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    value: Mapped[str] = mapped_column(String(20))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(index=True)

    platform: Mapped[Platform] = relationship()


class PartnerHash(Base):
    """A hash a platform submitted (SubmitHashes), kept for a caseworker to review."""

    __tablename__ = "partner_hashes"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    signal_type: Mapped[str] = mapped_column(String(20))
    hash_value: Mapped[str] = mapped_column(String(64), index=True)
    feedback_value: Mapped[str | None] = mapped_column(String(20))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
