from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from disrupt.db import Base


class HostTrace(Base):
    """Who hosts a host name, as traced at ``traced_at``, with the evidence (the RDAP answers'
    addresses and their dates). One row per host, shared by every case; a worker claims the
    row (``claimed_by``/``claimed_until``) while it traces it. No personal data: hosts,
    networks, companies and their abuse desks."""

    __tablename__ = "host_traces"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    #: scheme://host[:port] of a URL on this host: where the site itself is asked (CDN)
    origin: Mapped[str] = mapped_column(String(300))
    #: ok / partial (some lookups failed) / failed / pending (never traced yet)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    addresses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    network: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    registrar: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cdn: Mapped[str | None] = mapped_column(String(60))
    cdn_evidence: Mapped[str | None] = mapped_column(String(200))
    #: [{"url": ..., "status": ..., "at": ...}, ...] every lookup made
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    traced_at: Mapped[datetime | None]
    next_trace_at: Mapped[datetime] = mapped_column(index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
