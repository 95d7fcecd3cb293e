"""The demo's escalation walk (disrupt/demo/escalation.py): Slowtube never removes anything,
so its URL shows a rejected notice, the hosting provider's notice past its deadline, the
CDN and registrar skipped with their reason, delisting requests and a regulator report, each
with its deadline; the URL is never counted as removed."""
from __future__ import annotations

from sqlalchemy import select

from disrupt.cases.models import ReportedURL
from disrupt.db import utcnow
from disrupt.demo.escalation import seed_escalation
from disrupt.platforms.models import EscalationStep
from disrupt.platforms.services import add_platform, queue_removal_request
from disrupt.tracing.ladders import case_ladders
from tests.platforms.support import NOTIFIER, make_case


def test_the_demo_walks_slowtube_up_the_ladder(db):
    now = utcnow()
    with db.session() as s:
        assert seed_escalation(s, caseworker_id=None, notifier=NOTIFIER, now=now) == []
        slowtube = add_platform(s, name="Slowtube", domains=["127.0.0.4"], channel="email",
                                contact="legal@slowtube.demo", jurisdiction="FR",
                                default_legal_basis="lcen_art6")
        case = make_case(s, ["http://127.0.0.4:8080/watch/a3.jpg"], now=now)
        queue_removal_request(s, case=case, platform=slowtube, urls=case.urls,
                              legal_basis="lcen_art6", language="en", notifier=NOTIFIER,
                              now=now)
        s.flush()
        steps = seed_escalation(s, caseworker_id=None, notifier=NOTIFIER, now=now)
        assert [step.rung for step in steps] == ["host", "google", "bing", "regulator"]
        s.commit()
        url_id = case.urls[0].id

    with db.session() as s:
        url = s.get(ReportedURL, url_id)
        ladder = case_ladders(s, url.case, now)[url_id]
        views = {v.rung: v for v in ladder.rungs}
        assert views["platform"].state_words == "rejected"
        assert views["host"].state_words == "no answer by the deadline"
        assert views["host"].taken.recipient == "Demo Hosting SARL"
        assert "No CDN in front" in views["cdn"].reason
        assert views["registrar"].reason.startswith("Registrar unknown")
        for rung in ("platform", "host", "google", "bing", "regulator"):
            taken = views[rung].taken
            assert taken.at is not None and taken.deadline is not None, rung
            assert taken.at < now, rung  # the seeded history is in the past
        assert views["regulator"].taken.recipient == "Arcom"
        assert {v.taken.state for v in views.values() if v.rung in ("google", "bing",
                                                                   "regulator")} == {"waiting"}
        assert ladder.next.rung == "dsa_complaint"
        assert url.state != "removed" and url.removed_at is None
        assert s.scalar(select(EscalationStep.id).where(EscalationStep.rung == "cdn")) is None
