"""Prometheus metrics in the text exposition format. Labels are states, statuses and
verdict-like words only: no URL, host, case, reference or address in any label."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import URL_STATES, ReportedURL
from disrupt.operations.health import Health
from disrupt.platforms.models import REQUEST_STATUSES, RemovalRequest


def _line(name: str, value: float | int | None, labels: dict[str, str] | None = None) -> str:
    shown = "NaN" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    if labels:
        inner = ",".join(f'{key}="{val}"' for key, val in labels.items())
        return f"{name}{{{inner}}} {shown}"
    return f"{name} {shown}"


def exposition(session: Session, health: Health) -> str:
    urls = dict(session.execute(select(ReportedURL.state, func.count())
                                .group_by(ReportedURL.state)).all())
    checks = session.scalar(select(func.coalesce(func.sum(ReportedURL.check_count), 0))) or 0
    requests = dict(session.execute(select(RemovalRequest.status, func.count())
                                    .group_by(RemovalRequest.status)).all())
    out = [
        "# HELP disrupt_up 1 when no problem is raised (see /healthz for the reasons).",
        "# TYPE disrupt_up gauge",
        _line("disrupt_up", 1 if health.ok else 0),
        "# HELP disrupt_checks_total URL checks done since the database was created.",
        "# TYPE disrupt_checks_total counter",
        _line("disrupt_checks_total", int(checks)),
        "# HELP disrupt_urls Reported URLs by the state their last checks gave.",
        "# TYPE disrupt_urls gauge",
        *[_line("disrupt_urls", urls.get(state, 0), {"state": state}) for state in URL_STATES],
        "# HELP disrupt_removal_requests Removal requests by status (outbox and replies).",
        "# TYPE disrupt_removal_requests gauge",
        *[_line("disrupt_removal_requests", requests.get(status, 0), {"status": status})
          for status in REQUEST_STATUSES],
        "# HELP disrupt_checks_due URL checks due now (cases not stopped).",
        "# TYPE disrupt_checks_due gauge",
        _line("disrupt_checks_due", health.due_urls),
        "# HELP disrupt_check_lag_seconds How long the oldest due check has waited.",
        "# TYPE disrupt_check_lag_seconds gauge",
        _line("disrupt_check_lag_seconds", health.age(health.oldest_due_at) or 0.0),
        "# HELP disrupt_outbox_oldest_queued_seconds Age of the oldest queued notice.",
        "# TYPE disrupt_outbox_oldest_queued_seconds gauge",
        _line("disrupt_outbox_oldest_queued_seconds", health.age(health.oldest_queued_at) or 0.0),
        "# HELP disrupt_workers_alive Workers whose heartbeat is recent.",
        "# TYPE disrupt_workers_alive gauge",
        _line("disrupt_workers_alive", health.workers_alive),
        "# HELP disrupt_worker_last_seen_seconds Seconds since the newest worker heartbeat.",
        "# TYPE disrupt_worker_last_seen_seconds gauge",
        _line("disrupt_worker_last_seen_seconds", health.age(health.worker_seen_at)),
    ]
    return "\n".join(out) + "\n"
