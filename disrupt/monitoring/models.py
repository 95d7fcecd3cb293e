from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from disrupt.db import Base

VERDICTS = ("removed", "online", "indeterminate", "restricted", "invalid")


class URLCheck(Base):
    """Append-only log of every check. One row per URL and due time: a retried write
    of the same check hits the unique constraint instead of logging it twice."""

    __tablename__ = "url_checks"
    __table_args__ = (
        UniqueConstraint("reported_url_id", "due_at"),
        # Covering for the statistics fold (dashboard/setfold.py): checks in time order (ties
        # by id) with their verdicts, from the index alone.
        Index("ix_url_checks_url_time_verdict", "reported_url_id", "checked_at", "id",
              "verdict"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reported_url_id: Mapped[int] = mapped_column(
        ForeignKey("reported_urls.id", ondelete="CASCADE")
    )
    due_at: Mapped[datetime]
    checked_at: Mapped[datetime]
    verdict: Mapped[str] = mapped_column(String(15))
    #: Machine code of the rule that decided (rules.py RULES), e.g. "status_404".
    rule: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(200))
    http_status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(String(2048))
    #: [[url, status], ...] of every redirect hop before final_url.
    redirect_chain: Mapped[list[Any] | None] = mapped_column(JSON)
    content_type: Mapped[str | None] = mapped_column(String(120))
    #: The body was cut at CHECK_MAX_BYTES (body_digest is then None).
    truncated: Mapped[bool] = mapped_column(default=False)
    elapsed_ms: Mapped[int | None]
    body_digest: Mapped[str | None] = mapped_column(String(64))
    #: The picture fetched to compare with the case's hashes (the URL itself or the
    #: page's main image), its SHA-256 and its PDQ distance to the nearest active hash.
    media_url: Mapped[str | None] = mapped_column(String(2048))
    media_digest: Mapped[str | None] = mapped_column(String(64))
    distance: Mapped[int | None]
    retry_after_seconds: Mapped[int | None]
    peer_ip: Mapped[str | None] = mapped_column(String(45))
    detector_version: Mapped[str] = mapped_column(String(40))
    worker: Mapped[str | None] = mapped_column(String(64))


class HostFingerprint(Base):
    """What a site answers for a path that cannot exist (a probe of a random path),
    cached per origin for every worker: a page that looks like it is a soft 404."""

    __tablename__ = "host_fingerprints"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(300), unique=True)
    probe_url: Mapped[str] = mapped_column(String(2048))
    #: "not_found" (the site answers 404/410: no soft 404), "soft404" (2xx for any
    #: path: compare pages with the fields below) or "unknown" (the probe proved nothing).
    kind: Mapped[str] = mapped_column(String(12))
    status: Mapped[int | None]
    final_url: Mapped[str | None] = mapped_column(String(2048))
    redirected: Mapped[bool] = mapped_column(default=False)
    text_simhash: Mapped[str | None] = mapped_column(String(16))
    text_digest: Mapped[str | None] = mapped_column(String(64))
    text_words: Mapped[int] = mapped_column(default=0)
    body_digest: Mapped[str | None] = mapped_column(String(64))
    probed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class HostSlot(Base):
    """Per-host politeness shared by every worker: a host has HOST_CONCURRENCY slots;
    a check holds one under a lease, and requests to one host start at least the
    spacing apart (the latest ``last_started_at`` of the host's slots)."""

    __tablename__ = "host_slots"
    __table_args__ = (UniqueConstraint("host", "slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    slot: Mapped[int]
    holder: Mapped[str | None] = mapped_column(String(64))
    held_until: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
