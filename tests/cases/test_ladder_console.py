"""The escalation ladder on the console (issue 16, item 3): the case page shows each rung
with its state, dates, deadline and why one is skipped; the next rung is a POST (CSRF,
audited); a web form's step is recorded as submitted, then its outcome; the queue marks the
stuck addresses with their next rung in words; nothing for a withdrawn case."""
from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.accounts.models import AuditEvent
from disrupt.cases.models import Case
from disrupt.db import utcnow
from disrupt.platforms.models import EscalationStep, RemovalRequest
from disrupt.platforms.services import record_reply
from tests.platforms.test_ladder import _rejected_url
from tests.support.staff import staff_client
from tests.support.web import csrf_token


@pytest.fixture
def rejected(db) -> tuple[int, int]:
    """A case with an address whose platform rejected the notice a day ago: (case, URL) ids."""
    with db.session() as s:
        case, url = _rejected_url(s, utcnow() - timedelta(days=1))
        s.commit()
        return case.id, url.id


def _page(client, case_id: int) -> str:
    answer = client.get(f"/console/cases/{case_id}")
    assert answer.status_code == 200
    return html.unescape(answer.get_data(as_text=True))


def _ladder(page: str, url_id: int) -> str:
    return page.split(f'id="ladder-{url_id}"', 1)[1].split('class="ladder"', 1)[0]


def test_the_ladder_on_the_case_page_and_the_queue(app, db, rejected):
    case_id, url_id = rejected
    client = staff_client(app, "cw@example.org")
    ladder = _ladder(_page(client, case_id), url_id)
    assert "stuck" in ladder and "rejected" in ladder
    assert "answer: Does not violate our terms." in ladder
    assert "No CDN in front of this host (from the trace)." in ladder
    assert "Registrar unknown" in ladder
    assert "Next rung: notice to the hosting provider (Tiny Hosting SAS)" in ladder
    queue = html.unescape(client.get("/console/").get_data(as_text=True))
    assert 'class="stuck"' in queue and "next: notice to the hosting provider" in queue

    token = csrf_token(client, f"/console/cases/{case_id}")
    path = f"/console/cases/{case_id}/urls/{url_id}/ladder"
    assert client.post(path, data={"rung": "host"}).status_code == 400  # no CSRF token
    answer = client.post(path, data={"csrf_token": token, "rung": "google"})
    assert answer.status_code == 302
    with db.session() as s:
        assert s.scalars(select(EscalationStep)).all() == []  # not the next rung
    answer = client.post(path, data={"csrf_token": token, "rung": "host"})
    assert answer.status_code == 302 and answer.location.endswith(f"#ladder-{url_id}")
    with db.session() as s:
        [step] = s.scalars(select(EscalationStep)).all()
        assert (step.rung, step.status, step.request.status) == ("host", "notice", "queued")
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "climb_ladder"))
        assert (event.case_id, event.record_id, event.detail["rung"]) == \
            (case_id, step.id, "host")
        # The hosting provider sends its notice back too.
        request = s.get(RemovalRequest, step.request_id)
        request.status, request.sent_at = "sent", utcnow()
        record_reply(s, request, status="rejected", reason="Not our customer.", now=utcnow())
        s.commit()

    assert client.post(path, data={"csrf_token": token, "rung": "google"}).status_code == 302
    with db.session() as s:
        google = s.scalar(select(EscalationStep).where(EscalationStep.rung == "google"))
        assert google.status == "prepared"
        google_id = google.id
    ladder = _ladder(_page(client, case_id), url_id)
    assert "https://support.google.com/websearch/answer/6302812" in ladder
    assert "Request to remove from search results" in ladder
    assert "Record as submitted now" in ladder

    answer = client.post(f"/console/cases/{case_id}/ladder/{google_id}/submitted",
                         data={"csrf_token": token, "their_reference": "G-42"})
    assert answer.status_code == 302
    answer = client.post(f"/console/cases/{case_id}/ladder/{google_id}/outcome",
                         data={"csrf_token": token, "outcome": "accepted"})
    assert answer.status_code == 302
    with db.session() as s:
        google = s.get(EscalationStep, google_id)
        assert (google.status, google.their_reference) == ("accepted", "G-42")
        assert google.deadline_at - google.submitted_at == timedelta(days=14)
        actions = set(s.scalars(select(AuditEvent.action).where(
            AuditEvent.record_type == "escalation_steps")))
        assert actions == {"climb_ladder", "ladder_submitted", "ladder_outcome"}
        assert s.get(Case, case_id).urls[0].state == "online"
    ladder = _ladder(_page(client, case_id), url_id)
    assert "delisted from search results (not a removal of the page)" in ladder
    assert "Next rung: delisting request to Microsoft Bing" in ladder
    # The text is in French or English, as the caseworker chooses (the case's by default).
    answer = client.post(f"/console/cases/{case_id}/urls/{url_id}/ladder",
                         data={"csrf_token": token, "rung": "bing", "language": "fr"})
    assert answer.status_code == 302
    with db.session() as s:
        bing = s.scalar(select(EscalationStep).where(EscalationStep.rung == "bing"))
        assert bing.language == "fr" and "Demande de déréférencement" in bing.prepared_text
        assert "\u00a0: " in bing.prepared_text


def test_a_withdrawn_case_shows_no_rung_to_take_and_refuses_one(app, db, rejected):
    case_id, url_id = rejected
    client = staff_client(app, "cw@example.org")
    token = csrf_token(client, f"/console/cases/{case_id}")
    with db.session() as s:
        s.get(Case, case_id).status = "withdrawn"
        s.commit()
    page = _page(client, case_id)
    assert "Next rung" not in _ladder(page, url_id)
    answer = client.post(f"/console/cases/{case_id}/urls/{url_id}/ladder",
                         data={"csrf_token": token, "rung": "host"}, follow_redirects=True)
    assert "Not done: The victim has withdrawn this case" in html.unescape(
        answer.get_data(as_text=True))
    with db.session() as s:
        assert s.scalars(select(EscalationStep)).all() == []
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "climb_ladder")) \
            is None
    queue = client.get("/console/?status=withdrawn").get_data(as_text=True)
    assert 'class="stuck"' not in queue
