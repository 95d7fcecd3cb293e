"""The victim portal through its HTTP routes, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.accounts.models import AuditEvent, WebSession
from disrupt.cases.models import PRIORITY_MINOR, Case, MediaHash, Message, Note, ReportedURL
from disrupt.db import utcnow
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import add_platform
from disrupt.security import DataCipher
from disrupt.victims.models import LoginThrottle
from tests.support.apps import make_test_app
from tests.support.web import created_credentials, csrf_token, post_form
from tests.victims.privacy import assert_no_personal_data

PDQ = "f" * 16 + "0" * 48
HASH = {"pdq": PDQ, "pdq_quality": 90, "phash": "a" * 16, "sha256": "b" * 64,
        "width": 640, "height": 480, "pipeline": "test-pipeline/1", "label": "beach photo"}


def open_case(client, **fields):
    data = {"reporter": "self", "intimate": "yes", "age_group": "adult", "language": "en",
            "consent_notices": "y", "consent_hash_sharing": "y",
            "urls": "https://pics.example/p/1\nexample.net/u/2", "contact": "me@example.org",
            "hashes": json.dumps([HASH])}
    data.update(fields)
    response = post_form(client, "/case/new", data, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return created_credentials(response.get_data(as_text=True))


def follow(client, reference, secret):
    return post_form(client, "/case/follow", {"reference": reference, "secret": secret})


def test_open_case_stores_hashes_urls_and_encrypted_contact(app, client, db):
    reference, secret = open_case(client)
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.reference == reference))
        assert case.reporter == "self" and case.consent_hash_sharing
        assert b"me@example.org" not in case.contact_encrypted
        assert DataCipher(app.config["DATA_KEY"]).decrypt(case.contact_encrypted) == \
            "me@example.org"
        assert sorted(u.url for u in case.urls) == ["https://example.net/u/2",
                                                    "https://pics.example/p/1"]
        assert [(h.pdq, h.label, h.status) for h in case.hashes] == [(PDQ, "beach photo",
                                                                      "active")]
        assert secret not in case.secret_hash
    # Shown once: the reference is in no URL and no title of what follows.
    page = follow(client, reference, secret)
    assert page.status_code == 302 and page.location == "/case"
    html = client.get("/case").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert reference not in title and "pics.example" not in title
    assert "https://pics.example/p/1" in html and "beach photo" in html


def test_minor_case_gets_guidance_priority_and_no_automatic_sharing(client, db):
    response = post_form(client, "/case/new", {
        "reporter": "supporter", "intimate": "yes", "age_group": "minor", "language": "en",
        "consent_notices": "y", "consent_hash_sharing": "y", "urls": "https://pics.example/m",
        "hashes": json.dumps([HASH])}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "child sexual abuse material" in html and "PHAROS" in html
    reference, secret = created_credentials(html)
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.reference == reference))
        assert case.priority == PRIORITY_MINOR and case.reporter == "supporter"
        assert all(h.sharing_approved_at is None for h in case.hashes)
    follow(client, reference, secret)
    status = client.get("/case").get_data(as_text=True)
    assert "a caseworker decides before it is shared" in status


def test_bad_input_is_explained_next_to_the_field_and_kept(client, db):
    response = post_form(client, "/case/new", {
        "reporter": "self", "intimate": "yes", "age_group": "adult", "language": "en",
        "urls": "https://fine.example/a\nnot a url at all\nftp://files.example/x",
        "contact": "not-an-email"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="urls-error"' in html and 'aria-invalid="true"' in html
    # One message per refused line, not one per word.
    assert "“ftp://files.example/x”" in html and "“not a url at all”" in html
    assert "“url”" not in html and html.count("<li>“") == 2
    # What was understood is said, and the error sits above the field it is about.
    assert "Understood as web addresses: https://fine.example/a" in html
    assert html.index('id="urls-error"') < html.index('<textarea')
    assert 'aria-describedby="urls-hint urls-error"' in html
    assert "https://fine.example/a" in html  # what was typed is kept
    assert 'id="contact-error"' in html and 'value="not-an-email"' in html
    assert 'id="consent_notices-error"' in html
    assert 'class="error-summary"' in html
    with db.session() as s:
        assert s.scalar(select(Case.id)) is None
    # "Not intimate" is outside what the service does, and says where else to go.
    response = post_form(client, "/case/new", {
        "reporter": "self", "intimate": "no", "age_group": "adult", "language": "en",
        "urls": "https://fine.example/a", "consent_notices": "y"})
    assert response.status_code == 400 and "Other help" in response.get_data(as_text=True)


def test_every_form_needs_its_csrf_token(client):
    reference, secret = open_case(client)
    for path in ("/case/new", "/case/follow", "/language"):
        assert client.post(path, data={"language": "fr"}).status_code == 400
    follow(client, reference, secret)
    for path in ("/case/urls", "/case/images", "/case/messages", "/case/withdraw",
                 "/case/erase", "/case/leave"):
        assert client.post(path, data={"confirm": "y", "body": "x"}).status_code == 400, path


def test_follow_add_url_add_image_and_write(client, db):
    reference, secret = open_case(client)
    assert follow(client, reference.lower().replace("-", " "), secret.lower()).status_code == 302
    response = post_form(client, "/case/urls", {"urls": "https://new.example/x\n"
                                                        "https://pics.example/p/1"},
                         token_from="/case")
    assert response.status_code == 302
    second = dict(HASH, sha256="c" * 64, label=None)
    assert post_form(client, "/case/images", {"hashes": json.dumps([second])},
                     token_from="/case").status_code == 302
    assert post_form(client, "/case/messages", {"body": "Is there any news?"},
                     token_from="/case").status_code == 302
    bad = post_form(client, "/case/urls", {"urls": "nonsense"}, token_from="/case")
    assert bad.status_code == 400 and "“nonsense”" in bad.get_data(as_text=True)
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.reference == reference))
        assert len(case.urls) == 3 and len(case.hashes) == 2
        message = s.scalar(select(Message).where(Message.case_id == case.id))
        assert message.direction == "from_victim" and b"news" not in message.body_encrypted
    html = client.get("/case").get_data(as_text=True)
    assert "Is there any news?" in html and "https://new.example/x" in html


def test_withdraw_takes_hashes_out_and_stops_the_work(client, db):
    reference, secret = open_case(client)
    follow(client, reference, secret)
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.reference == reference))
        platform = add_platform(s, name="PicShare", domains=["pics.example"])
        s.flush()
        s.add(RemovalRequest(case_id=case.id, platform_id=platform.id, legal_basis="dsa_art16",
                             language="en", channel="email", subject="s", body="b",
                             idempotency_key="k1", status="queued", created_at=utcnow()))
        s.commit()
    # A confirmation step first: without the tick nothing happens.
    assert client.get("/case/withdraw").status_code == 200
    assert post_form(client, "/case/withdraw", {}).status_code == 400
    with db.session() as s:
        assert s.scalar(select(Case.status).where(Case.reference == reference)) == "new"
    assert post_form(client, "/case/withdraw", {"confirm": "y"}).status_code == 302
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.reference == reference))
        assert case.status == "withdrawn" and case.withdrawn_at is not None
        assert [(h.status, h.status_changed_at is not None) for h in case.hashes] == [
            ("withdrawn", True)]
        assert s.scalar(select(RemovalRequest.status)) == "failed"
    html = client.get("/case").get_data(as_text=True)
    assert "You withdrew this case" in html and "No longer checked" in html
    refused = post_form(client, "/case/urls", {"urls": "https://more.example/"},
                        token_from="/case")
    assert refused.status_code == 400


def test_erase_leaves_no_personal_data(app, client, db):
    reference, secret = open_case(client)
    follow(client, reference, secret)
    post_form(client, "/case/messages", {"body": "My ex posted these, please help"},
              token_from="/case")
    now = utcnow()
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.reference == reference))
        stored_secret_hash = case.secret_hash
        platform = add_platform(s, name="PicShare", domains=["pics.example"])
        s.flush()
        url = next(u for u in case.urls if "pics.example" in u.url)
        url.platform_id = platform.id
        cipher = DataCipher(app.config["DATA_KEY"])
        s.add(Note(case_id=case.id, body_encrypted=cipher.encrypt("note text"), created_at=now))
        request = RemovalRequest(case_id=case.id, platform_id=platform.id,
                                 legal_basis="dsa_art16", language="en", channel="email",
                                 subject="Removal of https://pics.example/p/1",
                                 body="Please remove https://pics.example/p/1",
                                 idempotency_key="k2", status="sent", created_at=now,
                                 sent_at=now)
        request.urls.append(url)
        s.add(request)
        s.add(URLCheck(reported_url_id=url.id, due_at=now, checked_at=now, verdict="online",
                       reason="200 at https://pics.example/p/1", http_status=200,
                       final_url="https://pics.example/p/1?x=1", detector_version="t"))
        s.flush()
        s.add(AuditEvent(at=now, actor_kind="user", action="url.verified",
                         record_type="reported_urls", record_id=url.id,
                         remote_addr="203.0.113.9", detail={"url": url.url}))
        s.commit()
        case_id, url_id = case.id, url.id

    assert client.get("/case/erase").status_code == 200
    response = post_form(client, "/case/erase", {"confirm": "y"})
    assert response.status_code == 200 and "erased" in response.get_data(as_text=True)
    assert client.get("/case").status_code == 302  # the case page is gone
    assert follow(client, reference, secret).status_code == 400  # nothing opens any more

    with db.session() as s:
        assert_no_personal_data(s, case_id, [
            "pics.example/p/1", "example.net/u/2", "My ex posted these", "beach photo",
            stored_secret_hash, "203.0.113.9"])
        # What stays is anonymous and still counts in the statistics.
        url = s.get(ReportedURL, url_id)
        assert url.host == "pics.example" and url.platform_id is not None
        request = s.scalar(select(RemovalRequest))
        assert (request.subject, request.body, request.status) == ("erased", "erased", "sent")
        assert request.sent_at is not None
        assert s.scalar(select(URLCheck.verdict)) == "online"
        hashes = s.scalars(select(MediaHash).where(MediaHash.case_id == case_id)).all()
        assert [h.status for h in hashes] == ["deleted"] and hashes[0].pdq == PDQ


def _normalised(html: str) -> str:
    return re.sub(r'(name="csrf[-_]token"[^>]*?(value|content)=")[^"]+', r"\1", html)


def test_guessing_on_a_reference_never_locks_it_nor_tells_if_it_exists(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, VICTIM_CLIENT_ATTEMPTS=1000,
                        VICTIM_REFERENCE_DELAY_SECONDS=0.01)
    client = app.test_client()
    reference, secret = open_case(client)
    made_up = "DSR-ZZZZ-9999"
    token = csrf_token(client, "/case/follow")

    def attempt(ref: str, code: str):
        return client.post("/case/follow", data={"reference": ref, "secret": code,
                                                 "csrf_token": token})

    answers = {}
    for ref in (reference, made_up):
        seen = []
        for _ in range(22):
            response = attempt(ref, "WRONG-WRONG-WRONG-WRONG")
            # The page echoes what was typed; apart from that it must be identical.
            html = response.get_data(as_text=True).replace(ref, "REFERENCE")
            seen.append((response.status_code, _normalised(html)))
        answers[ref] = seen
    # Existing or made up: the same status and the same words, attempt by attempt.
    assert answers[reference] == answers[made_up]
    assert {status for status, _ in answers[reference]} == {400}
    # The counters live in the database (shared by every web process), keyed by an HMAC;
    # a reference is counted, never locked.
    db = app.extensions["disrupt.db"]
    with db.session() as s:
        rows = s.scalars(select(LoginThrottle).where(LoginThrottle.scope == "reference")).all()
        assert len(rows) == 2 and all(r.locked_until is None for r in rows)
        assert sorted(r.failures for r in rows) == [22, 22]
        assert all(reference not in r.key and len(r.key) == 64 for r in rows)
    # Anyone who read a notice knows the reference: the right secret still opens the case.
    assert attempt(reference, secret).status_code == 302
    assert attempt(made_up, secret).status_code == 400
    app.extensions["disrupt.db"].dispose()


def test_guessing_from_one_client_is_throttled_across_references(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, VICTIM_CLIENT_ATTEMPTS=5)
    client = app.test_client()
    reference, secret = open_case(client)
    token = csrf_token(client, "/case/follow")
    statuses = [client.post("/case/follow", data={
        "reference": f"DSR-AAAA-{n:04d}", "secret": "X", "csrf_token": token}).status_code
        for n in range(5)]
    assert statuses == [400] * 5
    # Another reference, the right secret: this client address is paused.
    assert client.post("/case/follow", data={"reference": reference, "secret": secret,
                                             "csrf_token": token}).status_code == 429
    other = app.test_client()
    other_token = csrf_token(other, "/case/follow")
    assert other.post("/case/follow", data={"reference": reference, "secret": secret,
                                            "csrf_token": other_token},
                      environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 302
    app.extensions["disrupt.db"].dispose()


def test_idle_case_page_closes_itself(client, db):
    reference, secret = open_case(client)
    follow(client, reference, secret)
    assert client.get("/case").status_code == 200
    with db.session() as s:  # VICTIM_IDLE_MINUTES is 15
        for row in s.scalars(select(WebSession)):
            row.last_seen_at -= timedelta(minutes=16)
        s.commit()
    response = client.get("/case")
    assert response.status_code == 302 and response.location == "/case/follow"
    assert "without activity" in client.get("/case/follow").get_data(as_text=True)
    assert client.get("/case").status_code == 302


def test_language_is_chosen_remembered_and_set(client):
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Leave this site" in html
    assert client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(
        as_text=True).count('lang="fr"') >= 1
    response = post_form(client, "/language", {"language": "fr", "next": "/case/follow"},
                         token_from="/")
    assert response.status_code == 302 and response.location == "/case/follow"
    html = client.get("/case/new", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert "Quitter ce site" in html and "Ouvrir un dossier" in html
    assert "Leave this site" not in html
    # Dates are in French too, and errors.
    response = post_form(client, "/case/new", {"reporter": "self", "intimate": "yes",
                                               "age_group": "adult", "urls": "nonsense"})
    assert "Nous avons besoin de votre accord" in response.get_data(as_text=True)
    reference, secret = open_case(client, language="fr")
    follow(client, reference, secret)
    html = client.get("/case").get_data(as_text=True)
    months = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre"]
    assert "Ouvert le" in html and any(month in html for month in months)
    # Never an open redirect.
    response = post_form(client, "/language", {"language": "en", "next": "//evil.example/"},
                         token_from="/")
    assert response.location == "/"


def test_console_stays_english(client):
    post_form(client, "/language", {"language": "fr"}, token_from="/")
    html = client.get("/console/login").get_data(as_text=True)
    assert '<html lang="en">' in html


@pytest.mark.parametrize("path", ["/", "/case/new", "/case/follow"])
def test_portal_pages_have_the_leave_button_and_no_inline_script(client, path):
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert 'id="leave-site"' in html and "js/safety.js" in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html and "<style" not in html
    assert response.headers["Cache-Control"] == "no-store"
