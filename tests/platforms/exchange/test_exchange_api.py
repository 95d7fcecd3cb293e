"""The hash exchange against the real `threatexchange` StopNCII client, over real HTTP."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select
from threatexchange.exchanges.clients.stopncii.api import (
    StopNCIIAPI,
    StopNCIICaseStatus,
    StopNCIICSPFeedbackValue,
    StopNCIIEndpoint,
    StopNCIISignalType,
)

from disrupt.cases.models import Case, MediaHash
from disrupt.cases.services import SubmittedHash
from disrupt.db import utcnow
from disrupt.platforms.exchange.models import HashFeedback
from disrupt.platforms.exchange.services import create_api_client, latest_feedback
from disrupt.platforms.services import add_platform
from disrupt.security import DataCipher
from disrupt.victims.services import open_case


def pdq(n: int) -> str:
    return f"{n:064x}"


def _case(session, app, *, hashes, minor=False, consent=True, quality=90, when=None):
    cipher = DataCipher(app.config["DATA_KEY"])
    submitted = [SubmittedHash(kind="image", sha256=f"{h:064x}", pipeline="test", pdq=pdq(h),
                               pdq_quality=quality, phash="0" * 16) for h in hashes]
    case, _ = open_case(session, age_group="minor" if minor else "adult", language="en",
                        consent_notices=True, consent_hash_sharing=consent, contact=None,
                        urls=[], hashes=submitted, cipher=cipher, now=when or utcnow())
    session.flush()
    return case


def _client(base_url, subscription, secret, *extra):
    keys = {endpoint: secret for endpoint in extra}
    return StopNCIIAPI(subscription, secret, additional_function_keys=keys,
                       base_url_override=f"{base_url}/api/exchange/v1")


@pytest.fixture
def exchange(app, db, live_server):
    past = utcnow() - timedelta(minutes=10)
    with db.session() as session:
        alpha = add_platform(session, name="Alpha", domains=["alpha.example"])
        beta = add_platform(session, name="Beta", domains=["beta.example"])
        _, alpha_key = client_a = create_api_client(session, platform=alpha, name="HMA", now=past)
        client_b, beta_key = create_api_client(session, platform=beta, name="HMA", now=past)
        # 30 shared hashes over 3 cases, plus what must not be shared.
        for start in (1, 11, 21):
            _case(session, app, hashes=range(start, start + 10), when=past)
        _case(session, app, hashes=[100], minor=True, when=past)       # minor, not approved
        _case(session, app, hashes=[101], consent=False, when=past)    # no consent
        _case(session, app, hashes=[102], quality=30, when=past)       # weak PDQ
        session.commit()
        keys = {"alpha": (client_a[0].subscription_key, alpha_key),
                "beta": (client_b.subscription_key, beta_key)}
    return keys


def test_full_fetch_over_pages_then_incremental_and_feedback(app, db, live_server, exchange):
    sub, secret = exchange["alpha"]
    client = _client(live_server, sub, secret, StopNCIIEndpoint.SubmitFeedback)
    pages = []
    token = ""
    while True:
        page = client.fetch_hashes(page_size=7, start_timestamp=0, next_page=token)
        pages.append(page)
        if not page.hasMoreRecords:
            break
        token = page.nextPageToken
    records = [r for p in pages for r in p.hashRecords]
    assert len(pages) == 5 and [len(p.hashRecords) for p in pages] == [7, 7, 7, 7, 2]
    assert sorted(r.hashValue for r in records) == sorted(pdq(n) for n in range(1, 31))
    assert {r.hashStatus for r in records} == {StopNCIICaseStatus.Active}
    assert {r.signalType for r in records} == {StopNCIISignalType.ImagePDQ}
    with db.session() as session:
        references = set(session.scalars(select(Case.reference)))
    numbers = {n for r in records for n in r.caseNumbers}
    assert len(numbers) == 3 and not numbers & references
    checkpoint = pages[-1].nextSetTimestamp

    # New case, withdrawn case, erased case: the increment carries exactly these.
    with db.session() as session:
        _case(session, app, hashes=[41, 42])
        withdrawn = session.scalar(select(Case).join(MediaHash).where(MediaHash.pdq == pdq(1)))
        erased = session.scalar(select(Case).join(MediaHash).where(MediaHash.pdq == pdq(11)))
        moment = utcnow()
        withdrawn.status, withdrawn.withdrawn_at = "withdrawn", moment
        erased.status, erased.erased_at = "erased", moment
        for media in erased.hashes:
            media.status, media.status_changed_at = "deleted", moment
        session.commit()
    changed = {r.hashValue: r for p in client.fetch_hashes_iter(start_timestamp=checkpoint)
               for r in p.hashRecords}
    assert set(changed) == {pdq(n) for n in (41, 42, *range(1, 11), *range(11, 21))}
    assert changed[pdq(41)].hashStatus == StopNCIICaseStatus.Active
    assert changed[pdq(5)].hashStatus == StopNCIICaseStatus.Withdrawn
    assert changed[pdq(15)].hashStatus == StopNCIICaseStatus.Deleted

    # Feedback reaches the database and the record.
    client.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(25), StopNCIICSPFeedbackValue.Blocked,
                           {"hma"})
    with db.session() as session:
        stored = latest_feedback(session, [pdq(25)])[pdq(25)]
        assert [(f.platform.name, f.value, f.tags) for f in stored] == [("Alpha", "Blocked",
                                                                         ["hma"])]
    again = {r.hashValue: r for p in client.fetch_hashes_iter(start_timestamp=checkpoint)
             for r in p.hashRecords}
    feedback = again[pdq(25)].CSPFeedbacks
    assert [(f.source, f.feedbackValue) for f in feedback] == [
        ("Alpha", StopNCIICSPFeedbackValue.Blocked)]


def test_case_numbers_differ_per_platform(live_server, exchange):
    seen = {}
    for name in ("alpha", "beta"):
        client = _client(live_server, *exchange[name])
        seen[name] = {r.hashValue: set(r.caseNumbers)
                      for p in client.fetch_hashes_iter(start_timestamp=0) for r in p.hashRecords}
    assert seen["alpha"].keys() == seen["beta"].keys()
    alpha_numbers = set().union(*seen["alpha"].values())
    beta_numbers = set().union(*seen["beta"].values())
    assert len(alpha_numbers) == len(beta_numbers) == 3 and not alpha_numbers & beta_numbers


def test_minor_hash_appears_only_after_approval(app, db, live_server, exchange):
    client = _client(live_server, *exchange["alpha"])

    def values():
        return {r.hashValue for p in client.fetch_hashes_iter(start_timestamp=0)
                for r in p.hashRecords}

    assert pdq(100) not in values() and pdq(101) not in values() and pdq(102) not in values()
    with db.session() as session:
        for value in (100, 102):
            media = session.scalar(select(MediaHash).where(MediaHash.pdq == pdq(value)))
            media.sharing_approved_at = utcnow()
        session.commit()
    assert {pdq(100), pdq(102)} <= values() and pdq(101) not in values()


@pytest.mark.parametrize("headers", [
    {},
    {"Ocp-Apim-Subscription-Key": "dsr-unknown", "x-functions-key": "nope"},
    "wrong-secret",
    "revoked",
])
def test_wrong_or_revoked_keys_are_refused(app, db, live_server, exchange, headers):
    sub, secret = exchange["alpha"]
    if headers == "wrong-secret":
        headers = {"Ocp-Apim-Subscription-Key": sub, "x-functions-key": secret + "x"}
    elif headers == "revoked":
        from disrupt.platforms.exchange.models import APIClient
        with db.session() as session:
            client = session.scalar(select(APIClient).where(APIClient.subscription_key == sub))
            client.revoked_at = utcnow()
            session.commit()
        headers = {"Ocp-Apim-Subscription-Key": sub, "x-functions-key": secret}
    response = requests.get(f"{live_server}/api/exchange/v1/FetchHashes", headers=headers,
                            timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "unknown, wrong or revoked key"}


def test_plain_exports_and_submitted_hashes(db, live_server, exchange):
    sub, secret = exchange["beta"]
    headers = {"Ocp-Apim-Subscription-Key": sub, "x-functions-key": secret}
    csv_text = requests.get(f"{live_server}/api/exchange/v1/export.csv", headers=headers,
                            timeout=10).text
    lines = csv_text.strip().splitlines()
    assert lines[0] == "signal_type,hash_value,status,last_modified" and len(lines) == 31
    jsonl = requests.get(f"{live_server}/api/exchange/v1/export.jsonl", headers=headers,
                         timeout=10).text.strip().splitlines()
    assert len(jsonl) == 30 and '"status": "Active"' in jsonl[0]
    client = _client(live_server, sub, secret, StopNCIIEndpoint.SubmitHashes)
    client.submit_hash(StopNCIISignalType.ImagePDQ, pdq(999))
    from disrupt.platforms.exchange.models import PartnerHash
    with db.session() as session:
        (submitted,) = session.scalars(select(PartnerHash)).all()
        assert (submitted.hash_value, submitted.feedback_value) == (pdq(999), "Blocked")
        assert session.scalar(select(HashFeedback.id)) is None
    bad = requests.post(f"{live_server}/api/exchange/v1/SubmitFeedback", headers=headers,
                        json={"count": 1, "hashFeedbacks": [{"hashValue": pdq(1),
                                                              "feedbackValue": "Maybe"}]},
                        timeout=10)
    assert bad.status_code == 400 and "unknown feedbackValue" in bad.json()["error"]
    time.sleep(0)


def test_feedback_shows_on_case_page_and_caseworker_approves_minor_hash(
        app, db, live_server, exchange):
    from disrupt.accounts.services import create_user
    from tests.support.web import login, post_form

    with db.session() as session:
        create_user(session, email="cw@example.org", name="Casey", password="a long passphrase",
                    role="supervisor", now=utcnow())
        session.commit()
        minor_case = session.scalar(select(Case).join(MediaHash).where(MediaHash.pdq == pdq(100)))
        adult_case = session.scalar(select(Case).join(MediaHash).where(MediaHash.pdq == pdq(3)))
        minor_case_id, adult_case_id = minor_case.id, adult_case.id
        minor_hash_id = minor_case.hashes[0].id
    api = _client(live_server, *exchange["alpha"], StopNCIIEndpoint.SubmitFeedback)
    api.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(3), StopNCIICSPFeedbackValue.NotBlocked)
    api.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(3), StopNCIICSPFeedbackValue.Blocked)

    console = app.test_client()
    login(console, "cw@example.org", "a long passphrase")
    page = console.get(f"/console/cases/{adult_case_id}").get_data(as_text=True)
    assert "Alpha: Blocked" in page and "Alpha: NotBlocked" not in page
    minor_page = f"/console/cases/{minor_case_id}"
    assert "awaiting a caseworker&#39;s decision (minor)" in console.get(minor_page).get_data(
        as_text=True)

    def shared():
        return {r.hashValue for p in api.fetch_hashes_iter(start_timestamp=0)
                for r in p.hashRecords}

    assert pdq(100) not in shared()
    response = post_form(console, f"{minor_page}/hashes/{minor_hash_id}/share", {},
                         token_from=minor_page)
    assert response.status_code == 302
    assert pdq(100) in shared()
    assert "shared with partner platforms" in console.get(minor_page).get_data(as_text=True)


def test_victim_reads_platform_feedback_in_plain_words(app, db, live_server, exchange):
    from tests.support.web import post_form

    with db.session() as session:
        cipher = DataCipher(app.config["DATA_KEY"])
        submitted = [SubmittedHash(kind="image", sha256=f"{n:064x}", pipeline="t", pdq=pdq(n),
                                   pdq_quality=90, phash="0" * 16) for n in (70, 71, 72)]
        case, secret = open_case(session, age_group="adult", language="en",
                                 consent_notices=True, consent_hash_sharing=True, contact=None,
                                 urls=[], hashes=submitted, cipher=cipher, now=utcnow())
        session.commit()
        reference = case.reference
    api = _client(live_server, *exchange["beta"], StopNCIIEndpoint.SubmitFeedback)
    api.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(70), StopNCIICSPFeedbackValue.Blocked)
    api.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(71),
                        StopNCIICSPFeedbackValue.PendingReview)
    victim = app.test_client()
    response = post_form(victim, "/case/follow", {"reference": reference, "secret": secret})
    assert response.status_code == 302
    page = victim.get("/case").get_data(as_text=True)
    assert "Beta blocks copies of it." in page
    assert "Beta is reviewing it." in page
    assert page.count("Beta ") == 2


def test_dashboard_counts_hashes_blocked_per_platform(app, db, live_server, exchange):
    from disrupt.accounts.services import create_user
    from tests.support.web import login

    alpha = _client(live_server, *exchange["alpha"], StopNCIIEndpoint.SubmitFeedback)
    beta = _client(live_server, *exchange["beta"], StopNCIIEndpoint.SubmitFeedback)
    for value in (1, 2, 3):
        alpha.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(value),
                              StopNCIICSPFeedbackValue.Blocked)
    # Alpha changes its mind on hash 3: its newest word counts.
    alpha.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(3), StopNCIICSPFeedbackValue.NotBlocked)
    beta.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(3), StopNCIICSPFeedbackValue.Blocked)
    beta.submit_feedback(StopNCIISignalType.ImagePDQ, pdq(4),
                         StopNCIICSPFeedbackValue.PendingReview)
    with db.session() as session:
        create_user(session, email="sv@example.org", name="Sam", password="a long passphrase",
                    role="supervisor", now=utcnow())
        session.commit()
    console = app.test_client()
    login(console, "sv@example.org", "a long passphrase")
    figures = console.get("/console/dashboard/stats.json").get_json()["hash_exchange"]
    # blocked somewhere: hashes 1 and 2 (Alpha) and 3 (Beta) = 3
    assert figures == {"blocked_somewhere": 3, "platforms": [
        {"platform": "Alpha", "blocked": 2, "not_blocked": 1, "pending_review": 0},
        {"platform": "Beta", "blocked": 1, "not_blocked": 0, "pending_review": 1}]}
    csv_text = console.get("/console/dashboard/export/hash_exchange.csv").get_data(as_text=True)
    assert csv_text.splitlines()[1:] == ["Alpha,2,1,0", "Beta,1,0,1"]
