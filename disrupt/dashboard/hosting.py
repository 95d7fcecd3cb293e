"""Takedown by hosting country and host type, as INHOPE reports them (issue 16): over the
URLs notified in a period, joined with what the worker traced of their host. Read from the
facts (one row per URL), so it serves a year's report, not the live page."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.cases.models import ReportedURL
from disrupt.dashboard.casework import nearest_rank
from disrupt.dashboard.models import TakedownFact
from disrupt.platforms.escalation import delisted_url_ids
from disrupt.tracing.models import HostTrace
from disrupt.translatable import N_

HOST_TYPES = {"platform": N_("a known platform"), "cdn": N_("behind a CDN"),
              "hosting": N_("a hosting provider"), "untraced": N_("not traced yet")}


def host_type(url_platform_id: int, trace: HostTrace | None) -> str:
    if url_platform_id:
        return "platform"
    if trace is None or trace.status == "pending":
        return "untraced"
    return "cdn" if trace.cdn else "hosting"


def hosting_figures(session: Session, *, since: date, until: date) -> dict[str, Any]:
    """Rate and median time to removal per hosting country and per host type, over the URLs
    whose first request was sent in [since, until). Withdrawn and erased cases count too.
    A URL a search engine delisted and that is not removed counts apart
    (``delisted_only``): hidden from results is not removed."""
    delisted = delisted_url_ids(session)
    rows = session.execute(
        select(TakedownFact.reported_url_id, TakedownFact.state, TakedownFact.upper_s,
               TakedownFact.url_platform_id, HostTrace)
        .join(ReportedURL, ReportedURL.id == TakedownFact.reported_url_id)
        .outerjoin(HostTrace, HostTrace.host == ReportedURL.host)
        .where(TakedownFact.sent_day >= since, TakedownFact.sent_day < until)).all()
    groups: dict[str, dict[str, dict[str, Any]]] = {"country": defaultdict(_empty),
                                                    "host_type": defaultdict(_empty)}
    for url_id, state, upper_s, url_platform_id, trace in rows:
        country = ((trace.network or {}).get("country") if trace else None) or "unknown"
        for kind, key in (("country", country), ("host_type", host_type(url_platform_id,
                                                                           trace))):
            cell = groups[kind][key]
            cell["urls"] += 1
            if state in ("removed", "online"):
                cell[state] += 1
            if state != "removed" and url_id in delisted:
                cell["delisted_only"] += 1
            if state == "removed" and upper_s is not None:
                cell["hours"].append(upper_s / 3600)
    return {kind: [_figures(key, cell) for key, cell in sorted(
        cells.items(), key=lambda item: (-item[1]["urls"], item[0]))]
        for kind, cells in groups.items()}


def _empty() -> dict[str, Any]:
    return {"urls": 0, "removed": 0, "online": 0, "delisted_only": 0, "hours": []}


def _figures(key: str, cell: dict[str, Any]) -> dict[str, Any]:
    known = cell["removed"] + cell["online"]
    median = nearest_rank(cell["hours"], 0.5)
    return {"key": key, "urls_notified": cell["urls"], "removed": cell["removed"],
            "online": cell["online"], "delisted_only": cell["delisted_only"],
            "takedown_rate": cell["removed"] / known if known else None,
            "median_hours_upper": None if median is None else round(median, 1)}
