"""Is the service working? The numbers behind the console's banner, /healthz, the metrics
and `disrupt doctor`. Counts and ages only: nothing here names a case, a URL or a person."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import STOPPED_STATUSES, Case, ReportedURL
from disrupt.operations.models import WorkerHeartbeat
from disrupt.platforms.models import RemovalRequest


@dataclass(frozen=True)
class HealthLimits:
    tick_seconds: float
    stale_ticks: int
    check_lag_seconds: float

    @classmethod
    def from_config(cls, config: Any) -> HealthLimits:
        return cls(tick_seconds=float(config["WORKER_TICK_SECONDS"]),
                   stale_ticks=int(config["HEARTBEAT_STALE_TICKS"]),
                   check_lag_seconds=float(config["CHECK_LAG_ALERT_SECONDS"]))

    @property
    def stale_after(self) -> timedelta:
        # The heartbeat job runs on its own scheduler thread: a long batch of checks does
        # not delay it.
        return timedelta(seconds=self.tick_seconds * self.stale_ticks)


@dataclass
class Health:
    checked_at: datetime
    worker_seen_at: datetime | None
    workers_alive: int
    due_urls: int
    oldest_due_at: datetime | None
    outbox_failed: int
    outbox_queued: int
    oldest_queued_at: datetime | None
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def age(self, moment: datetime | None) -> float | None:
        return None if moment is None else max(0.0, (self.checked_at - moment).total_seconds())

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "problem",
            "checked_at": self.checked_at.isoformat(),
            "database": "ok",
            "worker": {"alive": self.workers_alive,
                       "last_seen_seconds_ago": self.age(self.worker_seen_at)},
            "checks": {"due": self.due_urls, "lag_seconds": self.age(self.oldest_due_at)},
            "outbox": {"failed": self.outbox_failed, "queued": self.outbox_queued,
                       "oldest_queued_seconds_ago": self.age(self.oldest_queued_at)},
            "problems": [{"code": code, "message": message} for code, message in self.problems],
        }


def beat(session: Session, *, worker: str, started_at: datetime, now: datetime) -> None:
    """Record that ``worker`` is alive now (one row per worker, upserted)."""
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        session.add(WorkerHeartbeat(worker=worker, started_at=started_at, seen_at=now))
    else:
        row.seen_at = now


def forget_silent_workers(session: Session, *, now: datetime, older_than: timedelta) -> int:
    """Drop heartbeats of workers silent for longer than ``older_than`` (restarted
    processes get a new name each time)."""
    rows = list(session.scalars(select(WorkerHeartbeat)
                                .where(WorkerHeartbeat.seen_at < now - older_than)))
    for row in rows:
        session.delete(row)
    return len(rows)


def assess(session: Session, *, now: datetime, limits: HealthLimits) -> Health:
    stale = now - limits.stale_after
    seen_at = session.scalar(select(func.max(WorkerHeartbeat.seen_at)))
    alive = session.scalar(select(func.count()).select_from(WorkerHeartbeat)
                           .where(WorkerHeartbeat.seen_at >= stale)) or 0
    due = (select(func.count(), func.min(ReportedURL.next_check_at))
           .join(Case, Case.id == ReportedURL.case_id)
           .where(ReportedURL.next_check_at <= now, Case.status.not_in(STOPPED_STATUSES)))
    due_urls, oldest_due = session.execute(due).one()
    failed = session.scalar(select(func.count()).select_from(RemovalRequest)
                            .where(RemovalRequest.status == "failed")) or 0
    queued, oldest_queued = session.execute(
        select(func.count(), func.min(RemovalRequest.created_at))
        .where(RemovalRequest.status == "queued")).one()
    health = Health(checked_at=now, worker_seen_at=seen_at, workers_alive=alive,
                    due_urls=due_urls or 0, oldest_due_at=oldest_due,
                    outbox_failed=failed, outbox_queued=queued or 0,
                    oldest_queued_at=oldest_queued)
    if seen_at is None:
        health.problems.append(("no_worker", "No worker has ever run: start `disrupt worker`."))
    elif not alive:
        health.problems.append((
            "worker_silent",
            f"No worker seen for {_duration(health.age(seen_at))}: URLs are not being checked "
            "and notices are not being sent. Restart `disrupt worker`."))
    lag = health.age(oldest_due)
    if lag is not None and lag > limits.check_lag_seconds:
        health.problems.append((
            "checks_late",
            f"{health.due_urls} URL checks are due, the oldest for {_duration(lag)}: the "
            "figures and what victims read are getting old."))
    if failed:
        health.problems.append((
            "outbox_failed",
            f"{failed} removal request{'s' if failed > 1 else ''} could not be sent: see "
            "Requests and retry."))
    return health


def _duration(seconds: float | None) -> str:
    seconds = seconds or 0.0
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
