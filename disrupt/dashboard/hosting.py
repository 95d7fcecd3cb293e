"""Takedown by hosting country and host type, as INHOPE reports them (issue 16): over the
URLs notified in a period, joined with what the worker traced of their host. Read from the
facts (one row per URL), so it serves a year's report, not the live page."""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import ReportedURL
from disrupt.dashboard.casework import nearest_rank
from disrupt.dashboard.models import TakedownFact
from disrupt.platforms.escalation import delisted_urls
from disrupt.tracing.models import HostTrace
from disrupt.translatable import N_

HOST_TYPES = {"platform": N_("a known platform"), "cdn": N_("behind a CDN"),
              "hosting": N_("a hosting provider"), "untraced": N_("not traced yet")}


def host_type(on_platform: bool, trace: Any) -> str:
    """``trace``: the host's trace (a row with its ``status`` and ``cdn``), or None."""
    if on_platform:
        return "platform"
    if trace is None or trace.status == "pending":
        return "untraced"
    return "cdn" if trace.cdn else "hosting"


def hosting_figures(session: Session, *, since: date, until: date) -> dict[str, Any]:
    """Rate and median time to removal per hosting country and per host type, over the URLs
    whose first request was sent in [since, until). Withdrawn and erased cases count too.
    A URL a search engine delisted and that is not removed counts apart
    (``delisted_only``): hidden from results is not removed.

    Counted by the database per host (and whether the URL is on a known platform); only the
    removal times of removed URLs come back one by one, for the exact medians."""
    on_platform = TakedownFact.url_platform_id != 0
    by_host = (select(ReportedURL.host, on_platform).select_from(TakedownFact)
               .join(ReportedURL, ReportedURL.id == TakedownFact.reported_url_id)
               .where(TakedownFact.sent_day >= since, TakedownFact.sent_day < until))
    per_host = (ReportedURL.host, on_platform)
    states = session.execute(by_host.add_columns(TakedownFact.state, func.count())
                             .group_by(*per_host, TakedownFact.state)).all()
    delisted = session.execute(by_host.add_columns(func.count()).where(
        TakedownFact.state != "removed", TakedownFact.reported_url_id.in_(delisted_urls()))
        .group_by(*per_host)).all()
    traces = {row.host: row for row in session.execute(
        select(HostTrace.host, HostTrace.status, HostTrace.cdn, HostTrace.network)
        .where(HostTrace.host.in_(by_host.with_only_columns(ReportedURL.host).distinct())))}
    cells = _Cells(traces)
    for host, platform, state, count in states:
        for cell in cells.of(host, platform):
            cell["urls"] += count
            if state in ("removed", "online"):
                cell[state] += count
    for host, platform, count in delisted:
        for cell in cells.of(host, platform):
            cell["delisted_only"] += count
    for host, platform, upper_s in session.execute(by_host.add_columns(TakedownFact.upper_s)
                                                   .where(TakedownFact.state == "removed",
                                                          TakedownFact.upper_s.is_not(None))):
        for cell in cells.of(host, platform):
            cell["hours"].append(upper_s / 3600)
    return {kind: [_figures(key, cell) for key, cell in sorted(
        by_key.items(), key=lambda item: (-item[1]["urls"], item[0]))]
        for kind, by_key in cells.groups.items()}


class _Cells:
    """The counters per country and per host type; a (host, on a known platform) pair's two
    cells are found once."""

    def __init__(self, traces: dict[str, Any]) -> None:
        self.traces = traces
        self.groups: dict[str, dict[str, dict[str, Any]]] = {
            "country": defaultdict(_empty), "host_type": defaultdict(_empty)}
        self._found: dict[tuple[str | None, bool], tuple[dict[str, Any], ...]] = {}

    def of(self, host: str | None, platform: bool) -> tuple[dict[str, Any], ...]:
        key = (host, bool(platform))
        if key not in self._found:
            trace = self.traces.get(host) if host is not None else None
            country = ((trace.network or {}).get("country") if trace else None) or "unknown"
            self._found[key] = (self.groups["country"][country],
                                self.groups["host_type"][host_type(key[1], trace)])
        return self._found[key]


def _empty() -> dict[str, Any]:
    return {"urls": 0, "removed": 0, "online": 0, "delisted_only": 0, "hours": []}


def _figures(key: str, cell: dict[str, Any]) -> dict[str, Any]:
    known = cell["removed"] + cell["online"]
    median = nearest_rank(cell["hours"], 0.5)
    return {"key": key, "urls_notified": cell["urls"], "removed": cell["removed"],
            "online": cell["online"], "delisted_only": cell["delisted_only"],
            "takedown_rate": cell["removed"] / known if known else None,
            "median_hours_upper": None if median is None else round(median, 1)}
