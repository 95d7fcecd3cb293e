from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from disrupt.db import Base

VERDICTS = ("removed", "online", "indeterminate", "restricted", "invalid")


class URLCheck(Base):
    """Append-only log of every check. One row per URL and due time: a retried write
    of the same check hits the unique constraint instead of logging it twice."""

    __tablename__ = "url_checks"
    __table_args__ = (
        UniqueConstraint("reported_url_id", "due_at"),
        Index("ix_url_checks_url_time", "reported_url_id", "checked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reported_url_id: Mapped[int] = mapped_column(
        ForeignKey("reported_urls.id", ondelete="CASCADE")
    )
    due_at: Mapped[datetime]
    checked_at: Mapped[datetime]
    verdict: Mapped[str] = mapped_column(String(15))
    reason: Mapped[str] = mapped_column(String(200))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(String(2048))
    elapsed_ms: Mapped[int | None]
    body_digest: Mapped[str | None] = mapped_column(String(64))
    distance: Mapped[int | None]
    detector_version: Mapped[str] = mapped_column(String(40))
    worker: Mapped[str | None] = mapped_column(String(64))
