"""One rule for "is this hash shared": the Python function and the SQL expression agree on
every combination, and every place that shows or uses a sharing state follows it (the hash
exchange, the case page, the victim's page, the notices)."""
from __future__ import annotations

import html
import itertools
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.cases import sharing
from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.db import utcnow
from disrupt.platforms.exchange.models import APIClient
from disrupt.platforms.exchange.services import (
    CONSOLE_SHARING_WORDS,
    create_api_client,
    fetch_hash_records,
)
from disrupt.platforms.models import Platform
from disrupt.platforms.notices import render_notice_text
from disrupt.platforms.services import add_platform
from disrupt.victims.status import hash_words
from tests.platforms.support import NOTIFIER
from tests.support.staff import staff_client

CONSENTS = (True, False)
AGE_GROUPS = ("adult", "minor", "unknown")
QUALITIES = (None, 0, 30, 90)
APPROVALS = (False, True)
# (case status, hash status): as the withdrawal and erasure listeners leave them, and a
# stopped case whose hash a listener has not reached yet.
STATUSES = (("in_progress", "active"), ("in_progress", "withdrawn"), ("withdrawn", "active"),
            ("withdrawn", "withdrawn"), ("erased", "deleted"))
COMBINATIONS = list(itertools.product(CONSENTS, AGE_GROUPS, QUALITIES, APPROVALS, STATUSES))


def expected_state(consent: bool, age_group: str, quality: int | None, approved: bool,
                   statuses: tuple[str, str]) -> str:
    """The rule as issue 13 states it, written independently of disrupt/cases/sharing.py."""
    case_status, hash_status = statuses
    if case_status in ("withdrawn", "erased") or hash_status != "active":
        return sharing.WITHDRAWN
    if not consent:
        return sharing.NO_CONSENT
    if age_group in ("minor", "unknown") and not approved:
        return sharing.AWAITING_DECISION
    if (quality is None or quality < 50) and not approved:
        return sharing.WEAK
    return sharing.SHARED


def expected_listed(consent: bool, age_group: str, quality: int | None, approved: bool) -> bool:
    """Listed in the exchange (shared now, or shared before it was withdrawn)."""
    return consent and (age_group == "adult" or approved) and \
        (quality is not None and quality >= 50 or approved)


def _pdq(n: int) -> str:
    return f"{n + 1:064x}"


@pytest.fixture
def combinations(app, db):
    """One case per combination, each with one image hash whose PDQ is its index."""
    now = utcnow()
    ids = {}
    with db.session() as session:
        platform = add_platform(session, name="PicShare", domains=["picshare.example"])
        create_api_client(session, platform=platform, name="HMA", now=now)
        for n, (consent, age, quality, approved, (case_status, hash_status)) in \
                enumerate(COMBINATIONS):
            case = Case(reference=f"S-{n:05d}", status=case_status, age_group=age,
                        language="en", consent_notices=True, consent_hash_sharing=consent,
                        created_at=now, updated_at=now,
                        withdrawn_at=now if case_status == "withdrawn" else None)
            session.add(case)
            session.flush()
            media = MediaHash(case=case, kind="image", pdq=_pdq(n), pdq_quality=quality,
                              sha256=f"{n + 1:064x}"[::-1], pipeline="test", status=hash_status,
                              sharing_approved_at=now if approved else None,
                              status_changed_at=now if hash_status != "active" else None,
                              created_at=now - timedelta(minutes=5))
            session.add(media)
            session.flush()
            ids[n] = (case.id, media.id)
        session.commit()
    return ids


def test_python_and_sql_agree_with_the_rule_on_every_combination(db, combinations):
    with db.session() as session:
        rows = {media_id: (state, cleared) for media_id, state, cleared in session.execute(
            select(MediaHash.id, sharing.sharing_state_sql(), sharing.cleared_sql())
            .join(Case, Case.id == MediaHash.case_id))}
        shared_ids = set(session.scalars(select(MediaHash.id).join(Case).where(
            sharing.shared_sql())))
        for n, combination in enumerate(COMBINATIONS):
            case_id, media_id = combinations[n]
            case = session.get(Case, case_id)
            media = session.get(MediaHash, media_id)
            expected = expected_state(*combination)
            assert sharing.sharing_state(case, media) == expected, combination
            assert rows[media_id][0] == expected, combination
            assert bool(rows[media_id][1]) == sharing.is_cleared(case, media) \
                == expected_listed(*combination[:4]), combination
            assert (media_id in shared_ids) == (expected == sharing.SHARED), combination


def test_no_exchangeable_hash_agrees_in_python_and_sql(db):
    now = utcnow()
    with db.session() as session:
        case = Case(reference="S-NOHASH", status="in_progress", age_group="adult",
                    language="en", consent_hash_sharing=True, created_at=now, updated_at=now)
        session.add(case)
        session.flush()
        hashes = [MediaHash(case=case, kind="image", pdq=None, pdq_quality=90, sha256="1" * 64,
                            pipeline="t", created_at=now),
                  MediaHash(case=case, kind="video", md5=None, sha256="2" * 64, pipeline="t",
                            created_at=now),
                  MediaHash(case=case, kind="video", md5="3" * 32, sha256="4" * 64,
                            pipeline="t", created_at=now)]
        session.add_all(hashes)
        session.flush()
        by_id = dict(session.execute(select(MediaHash.id, sharing.sharing_state_sql())
                                     .join(Case).where(Case.id == case.id)).all())
        assert [by_id[m.id] for m in hashes] == [sharing.sharing_state(case, m) for m in hashes] \
            == [sharing.NO_EXCHANGEABLE_HASH, sharing.NO_EXCHANGEABLE_HASH, sharing.SHARED]


def test_exchange_lists_exactly_the_cleared_hashes_and_active_only_the_shared(
        app, db, combinations):
    with db.session() as session:
        client = session.scalars(select(APIClient)).one()
        page = fetch_hash_records(session, client=client, start_timestamp=0, page_size=1000,
                                  page_token=None, secret_key=app.config["SECRET_KEY"],
                                  now=utcnow())
    listed = {r["hashValue"]: r["hashStatus"] for r in page["hashRecords"]}
    for n, combination in enumerate(COMBINATIONS):
        value = _pdq(n)
        assert (value in listed) == expected_listed(*combination[:4]), combination
        if value in listed:
            assert (listed[value] == "Active") == \
                (expected_state(*combination) == sharing.SHARED), combination


def test_case_page_shows_the_rule_for_every_combination(app, db, combinations):
    client = staff_client(app, "worker@hotline.example", "supervisor")
    for n, combination in enumerate(COMBINATIONS):
        case_id, _ = combinations[n]
        page = client.get(f"/console/cases/{case_id}")
        if combination[4][0] == "erased":  # the console shows no erased case
            assert page.status_code == 404
            continue
        assert page.status_code == 200
        cell = re.search(r'<td class="sharing">(.*?)</td>', page.get_data(as_text=True), re.S)
        assert cell, combination
        expected = expected_state(*combination)
        assert html.unescape(cell.group(1)).strip().startswith(
            CONSOLE_SHARING_WORDS[expected]), combination
        # The caseworker's "Share it" is offered exactly where a decision is awaited.
        assert ("Share it" in cell.group(1)) == (expected in sharing.APPROVABLE_STATES)


VICTIM_WORDS = {
    sharing.SHARED: "shared with partner platforms",
    sharing.NO_CONSENT: "Not shared with platforms",
    sharing.AWAITING_DECISION: "a caseworker decides before it is shared",
    sharing.WEAK: "a caseworker decides before it is shared",
    sharing.WITHDRAWN: "no longer used or shared",
}


def test_victims_page_words_follow_the_rule_for_every_combination(app, db, combinations):
    with app.test_request_context(), db.session() as session:
        for n, combination in enumerate(COMBINATIONS):
            case_id, media_id = combinations[n]
            case = session.get(Case, case_id)
            words = hash_words(session.get(MediaHash, media_id), case)
            expected = expected_state(*combination)
            assert VICTIM_WORDS[expected] in words, (combination, words)
            if expected != sharing.SHARED:
                assert "shared with partner platforms" not in words, combination


def test_notices_carry_the_fingerprints_of_shared_hashes_only(db, combinations):
    with db.session() as session:
        platform = session.scalars(select(Platform)).one()
        for n, combination in enumerate(COMBINATIONS):
            case_id, media_id = combinations[n]
            case = session.get(Case, case_id)
            media = session.get(MediaHash, media_id)
            url = ReportedURL(id=n + 1, case_id=case.id, platform_id=platform.id,
                              url=f"https://picshare.example/{n}.jpg", host="picshare.example")
            notice = render_notice_text(case=case, platform=platform, urls=[url],
                                        legal_basis="dsa_art16", language="en",
                                        notifier=NOTIFIER, now=utcnow())
            shared = expected_state(*combination) == sharing.SHARED
            assert (media.pdq in notice.body) == shared, combination
            assert (media.sha256 in notice.body) == shared, combination
            assert case.reference not in notice.subject + notice.body
