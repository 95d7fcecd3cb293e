"""A legal hold ends with its referral (issue 17, item 4): a caseworker closes the referral to
PHAROS or the police on the referral page; the evidence feature, listening to
`referral_closed`, ends the hold placed for it, and the victim's erasure then deletes the
captures. Pages served by a real HTTP server on 127.0.0.4. SQLite and PostgreSQL."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from disrupt.accounts.models import AuditEvent
from disrupt.cases.models import Case, Referral
from disrupt.db import utcnow
from disrupt.evidence.jobs import run_pending_captures
from disrupt.evidence.models import Capture, CustodyEntry, EvidenceHold
from disrupt.evidence.services import (
    EvidenceError,
    active_hold,
    evidence_panel,
    place_hold,
    queue_capture,
    verify_chain,
)
from disrupt.platforms.referrals import close_referral
from disrupt.security import canonical_code, hash_secret
from disrupt.victims.services import open_case
from tests.monitoring.test_judgement import Site
from tests.support.staff import PASSWORD, make_user
from tests.support.web import login, post_form

SECRET = "AAAA-BBBB-CCCC-DDDD"
WARNING = "we must keep our copies of the web pages as evidence"
PAGE = (b"<html><head><title>Thread</title></head><body><h1>Posted</h1>"
        b"<p>Quote reply report share.</p></body></html>")


@pytest.fixture
def site():
    server = Site("127.0.0.4").start()
    server.routes["/thread"] = (200, PAGE, "text/html; charset=utf-8")
    yield server
    server.stop()


@pytest.fixture
def caseworker(app) -> tuple[Any, int]:
    user_id = make_user(app, "cw@example.org")
    client = app.test_client()
    login(client, "cw@example.org", PASSWORD)
    return client, user_id


def _captured_case(app, db, site) -> int:
    """An adult's case whose page was captured, with a code the victim follows it with."""
    with db.session() as s:
        case, _ = open_case(s, age_group="adult", language="fr", consent_notices=True,
                            consent_hash_sharing=False, contact=None,
                            urls=[site.url("/thread")], hashes=[],
                            cipher=app.extensions["disrupt.cipher"], now=utcnow())
        s.flush()
        case.secret_hash = hash_secret(canonical_code(SECRET))
        queue_capture(s, case, reported_url_id=case.urls[0].id, url=case.urls[0].url,
                      trigger="manual", now=utcnow())
        s.commit()
        case_id = case.id
    assert run_pending_captures(db, app.config, now=utcnow) >= 1
    return case_id


def _referral(db, case_id: int, recipient: str) -> int:
    with db.session() as s:
        referral = Referral(case_id=case_id, recipient=recipient, sent_at=utcnow(),
                            summary="Summary as sent.")
        s.add(referral)
        s.commit()
        return referral.id


def _place_hold(client, case_id: int, referral_id: int) -> None:
    response = post_form(client, f"/console/cases/{case_id}/evidence/hold",
                         {"referral_id": referral_id}, token_from=f"/console/cases/{case_id}")
    assert response.status_code == 302


def _close(client, case_id: int, referral_id: int, outcome: str = ""):
    return post_form(client, f"/console/cases/{case_id}/referrals/{referral_id}/close",
                     {"outcome": outcome}, token_from=f"/console/cases/{case_id}/referral")


def _victim(app, db, case_id: int):
    with db.session() as s:
        reference = s.get(Case, case_id).reference
    victim = app.test_client()
    assert post_form(victim, "/case/follow", {"reference": reference, "secret": SECRET}
                     ).status_code == 302
    return victim


@pytest.mark.parametrize("recipient", ["pharos", "police"])
def test_closing_the_referral_ends_its_hold_and_erasure_then_deletes(
        app, db, site, caseworker, recipient):
    client, user_id = caseworker
    case_id = _captured_case(app, db, site)
    referral_id = _referral(db, case_id, recipient)
    _place_hold(client, case_id, referral_id)
    victim = _victim(app, db, case_id)
    assert WARNING in victim.get("/case").get_data(as_text=True)

    response = _close(client, case_id, referral_id, "  Investigation closed, no charges.  ")
    assert response.status_code == 302

    with db.session() as s:
        referral = s.get(Referral, referral_id)
        assert referral.closed_at is not None and referral.closed_by_id == user_id
        assert referral.outcome == "Investigation closed, no charges."
        [hold] = s.scalars(select(EvidenceHold)).all()
        assert hold.lifted_at is not None and hold.lifted_by_id == user_id
        assert active_hold(s, case_id) is None
        last = s.scalars(select(CustodyEntry).order_by(CustodyEntry.id.desc())).first()
        assert (last.action, last.actor) == ("hold_lifted", "referral closed")
        assert last.detail == {"case_id": case_id, "referral_id": referral_id}
        assert verify_chain(s) is None
        audited = s.scalars(select(AuditEvent).where(AuditEvent.action == "close_referral")).all()
        assert [(a.actor_id, a.record_type, a.record_id, a.case_id) for a in audited] == [
            (user_id, "referrals", referral_id, case_id)]
    page = client.get(f"/console/cases/{case_id}/referral").get_data(as_text=True)
    assert "Investigation closed, no charges." in page
    assert f'action="/console/cases/{case_id}/referrals/{referral_id}/close"' not in page

    assert WARNING not in victim.get("/case").get_data(as_text=True)
    assert WARNING not in victim.get("/case/erase").get_data(as_text=True)
    response = post_form(victim, "/case/erase", {"confirm": "y"}, token_from="/case/erase")
    assert response.status_code == 200
    with db.session() as s:
        assert s.scalars(select(Capture)).all() == []
        assert s.get(Referral, referral_id).outcome is None  # personal: scrubbed
        assert verify_chain(s) is None
    assert list(Path(app.config["EVIDENCE_DIR"]).glob(f"{case_id}-*")) == []


def test_closing_another_referral_leaves_the_hold(app, db, site, caseworker):
    client, _ = caseworker
    held_case = _captured_case(app, db, site)
    held_referral = _referral(db, held_case, "police")
    hotline = _referral(db, held_case, "hotline:Internet Watch Foundation")
    other_case = _captured_case(app, db, site)
    other_referral = _referral(db, other_case, "pharos")
    _place_hold(client, held_case, held_referral)
    _place_hold(client, other_case, other_referral)

    assert _close(client, held_case, hotline).status_code == 302
    assert _close(client, other_case, other_referral).status_code == 302
    with db.session() as s:
        assert active_hold(s, other_case) is None
        hold = active_hold(s, held_case)
        assert hold is not None and hold.referral_id == held_referral
        assert s.scalar(select(func.count()).select_from(CustodyEntry).where(
            CustodyEntry.action == "hold_lifted")) == 1
    assert WARNING in _victim(app, db, held_case).get("/case").get_data(as_text=True)
    # A referral is closed from its own case's page only.
    assert _close(client, held_case, other_referral).status_code == 404


def test_closing_twice_is_refused_with_a_message(app, db, site, caseworker):
    client, _ = caseworker
    case_id = _captured_case(app, db, site)
    referral_id = _referral(db, case_id, "police")
    _place_hold(client, case_id, referral_id)
    assert _close(client, case_id, referral_id, "Dropped.").status_code == 302
    with db.session() as s:
        closed_at = s.get(Referral, referral_id).closed_at

    again = _close(client, case_id, referral_id, "Second try.")
    assert again.status_code == 400
    assert "Not closed: this referral is already closed." in again.get_data(as_text=True)
    with db.session() as s:
        referral = s.get(Referral, referral_id)
        assert (referral.closed_at, referral.outcome) == (closed_at, "Dropped.")
        assert s.scalar(select(func.count()).select_from(CustodyEntry).where(
            CustodyEntry.action == "hold_lifted")) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "close_referral")) == 1
        with pytest.raises(ValueError, match="already closed"):
            close_referral(s, referral, now=utcnow())


def test_a_too_long_outcome_is_refused_and_kept(app, db, site, caseworker):
    client, _ = caseworker
    case_id = _captured_case(app, db, site)
    referral_id = _referral(db, case_id, "pharos")
    _place_hold(client, case_id, referral_id)
    outcome = "Their answer. " * 200
    response = _close(client, case_id, referral_id, outcome)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "the outcome is longer than 2000 characters" in page
    assert outcome.strip() in page  # the caseworker's text is in the form again
    with db.session() as s:
        assert s.get(Referral, referral_id).closed_at is None
        assert active_hold(s, case_id) is not None


def test_a_closed_referral_gets_no_new_hold(app, db, site, caseworker):
    client, _ = caseworker
    case_id = _captured_case(app, db, site)
    referral_id = _referral(db, case_id, "police")
    assert _close(client, case_id, referral_id).status_code == 302
    with db.session() as s:
        case = s.get(Case, case_id)
        assert s.get(Referral, referral_id).outcome is None
        assert evidence_panel(s, case).referrals == []
        with pytest.raises(EvidenceError, match="closed"):
            place_hold(s, case, referral_id, user_id=None, actor="test", now=utcnow())
    response = post_form(client, f"/console/cases/{case_id}/evidence/hold",
                         {"referral_id": referral_id}, token_from=f"/console/cases/{case_id}")
    assert response.status_code == 302
    with db.session() as s:
        assert active_hold(s, case_id) is None
