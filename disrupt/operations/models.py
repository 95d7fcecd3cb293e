from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from disrupt.db import Base


class WorkerHeartbeat(Base):
    """One row per worker process, rewritten every tick: a worker that stopped writing has
    stopped working (the console and /healthz say so)."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime] = mapped_column(index=True)
