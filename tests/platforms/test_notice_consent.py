"""Notices carry only what the victim agreed to: fingerprints of shared hashes only, never
her case reference (an opaque per-request reference, to which replies are threaded), and no
claim she did not make ("not sure" the images are intimate needs a caseworker's check)."""
from __future__ import annotations

import email
import email.policy
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.cases.models import Case, MediaHash
from disrupt.cases.services import add_reported_url
from disrupt.db import utcnow
from disrupt.platforms.channels import build_email
from disrupt.platforms.models import Platform, RemovalRequest
from disrupt.platforms.notices import NOTICE_LANGUAGES, NoticeError
from disrupt.platforms.replies import request_for_reply
from disrupt.platforms.services import (
    LEGAL_BASIS_NAMES,
    add_platform,
    queue_follow_up,
    queue_removal_request,
)
from tests.platforms.support import NOTIFIER
from tests.support.web import post_form

PDQ = "ab" * 32
SHA = "cd" * 32


def _case(session, *, consent: bool, age_group: str = "adult", quality: int | None = 90):
    now = utcnow()
    case = Case(reference=f"DSR-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:4].upper()}",
                status="in_progress", age_group=age_group, language="en",
                consent_notices=True, consent_hash_sharing=consent, created_at=now,
                updated_at=now)
    session.add(case)
    session.flush()
    session.add(MediaHash(case=case, kind="image", pdq=PDQ, pdq_quality=quality, sha256=SHA,
                          pipeline="test", created_at=now))
    add_reported_url(session, case, f"https://picshare.example/{uuid.uuid4().hex}.jpg",
                     reported_by="caseworker", now=now)
    session.flush()
    session.refresh(case)
    return case


@pytest.fixture
def platform(db):
    with db.session() as session:
        picshare = add_platform(session, name="PicShare", domains=["picshare.example"],
                                channel="email", contact="abuse@picshare.example")
        session.commit()
        return picshare.id


def _queue(session, case, legal_basis="dsa_art16", language="en", **kw):
    platform = session.scalars(select(Platform)).one()
    return queue_removal_request(session, case=case, platform=platform, urls=list(case.urls),
                                 legal_basis=legal_basis, language=language, notifier=NOTIFIER,
                                 now=utcnow(), **kw)


@pytest.mark.parametrize(("consent", "age_group", "shared"), [
    (False, "adult", False),   # she refused hash sharing
    (True, "minor", False),    # a minor's hash awaiting a caseworker's decision
    (True, "unknown", False),  # age not known: the same decision
    (True, "adult", True),     # a consenting adult with a strong hash
])
def test_fingerprints_only_for_hashes_the_rule_shares(db, platform, consent, age_group, shared):
    with db.session() as session:
        case = _case(session, consent=consent, age_group=age_group)
        request = _queue(session, case)
        assert (PDQ in request.body) is shared
        assert (SHA in request.body) is shared


@pytest.mark.parametrize("legal_basis", list(LEGAL_BASIS_NAMES))
@pytest.mark.parametrize("language", NOTICE_LANGUAGES)
def test_no_notice_or_follow_up_carries_the_case_reference(db, platform, legal_basis, language):
    with db.session() as session:
        case = _case(session, consent=True)
        request = _queue(session, case, legal_basis=legal_basis, language=language)
        session.flush()
        assert case.reference not in request.subject + request.body
        assert request.idempotency_key in request.subject
        assert request.idempotency_key in request.body
        request.status, request.sent_at = "sent", utcnow() - timedelta(days=3)
        follow_up = queue_follow_up(session, request, now=utcnow())
        session.flush()
        assert case.reference not in follow_up.subject + follow_up.body
        assert request.idempotency_key in follow_up.subject + follow_up.body


def test_follow_up_of_an_old_notice_drops_the_reference_and_withheld_fingerprints(db, platform):
    with db.session() as session:
        case = _case(session, consent=False)
        request = _queue(session, case)
        # As a notice was rendered before issue 13: case reference and every fingerprint.
        request.subject += f" – {case.reference}"
        request.body += (f"\nCase reference: {case.reference}\nImage identifiers (PDQ perceptual"
                         f" hashes, to find copies):\n  - {PDQ}\nExact file identifiers "
                         f"(SHA-256):\n  - {SHA}\n")
        request.status, request.sent_at = "sent", utcnow() - timedelta(days=3)
        follow_up = queue_follow_up(session, request, now=utcnow())
        text = follow_up.subject + follow_up.body
        assert case.reference not in text and PDQ not in text and SHA not in text
        assert "(SHA-256)" not in text and "(PDQ" not in text
        assert all(u.url in follow_up.body for u in case.urls)


def test_a_reply_quoting_the_reference_is_threaded_to_its_request(db, platform):
    with db.session() as session:
        first = _queue(session, _case(session, consent=True))
        second = _queue(session, _case(session, consent=True))
        session.commit()
        # The platform answers by e-mail, quoting our subject.
        reply = email.message_from_string(
            f"From: abuse@picshare.example\nSubject: Re: {second.subject}\n\n"
            "We removed the content.\n", policy=email.policy.default)
        found = request_for_reply(session, subject=str(reply["Subject"]),
                                  body=reply.get_body().get_content())
        assert found is not None and found.id == second.id
        # Or threaded by its In-Reply-To header, the Message-ID our notice went out with.
        sent = build_email(first, {"ORGANISATION_EMAIL": "notices@hotline.example",
                                   "ORGANISATION_NAME": "Hotline"})
        found = request_for_reply(session, subject="Your ticket 4411", body="Done.",
                                  in_reply_to=str(sent["Message-ID"]))
        assert found is not None and found.id == first.id
        # A reply to a follow-up concerns the request it follows up.
        first.status, first.sent_at = "sent", utcnow()
        follow_up = queue_follow_up(session, first, now=utcnow())
        session.flush()
        found = request_for_reply(session, in_reply_to=f"<notice-{follow_up.idempotency_key}@x>")
        assert found is not None and found.id == first.id
        assert request_for_reply(session, subject="Re: hello " + "0" * 32, body="") is None
        case_reference = session.get(Case, second.case_id).reference
        assert request_for_reply(session, subject=f"Re: {case_reference}") is None


def test_not_sure_intimate_needs_the_caseworkers_confirmation(db, platform):
    with db.session() as session:
        case = _case(session, consent=True)
        case.intimate = "unsure"  # the victim's answer on the new-case form
        assert case.intimate_answer == "unsure"
        with pytest.raises(NoticeError, match="not sure the images are intimate"):
            _queue(session, case)
        assert session.scalars(select(RemovalRequest)).all() == []
        request = _queue(session, case, intimacy_confirmed=True)
        assert request.status == "queued"
        other = _case(session, consent=True)
        other.intimate = "yes"
        assert _queue(session, other).status == "queued"


def test_the_victims_not_sure_answer_reaches_the_send_form(app, client, db, platform):
    """From the portal to the console: "not sure" is kept with the case, shown to the
    caseworker, and the send form queues nothing until she confirms."""
    from tests.support.staff import staff_client
    from tests.victims.test_portal import open_case

    reference, _ = open_case(client, intimate="unsure", urls="https://picshare.example/p/9")
    with db.session() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case.intimate == "unsure"
        case_id, url_id = case.id, case.urls[0].id
    console = staff_client(app, "cw@example.org")
    page = console.get(f"/console/cases/{case_id}").get_data(as_text=True)
    assert "not sure — confirm before sending a notice" in page
    assert 'id="intimacy-confirmation"' in page
    fields = {f"p{platform}-url_ids": str(url_id), f"p{platform}-legal_basis": "dsa_art16",
              f"p{platform}-language": "en"}
    path = f"/console/cases/{case_id}/platforms/{platform}/requests"
    refused = post_form(console, path, fields, token_from=f"/console/cases/{case_id}",
                        follow_redirects=True)
    assert "not sure the images are intimate" in refused.get_data(as_text=True)
    with db.session() as session:
        assert session.scalar(select(RemovalRequest)) is None
    post_form(console, path, {**fields, f"p{platform}-intimacy_confirmed": "y"},
              token_from=f"/console/cases/{case_id}")
    with db.session() as session:
        assert session.scalars(select(RemovalRequest)).one().case_id == case_id
