"""The escalation ladder read from what tracing found: the facts a URL's ladder depends on
(its platform, its host's trace, its requests and steps), the ladders of a case's URLs, and
which URLs of the queue's cases are stuck and what their next rung is."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.rules import case_workable
from disrupt.platforms.escalation import platform_requests, steps_by_url, taken_rungs
from disrupt.platforms.ladder import Contact, Ladder, LadderFacts, plan_ladder
from disrupt.tracing.cdn import cdn_from_holder
from disrupt.tracing.models import HostTrace
from disrupt.tracing.services import traces_for_hosts

#: The latest check said removed (or it is being confirmed): not online any more.
NOT_ONLINE = ("removed", "removal_suspected")


def ladder_facts(url: ReportedURL, trace: HostTrace | None) -> LadderFacts:
    platform = url.platform
    facts = dict(platform_name=platform.name if platform else None,
                 platform_jurisdiction=platform.jurisdiction if platform else None,
                 removed=url.state in NOT_ONLINE)
    if trace is None or trace.traced_at is None:
        return LadderFacts(**facts)
    network = trace.network or {}
    holder = network.get("holder") or network.get("name")
    host = Contact(holder, (network.get("abuse") or {}).get("email"),
                   network.get("country")) if holder else None
    registrar = None
    if trace.registrar and trace.registrar.get("name"):
        registrar = Contact(trace.registrar["name"],
                            (trace.registrar.get("abuse") or {}).get("email"))
    return LadderFacts(**facts, traced=True, host=host, cdn=trace.cdn, registrar=registrar,
                       host_is_cdn=bool(cdn_from_holder(network.get("holder"),
                                                        network.get("name"))))


def case_ladders(session: Session, case: Case, now: datetime) -> dict[int, Ladder]:
    """Each URL's ladder, by URL id."""
    return _ladders(session, [case], now)


def _ladders(session: Session, cases: list[Case], now: datetime) -> dict[int, Ladder]:
    urls = [u for case in cases for u in case.urls]
    traces = traces_for_hosts(session, {u.host for u in urls if u.host})
    requests = platform_requests(session, urls)
    steps = steps_by_url(session, [u.id for u in urls])
    by_id = {case.id: case for case in cases}
    ladders = {}
    for url in urls:
        taken = taken_rungs(by_id[url.case_id], url, requests.get(url.id),
                            steps.get(url.id, []), now)
        ladders[url.id] = plan_ladder(ladder_facts(url, traces.get(url.host)), taken, now=now)
    return ladders


@dataclass(frozen=True)
class StuckURL:
    url: ReportedURL
    ladder: Ladder

    @property
    def next_words(self) -> str:
        if self.ladder.next is None:
            return "none left: every rung that applies was taken"
        return self.ladder.next.name


def stuck_urls(session: Session, case_ids: list[int], now: datetime
               ) -> dict[int, list[StuckURL]]:
    """For the queue's cases: their stuck URLs (not known removed, the latest rung rejected or
    overdue), with the ladder that says what the next rung is. A case the victim stopped
    has none: it never escalates."""
    if not case_ids:
        return {}
    cases = list(session.scalars(
        select(Case).where(Case.id.in_(case_ids), case_workable())
        .options(selectinload(Case.urls).selectinload(ReportedURL.platform))))
    found: dict[int, list[StuckURL]] = {}
    for url_id, ladder in _ladders(session, cases, now).items():
        if ladder.stuck:
            url = next(u for c in cases for u in c.urls if u.id == url_id)
            found.setdefault(url.case_id, []).append(StuckURL(url, ladder))
    return found
