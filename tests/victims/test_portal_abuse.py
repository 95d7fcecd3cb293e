"""The anonymous portal cannot be turned against a victim (issue 13): no lock-out by a third
party, caps and rate limits with clear messages, one case per "Open my case", and a
caseworker's case page that a flood of planted fingerprints cannot swamp."""
from __future__ import annotations

import http.client
import json
import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.cases.services import SubmittedHash, add_media_hash
from disrupt.db import utcnow
from disrupt.victims.models import LoginThrottle
from disrupt.victims.services import (
    ThrottlePolicy,
    TooManyCases,
    count_case_opening,
    purge_throttles,
    record_failure,
    reference_delay,
    throttle_key,
)
from tests.support.apps import make_test_app
from tests.support.live import serve
from tests.support.staff import staff_client
from tests.support.web import created_credentials, csrf_token, post_form

ATTACKER = {"REMOTE_ADDR": "198.51.100.66"}
VICTIM = {"REMOTE_ADDR": "192.0.2.7"}


def _hash(n: int) -> dict:
    return {"pdq": f"{n:064x}", "pdq_quality": 90, "phash": "a" * 16, "sha256": f"{n:064x}",
            "pipeline": "test-pipeline/1"}


def _case_fields(**fields: str) -> dict:
    data = {"reporter": "self", "intimate": "yes", "age_group": "adult", "language": "en",
            "consent_notices": "y", "urls": "https://pics.example/p/1"}
    data.update(fields)
    return data


def _count(app, model) -> int:
    with app.extensions["disrupt.db"].session() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def portal(database_url, tmp_path):
    made = []

    def make(**overrides):
        app = make_test_app(database_url, tmp_path, **overrides)
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["disrupt.db"].dispose()


def _open(client, **fields):
    response = post_form(client, "/case/new", _case_fields(**fields), follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return created_credentials(response.get_data(as_text=True))


# --- (3) no lock-out by a third party ------------------------------------------------------

def test_a_third_partys_wrong_secrets_never_lock_the_victim_out(portal):
    app = portal(VICTIM_CLIENT_ATTEMPTS=25, VICTIM_REFERENCE_SLOW_AFTER=20,
                 VICTIM_REFERENCE_DELAY_SECONDS=0.3)
    reference, secret = _open(app.test_client())
    attacker = app.test_client()
    token = csrf_token(attacker, "/case/follow")

    def guess(code: str):
        return attacker.post("/case/follow", data={"reference": reference, "secret": code,
                                                   "csrf_token": token}, environ_base=ATTACKER)

    assert [guess(f"WRONG-{n:04d}").status_code for n in range(25)] == [400] * 25
    # The guessing client is locked out, with words that say so and its entries kept.
    locked = guess(secret)
    html = locked.get_data(as_text=True)
    assert locked.status_code == 429 and "Too many attempts" in html
    assert f'value="{reference}"' in html
    # The victim, elsewhere, gets in with the right secret at once: slowed, never refused.
    victim = app.test_client()
    victim_token = csrf_token(victim, "/case/follow")
    started = time.monotonic()
    response = victim.post("/case/follow", data={"reference": reference, "secret": secret,
                                                 "csrf_token": victim_token},
                           environ_base=VICTIM)
    waited = time.monotonic() - started
    assert response.status_code == 302 and response.location == "/case"
    assert waited >= 0.3  # the reference is under guessing: the answer waited
    assert victim.get("/case", environ_base=VICTIM).status_code == 200
    with app.extensions["disrupt.db"].session() as s:
        assert s.scalar(select(func.count()).select_from(LoginThrottle).where(
            LoginThrottle.locked_until.is_not(None))) == 1  # the attacker's address only


def test_the_reference_slowdown_grows_is_capped_and_never_locks(app, db):
    policy = ThrottlePolicy(reference_slow_after=3, reference_max_delay=1.0, client_attempts=99,
                            lock_for=timedelta(minutes=30))
    key = throttle_key("k", "DSR-AAAA-BBBB")
    start = utcnow()
    delays = []
    with db.session() as s:
        for _ in range(7):
            delays.append(reference_delay(s, key, policy, start))
            record_failure(s, {"reference": key}, policy, start)
        s.commit()
        assert delays == [0.0, 0.0, 0.0, 0.125, 0.25, 0.5, 1.0]
        assert reference_delay(s, key, policy, start) == 1.0  # capped
        assert s.scalar(select(LoginThrottle.locked_until)) is None
        # Once the window is over, answers are immediate again.
        assert reference_delay(s, key, policy, start + timedelta(minutes=31)) == 0.0


# --- (6) caps and rate limits ----------------------------------------------------------------

def test_2000_urls_are_refused_with_a_message_and_kept(portal):
    app = portal()
    client = app.test_client()
    urls = "\n".join(f"https://pics.example/p/{n}" for n in range(2000))
    response = post_form(client, "/case/new", _case_fields(urls=urls))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Please give at most 200 addresses at once." in html
    assert "https://pics.example/p/0\n" in html and "https://pics.example/p/1999" in html
    consent = re.search(r'<input[^>]*id="consent_notices"[^>]*>', html).group(0)
    assert "checked" in consent  # the consent tick is kept
    assert _count(app, Case) == 0


def test_a_case_holds_at_most_its_cap_of_urls(portal):
    app = portal(VICTIM_URLS_PER_CASE=5, VICTIM_URLS_PER_REQUEST=4)
    client = app.test_client()
    reference, secret = _open(client, urls="https://pics.example/a\nhttps://pics.example/b")
    assert post_form(client, "/case/follow", {"reference": reference,
                                              "secret": secret}).status_code == 302
    more = "\n".join(f"https://pics.example/more/{n}" for n in range(4))
    response = post_form(client, "/case/urls", {"urls": more}, token_from="/case")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Your case already has 2 web addresses, and a case can hold 5." in html
    assert "https://pics.example/more/3" in html  # what she typed is still in the box
    too_many = "\n".join(f"https://pics.example/many/{n}" for n in range(5))
    response = post_form(client, "/case/urls", {"urls": too_many}, token_from="/case")
    assert response.status_code == 400
    assert "Please give at most 4 addresses at once." in response.get_data(as_text=True)
    assert post_form(client, "/case/urls", {"urls": "https://pics.example/c"},
                     token_from="/case").status_code == 302
    assert _count(app, ReportedURL) == 3


def test_hash_caps_per_request_and_per_case(portal):
    app = portal(VICTIM_HASHES_PER_REQUEST=10, VICTIM_HASHES_PER_CASE=12)
    client = app.test_client()
    response = post_form(client, "/case/new", _case_fields(
        hashes=json.dumps([_hash(n) for n in range(11)])))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "Please send at most 10 images at once." in html
    assert 'id="hashes-error"' in html and "https://pics.example/p/1" in html
    assert _count(app, Case) == 0
    # 200 copies of one file count once.
    reference, secret = _open(client, hashes=json.dumps([_hash(1)] * 10))
    assert _count(app, MediaHash) == 1
    post_form(client, "/case/follow", {"reference": reference, "secret": secret})
    assert post_form(client, "/case/images", {"hashes": json.dumps(
        [_hash(n) for n in range(2, 12)])}, token_from="/case").status_code == 302
    response = post_form(client, "/case/images", {"hashes": json.dumps(
        [_hash(n) for n in range(20, 22)])}, token_from="/case")
    assert response.status_code == 400
    assert ("Your case already has 11 image fingerprints, and a case can hold 12."
            in response.get_data(as_text=True))
    assert _count(app, MediaHash) == 11


class _CountingStream:
    """A request body of `size` bytes that records how much of it the app read."""

    def __init__(self, size: int) -> None:
        self.size, self.read_bytes, self.position = size, 0, 0

    def tell(self) -> int:  # the test client measures the body by seeking to its end
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.size if whence == 2 else offset
        return self.position

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n is None or n < 0 else n
        n = max(0, min(n, self.size - self.position))
        self.read_bytes += n
        self.position += n
        return b"u" * n

    def readline(self, n: int = -1) -> bytes:
        return self.read(n if n and n > 0 else 65536)


def test_an_oversized_body_is_refused_before_it_is_read(portal):
    app = portal(MAX_REQUEST_BYTES=100_000)
    client = app.test_client()
    body = _CountingStream(300 * 1024 * 1024)
    response = client.post("/case/new", input_stream=body,
                           content_type="application/x-www-form-urlencoded")
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "This form is too large to send" in html and "leave-site" in html
    assert body.read_bytes == 0  # refused on its Content-Length alone
    assert _count(app, Case) == 0
    # The same over real HTTP: the answer comes before the client has sent the body.
    with serve(app) as base:
        where = urlsplit(base)
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
        conn.putrequest("POST", "/case/new")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(300 * 1024 * 1024))
        conn.endheaders()
        conn.send(b"urls=" + b"x" * 65536)
        answer = conn.getresponse()
        assert answer.status == 413
        assert b"too large" in answer.read()
        conn.close()


def test_cases_per_client_per_hour(portal):
    app = portal(VICTIM_CASES_PER_CLIENT_HOUR=2)
    flood = app.test_client()

    def open_from(client, environ, url):
        token = csrf_token(client, "/case/new")
        return client.post("/case/new", data={**_case_fields(urls=url), "csrf_token": token},
                           environ_base=environ)

    assert [open_from(flood, ATTACKER, f"https://pics.example/{n}").status_code
            for n in range(2)] == [303, 303]
    refused = open_from(flood, ATTACKER, "https://pics.example/third")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429
    assert "2 cases were already opened from this connection in the last hour" in html
    assert "https://pics.example/third" in html  # her answers are kept
    assert _count(app, Case) == 2
    other = app.test_client()
    assert open_from(other, VICTIM, "https://pics.example/mine").status_code == 303
    assert _count(app, Case) == 3
    # Counted in the database (every web process shares it); a new hour opens again.
    with app.extensions["disrupt.db"].session() as s:
        row = s.scalar(select(LoginThrottle).where(LoginThrottle.scope == "case_open",
                                                   LoginThrottle.failures == 2))
        row.window_started_at -= timedelta(minutes=61)
        s.commit()
        policy = ThrottlePolicy.from_config(app.config)
        assert purge_throttles(s, utcnow() - timedelta(minutes=30), policy) == 0
    assert open_from(flood, ATTACKER, "https://pics.example/next-hour").status_code == 303


def test_first_case_of_an_address_is_counted_by_its_new_counter(db):
    """The counter made for an address's first case already holds that case: one case an
    hour lets the first through and refuses the second, a refusal counts nothing."""
    policy = ThrottlePolicy(reference_slow_after=3, reference_max_delay=4.0, client_attempts=5,
                            lock_for=timedelta(minutes=15), cases_per_client_hour=1)
    now = utcnow()
    with db.session() as s:
        count_case_opening(s, "first-address", policy, now)
        with pytest.raises(TooManyCases):
            count_case_opening(s, "first-address", policy, now)
        s.commit()
        assert s.scalars(select(LoginThrottle.failures).where(
            LoginThrottle.scope == "case_open")).all() == [1]


# --- (8) post/redirect/get: one case per "Open my case" --------------------------------------

def test_reloading_the_created_page_opens_no_second_case(portal):
    app = portal()
    client = app.test_client()
    response = post_form(client, "/case/new", _case_fields())
    assert response.status_code == 303 and response.location == "/case/created"
    assert "DSR-" not in response.location
    shown = client.get("/case/created")
    reference, secret = created_credentials(shown.get_data(as_text=True))
    # A reload (an accidental one, or the French page) shows the same case, opens none.
    again = client.get("/case/created?lang=fr").get_data(as_text=True)
    assert created_credentials(again) == (reference, secret)
    assert _count(app, Case) == 1
    assert post_form(client, "/case/follow", {"reference": reference,
                                              "secret": secret}).status_code == 302
    # Once she follows her case, the cookie no longer holds them.
    after = client.get("/case/created").get_data(as_text=True)
    assert secret not in after and reference not in after
    assert "Follow my case" in after
    assert _count(app, Case) == 1


def test_reload_in_chromium_opens_no_second_case(browser, sqlite_url, tmp_path):
    app = make_test_app(sqlite_url, tmp_path)
    with serve(app) as base:
        context = browser.new_context(service_workers="block")
        page = context.new_page()
        try:
            page.goto(base + "/case/new")
            page.check("#reporter-0")
            page.check("#intimate-0")
            page.check("#age_group-0")
            page.fill("#urls", "https://pics.example/p/1")
            page.check("#consent_notices")
            page.click("#case-form button[type=submit]")
            page.wait_for_selector("#case-secret")
            assert page.url == base + "/case/created"
            secret = page.inner_text("#case-secret").strip()
            page.reload()  # the browser would re-post a form; here it only asks again
            page.wait_for_selector("#case-secret")
            assert page.inner_text("#case-secret").strip() == secret
            page.click("text=Leave this site")
            page.wait_for_load_state()
            page.goto(base + "/case/created")
            page.wait_for_selector("#credentials-shown")
            assert secret not in page.content()
        finally:
            context.close()
    assert _count(app, Case) == 1
    app.extensions["disrupt.db"].dispose()


# --- a flood of planted fingerprints on the caseworker's case page ---------------------------

def test_200_cases_sharing_one_hash_do_not_swamp_the_case_page(app, db):
    client = staff_client(app, "sup@example.org", "supervisor")
    shared = SubmittedHash(kind="image", sha256="5" * 64, pipeline="t", pdq="f" * 64,
                           pdq_quality=90)
    start = utcnow()
    with db.session() as s:
        ids = []
        for n in range(200):
            case = Case(reference=f"DSR-T{n:03d}-0000", status="new", created_at=start,
                        updated_at=start)
            s.add(case)
            s.flush()
            add_media_hash(s, case, shared, start)
            ids.append(case.id)
        s.commit()
    html = client.get(f"/console/cases/{ids[0]}").get_data(as_text=True)
    matches = html[html.index('id="matches"'):html.index("Web addresses")]
    assert len(re.findall(r"<li\b", matches)) == app.config["CASE_MATCHES_PAGE_SIZE"] == 50
    assert re.search(r'id="match-count">199 matches; page 1 of 4', html)
    assert 'id="planted-hashes"' in html and "in 199 other cases" in html
    assert 'id="more-matches"' in html
    last = client.get(f"/console/cases/{ids[0]}?matches_page=4").get_data(as_text=True)
    listed = last[last.index('id="matches"'):last.index("Web addresses")]
    assert len(re.findall(r"<li\b", listed)) == 49 and 'id="more-matches"' not in last
    # A fingerprint in fewer than PLANTED_HASH_CASES other cases is not flagged.
    rare = SubmittedHash(kind="image", sha256="6" * 64, pipeline="t", pdq="0f" * 32,
                         pdq_quality=90)
    with db.session() as s:
        few = []
        for n in range(app.config["PLANTED_HASH_CASES"]):
            case = Case(reference=f"DSR-R{n:03d}-0000", status="new", created_at=start,
                        updated_at=start)
            s.add(case)
            s.flush()
            add_media_hash(s, case, rare, start)
            few.append(case.id)
        s.commit()
    html = client.get(f"/console/cases/{few[0]}").get_data(as_text=True)
    assert 'id="planted-hashes"' not in html and 'id="match-count">4 matches.' in html
