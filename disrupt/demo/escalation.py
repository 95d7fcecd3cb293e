"""The demo's escalation ladder: Slowtube never removes anything, so its seeded URL walks up
the ladder through the real services, with back-dated times (the demo compresses time): the
notice rejected, a notice to the hosting provider past its deadline, the CDN and registrar
skipped (none in the trace), delisting requests to Google and Bing and a report to the
regulator submitted, each with its deadline."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, ReportedURL
from disrupt.platforms.escalation import Escalation, record_step_submitted, take_rung
from disrupt.platforms.models import EscalationStep, Platform, RemovalRequest
from disrupt.platforms.notices import Notifier
from disrupt.platforms.services import claim_queued_requests, record_delivery, record_reply
from disrupt.tracing.ladders import case_ladders
from disrupt.tracing.models import HostTrace

SEED_WORKER = "demo-seed"
DEMO_HOSTING = {"holder": "Demo Hosting SARL", "abuse": "abuse@hosting.demo", "country": "FR"}


def _deliver(session: Session, request: RemovalRequest, when: datetime) -> None:
    """Recorded as delivered at ``when`` (the seeded history), as the worker records it."""
    request.created_at = min(request.created_at, when)
    request.next_attempt_at = when
    session.flush()
    claimed = claim_queued_requests(session, worker=SEED_WORKER, now=when,
                                    lease=timedelta(minutes=5))
    session.refresh(request)
    if request.id not in claimed or not record_delivery(session, request, worker=SEED_WORKER,
                                                        now=when):
        raise RuntimeError(f"the demo could not record request {request.id} as delivered")


def _demo_trace(session: Session, host: str, origin: str, now: datetime) -> None:
    """A fictional trace of the simulated host (loopback has no RDAP record), unless one is
    there already; the worker leaves it alone for a month."""
    if session.scalar(select(HostTrace.id).where(HostTrace.host == host)) is not None:
        return
    network = {"handle": "DEMO-NET", "name": "DEMO-HOSTING-NET",
               "holder": DEMO_HOSTING["holder"], "country": DEMO_HOSTING["country"],
               "abuse": {"name": "Abuse desk", "email": DEMO_HOSTING["abuse"]}}
    session.add(HostTrace(host=host, origin=origin, status="ok", addresses=[host],
                          network=network, registrar=None, cdn=None, cdn_evidence=None,
                          evidence=[{"url": "demo: fictional trace, no RDAP lookup",
                                     "status": None, "at": now.isoformat()}],
                          problems=[], traced_at=now, next_trace_at=now + timedelta(days=30)))
    session.flush()


def _climb(session: Session, case: Case, url: ReportedURL, rung: str, who: Escalation,
           when: datetime) -> EscalationStep:
    ladder = case_ladders(session, case, when)[url.id]
    step = take_rung(session, case=case, url=url, ladder=ladder, rung=rung, who=who, now=when)
    session.flush()
    return step


def seed_escalation(session: Session, *, caseworker_id: int, notifier: Notifier,
                    now: datetime) -> list[EscalationStep]:
    """Walk the first seeded Slowtube URL with a queued notice up the ladder; returns the
    steps taken (none when the demo has no such URL)."""
    request = session.scalar(
        select(RemovalRequest).join(Platform, Platform.id == RemovalRequest.platform_id)
        .where(Platform.name == "Slowtube", RemovalRequest.status == "queued")
        .order_by(RemovalRequest.id))
    if request is None or not request.urls:
        return []
    case, url = session.get(Case, request.case_id), request.urls[0]
    assert case is not None
    start = now - timedelta(days=12)
    _demo_trace(session, url.host, url.url.split(url.host, 1)[0] + url.host, start)
    _deliver(session, request, start)
    record_reply(session, request, status="rejected", now=start + timedelta(days=1),
                 reason="After review, this content does not violate our terms of service.",
                 author_id=caseworker_id)
    who = Escalation(notifier, caseworker_id)
    host = _climb(session, case, url, "host", who, start + timedelta(days=1))
    assert host.request is not None
    _deliver(session, host.request, start + timedelta(days=1, hours=1))
    steps = [host]
    for rung, day in (("google", 4), ("bing", 4), ("regulator", 5)):
        step = _climb(session, case, url, rung, who, start + timedelta(days=day))
        body = next(v.body for v in case_ladders(session, case, start + timedelta(days=day))
                    [url.id].rungs if v.rung == rung)
        assert body is not None
        record_step_submitted(session, step, answer_days=body.answer_days,
                              now=start + timedelta(days=day, hours=1),
                              author_id=caseworker_id)
        steps.append(step)
    return steps
