"""Statistics of DESIGN.md §8. Takes a session; never commits."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import URL_STATES, ReportedURL
from disrupt.platforms.models import Platform, RemovalRequest, removal_request_urls

SENT_STATUSES = ("sent", "acknowledged", "actioned", "rejected")


def takedown_rate(removed: int, online: int) -> float | None:
    """removed ÷ (removed + online); None when nothing is known either way."""
    return removed / (removed + online) if removed + online else None


def _figures(counts: dict[str, int]) -> dict[str, Any]:
    figures: dict[str, Any] = {state: counts.get(state, 0) for state in URL_STATES}
    figures["urls_notified"] = sum(counts.values())
    rate = takedown_rate(figures["removed"], figures["online"])
    figures["takedown_rate"] = None if rate is None else round(rate, 4)
    return figures


def takedown_statistics(
    session: Session, *, since: datetime | None = None, until: datetime | None = None,
    platform_id: int | None = None,
) -> dict[str, Any]:
    """Takedown rate over URLs for which a removal request was sent (in the period), overall
    and per platform; the states outside the rate are reported beside it."""
    notified = select(removal_request_urls.c.url_id).join(
        RemovalRequest, RemovalRequest.id == removal_request_urls.c.request_id
    ).where(RemovalRequest.status.in_(SENT_STATUSES))
    if since is not None:
        notified = notified.where(RemovalRequest.sent_at >= since)
    if until is not None:
        notified = notified.where(RemovalRequest.sent_at < until)
    query = (
        select(ReportedURL.platform_id, ReportedURL.state, func.count())
        .where(ReportedURL.id.in_(notified))
        .group_by(ReportedURL.platform_id, ReportedURL.state)
    )
    if platform_id is not None:
        query = query.where(ReportedURL.platform_id == platform_id)
    per_platform: dict[int | None, dict[str, int]] = defaultdict(dict)
    overall: dict[str, int] = defaultdict(int)
    for pid, state, count in session.execute(query):
        per_platform[pid][state] = count
        overall[state] += count
    names = dict(session.execute(select(Platform.id, Platform.name)).all())
    platforms = [
        {"platform": names.get(pid, "unknown host") if pid else "unknown host", **_figures(c)}
        for pid, c in per_platform.items()
    ]
    platforms.sort(key=lambda row: row["platform"])
    return {
        "definition": "takedown_rate = removed / (removed + online), over URLs for which a "
                      "removal request was sent; other states are shown beside it",
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "overall": _figures(overall),
        "platforms": platforms,
    }
