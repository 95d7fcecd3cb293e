"""The escalation ladder (issue 16, item 3): the order of the rungs and why one is skipped,
the next rung, stuck detection, and a refused URL walked up to a delisting request and a
regulator report through the real services, each with its deadline; nothing for a case the
victim stopped."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.cases.models import ReportedURL
from disrupt.db import utcnow
from disrupt.platforms.escalation import (
    Escalation,
    delisted_urls,
    record_step_outcome,
    record_step_submitted,
    take_rung,
)
from disrupt.platforms.ladder import RUNGS, Contact, LadderFacts, Taken, plan_ladder
from disrupt.platforms.models import EscalationStep, Platform, RemovalRequest
from disrupt.platforms.notices import NoticeError
from disrupt.platforms.services import (
    add_platform,
    claim_queued_requests,
    queue_removal_request,
    record_delivery,
    record_reply,
)
from disrupt.tracing.ladders import case_ladders, stuck_urls
from disrupt.tracing.models import HostTrace
from disrupt.victims.services import erase_case, withdraw_case
from tests.platforms.support import NOTIFIER, make_case

NOW = utcnow()
HOST = Contact("Tiny Hosting SAS", "abuse@tinyhost.test", "FR")


def _taken(rung: str, state: str, **kw) -> Taken:
    return Taken(rung, state, NOW - timedelta(days=3), NOW - timedelta(days=1), "X", **kw)


def test_order_and_skipped_rungs_say_why():
    ladder = plan_ladder(LadderFacts(platform_name="Slowtube", platform_jurisdiction="FR"),
                         {}, now=NOW)
    assert [v.rung for v in ladder.rungs] == list(RUNGS)
    views = {v.rung: v for v in ladder.rungs}
    assert [r for r, v in views.items() if v.applies] == ["platform", "google", "bing",
                                                          "regulator"]
    assert "Not traced yet" in views["host"].reason
    assert "Not traced yet" in views["registrar"].reason
    assert views["regulator"].body.name == "Arcom"
    assert "did not reject" in views["dsa_complaint"].reason
    assert ladder.next.rung == "platform" and ladder.may_climb and not ladder.stuck

    traced = LadderFacts(platform_name="Slowtube", platform_jurisdiction="JP", traced=True,
                         host=HOST)
    views = {v.rung: v for v in plan_ladder(traced, {}, now=NOW).rungs}
    assert views["host"].applies and views["host"].contact == HOST
    assert views["cdn"].reason == "No CDN in front of this host (from the trace)."
    assert views["registrar"].reason.startswith("Registrar unknown")
    assert "No regulator listed for JP" in views["regulator"].reason

    behind = LadderFacts(platform_name="P", traced=True, cdn="Cloudflare",
                         host=Contact("Cloudflare, Inc.", "abuse@cloudflare.test", "US"),
                         host_is_cdn=True,
                         registrar=Contact("Reg Inc.", "abuse@reg.test"))
    views = {v.rung: v for v in plan_ladder(behind, {}, now=NOW).rungs}
    assert not views["host"].applies and "hidden behind it" in views["host"].reason
    assert views["cdn"].applies and views["cdn"].contact.email == "abuse@cloudflare.test"
    assert views["registrar"].applies
    assert views["regulator"].body.name == "Federal Trade Commission"
    headers_only = LadderFacts(platform_name="P", traced=True, cdn="Cloudflare", host=HOST)
    cdn = plan_ladder(headers_only, {}, now=NOW).rungs[2]
    assert not cdn.applies and "https://abuse.cloudflare.com/" in cdn.reason
    own_host = LadderFacts(platform_name=HOST.name, traced=True, host=HOST)
    assert "its own hosting provider" in plan_ladder(own_host, {}, now=NOW).rungs[1].reason


def test_next_rung_stuck_and_dsa_rungs():
    facts = LadderFacts(platform_name="Slowtube", platform_jurisdiction="FR", traced=True,
                        host=HOST)
    rejected = _taken("platform", "rejected", legal_basis="lcen_art6",
                      rejected_at=NOW - timedelta(days=2))
    ladder = plan_ladder(facts, {"platform": rejected}, now=NOW)
    assert ladder.stuck and ladder.may_climb and ladder.next.rung == "host"
    views = {v.rung: v for v in ladder.rungs}
    # A French platform's rejection is under the DSA, whatever basis the notice named.
    assert views["dsa_complaint"].applies and views["dsa_settlement"].applies

    late = _taken("platform", "rejected", legal_basis="take_it_down",
                  rejected_at=NOW - timedelta(days=200))
    views = {v.rung: v for v in plan_ladder(facts, {"platform": late}, now=NOW).rungs}
    assert "six months" in views["dsa_complaint"].reason
    us = LadderFacts(platform_name="ClipHub", platform_jurisdiction="US")
    views = {v.rung: v for v in plan_ladder(us, {"platform": late}, now=NOW).rungs}
    assert "not under the DSA" in views["dsa_settlement"].reason

    waiting = plan_ladder(facts, {"platform": _taken("platform", "waiting")}, now=NOW)
    assert not waiting.stuck and not waiting.may_climb and "Waiting for" in \
        waiting.waiting_reason
    overdue = plan_ladder(facts, {"platform": _taken("platform", "overdue")}, now=NOW)
    assert overdue.stuck and overdue.next.rung == "host"
    # Search engines only hide the page: once submitted, the climb goes on.
    delisting = plan_ladder(facts, {"platform": rejected,
                                    "google": _taken("google", "waiting")}, now=NOW)
    assert not delisting.stuck and delisting.may_climb and delisting.next.rung == "bing"
    prepared = plan_ladder(facts, {"platform": rejected,
                                   "google": _taken("google", "prepared")}, now=NOW)
    assert not prepared.may_climb
    removed = LadderFacts(platform_name="Slowtube", removed=True)
    gone = plan_ladder(removed, {"platform": rejected}, now=NOW)
    assert not gone.stuck and gone.next is None


# --- through the services, on both databases -------------------------------------------------

def _trace(host: str, now) -> HostTrace:
    network = {"handle": "NET-1", "name": "TINY-NET", "country": "FR",
               "holder": HOST.name, "abuse": {"name": "Abuse", "email": HOST.email}}
    return HostTrace(host=host, origin=f"http://{host}", status="ok", addresses=["127.0.0.9"],
                     network=network, registrar=None, cdn=None, cdn_evidence=None,
                     evidence=[], problems=[], traced_at=now,
                     next_trace_at=now + timedelta(days=1))


def _deliver(s, request, now):
    """What the worker does once it sent the notice (tests/platforms/test_sending.py sends
    real ones)."""
    assert claim_queued_requests(s, worker="w", now=now, lease=timedelta(minutes=5)) == \
        [request.id]
    s.refresh(request)
    assert record_delivery(s, request, worker="w", now=now)


def _rejected_url(s, now):
    """A Slowtube URL (France) whose notice was sent and rejected; its host traced."""
    platform = add_platform(s, name="Slowtube", domains=["slowtube.test"], channel="email",
                            contact="legal@slowtube.test", jurisdiction="FR",
                            default_legal_basis="lcen_art6")
    case = make_case(s, ["http://slowtube.test/watch/1"], now=now)
    s.add(_trace("slowtube.test", now))
    url = case.urls[0]
    request = queue_removal_request(s, case=case, platform=platform, urls=[url],
                                    legal_basis="lcen_art6", language="en",
                                    notifier=NOTIFIER, now=now)
    s.flush()
    _deliver(s, request, now)
    record_reply(s, request, status="rejected", reason="Does not violate our terms.",
                 now=now + timedelta(hours=2))
    url.state = "online"
    s.flush()
    return case, url


def _climb(s, case, url, rung, now):
    ladder = case_ladders(s, case, now)[url.id]
    step = take_rung(s, case=case, url=url, ladder=ladder, rung=rung,
                     who=Escalation(NOTIFIER, None), now=now)
    s.flush()
    return step


def test_a_refused_url_walks_up_to_delisting_and_a_regulator_report(db):
    t0 = NOW - timedelta(days=10)
    with db.session() as s:
        case, url = _rejected_url(s, t0)
        assert [c.url for u in stuck_urls(s, [case.id], t0 + timedelta(hours=3))[case.id]
                for c in [u.url]] == [url.url]

        host = _climb(s, case, url, "host", t0 + timedelta(hours=3))
        request = host.request
        assert (host.status, request.status, request.recipient) == \
            ("notice", "queued", HOST.email)
        assert request.urls == [url] and request.legal_basis == "dsa_art16"
        assert "Escalation: this content was notified before (Slowtube on" in request.body
        assert "it was rejected" in request.body and case.reference not in request.body
        learned = s.scalar(select(Platform).where(Platform.name == HOST.name))
        assert learned.domains == [] and url.platform.name == "Slowtube"  # host not taken
        with pytest.raises(NoticeError, match="Waiting for the notice to the hosting"):
            _climb(s, case, url, "google", t0 + timedelta(hours=4))
        _deliver(s, request, t0 + timedelta(hours=4))

        later = t0 + timedelta(days=3)  # the host's 48 h have passed
        ladder = case_ladders(s, case, later)[url.id]
        states = {v.rung: v.state_words for v in ladder.rungs}
        assert states["host"] == "no answer by the deadline" and ladder.stuck
        assert states["cdn"] == states["registrar"] == "skipped"
        assert ladder.next.rung == "google"

        google = _climb(s, case, url, "google", later)
        assert google.status == "prepared" and google.deadline_at is None
        assert google.form_url == "https://support.google.com/websearch/answer/6302812"
        assert url.url in google.prepared_text and case.reference not in google.prepared_text
        assert "ab" * 32 not in google.prepared_text  # no fingerprint in a web form's text
        assert "Does not violate our terms." in google.prepared_text
        record_step_submitted(s, google, answer_days=14, now=later, their_reference="G-1")
        assert google.deadline_at == later + timedelta(days=14)

        bing = _climb(s, case, url, "bing", later)
        record_step_submitted(s, bing, answer_days=14, now=later)
        record_step_outcome(s, google, outcome="accepted", now=later + timedelta(days=1))
        assert set(s.scalars(delisted_urls())) == {url.id}
        regulator = _climb(s, case, url, "regulator", later + timedelta(days=1))
        assert regulator.recipient == "Arcom" and regulator.language == "fr"
        assert "Signalement" in regulator.prepared_text and url.url in regulator.prepared_text
        # what the report says of the page is what the checks saw, with its date
        seen = (url.last_seen_online_at.strftime("%Y-%m-%d %H:%M UTC")
                if url.last_seen_online_at else "—")
        assert ("Vues en ligne pour la dernière fois par nos vérifications\u00a0: "
                f"{seen}") in regulator.prepared_text
        assert "toujours en ligne" not in regulator.prepared_text
        record_step_submitted(s, regulator, answer_days=30, now=later + timedelta(days=1))
        s.commit()
        url_id, case_id = url.id, case.id

    with db.session() as s:
        url = s.get(ReportedURL, url_id)
        assert url.state == "online"  # delisted from Google: never "removed"
        ladder = case_ladders(s, url.case, later + timedelta(days=2))[url_id]
        views = {v.rung: v for v in ladder.rungs}
        assert views["google"].state_words.startswith("delisted from search results")
        assert all(views[r].taken.deadline is not None for r in
                   ("platform", "host", "google", "bing", "regulator"))
        assert not ladder.stuck and ladder.next.rung == "dsa_complaint"
        # The regulator's deadline passes with no answer: stuck again.
        assert case_ladders(s, url.case, later + timedelta(days=40))[url_id].stuck
        assert s.scalar(select(EscalationStep.id).where(
            EscalationStep.case_id == case_id, EscalationStep.rung == "cdn")) is None


@pytest.mark.parametrize("status", ["withdrawn", "erased"])
def test_a_stopped_case_never_escalates_at_any_rung(db, status):
    t0 = NOW - timedelta(days=10)
    with db.session() as s:
        case, url = _rejected_url(s, t0)
        google = EscalationStep(case_id=case.id, reported_url_id=url.id, rung="google",
                                status="prepared", recipient="Google Search", language="en",
                                reference="r" * 32, prepared_text="x", created_at=t0)
        bing = EscalationStep(case_id=case.id, reported_url_id=url.id, rung="bing",
                              status="submitted", recipient="Microsoft Bing", language="en",
                              reference="s" * 32, prepared_text="x", created_at=t0,
                              submitted_at=t0, deadline_at=t0 + timedelta(days=1))
        s.add_all([google, bing])
        s.flush()
        ladder = case_ladders(s, case, NOW)[url.id]
        (withdraw_case if status == "withdrawn" else erase_case)(s, case, NOW)
        s.flush()
        for rung in ("host", "regulator", "dsa_complaint", "dsa_settlement"):
            with pytest.raises(NoticeError, match=f"The victim has {status}"):
                take_rung(s, case=case, url=url, ladder=ladder, rung=rung,
                          who=Escalation(NOTIFIER, None), now=NOW)
        with pytest.raises(NoticeError, match=f"The victim has {status}"):
            record_step_submitted(s, google, answer_days=14, now=NOW)
        with pytest.raises(NoticeError, match=f"The victim has {status}"):
            record_step_outcome(s, bing, outcome="accepted", now=NOW)
        assert stuck_urls(s, [case.id], NOW) == {}
        assert s.scalar(select(RemovalRequest.id).where(
            RemovalRequest.platform_id != url.platform_id)) is None
        assert (google.status, bing.status) == ("prepared", "submitted")
        s.refresh(google)
        # An erasure scrubs the prepared text (it quotes the URL); a withdrawal keeps it.
        assert google.prepared_text == (None if status == "erased" else "x")
