"""Unknown hosts get a recipient (issue 16, item 2): an address on no registered platform
whose host trace names an abuse contact is offered to its hosting provider (or the CDN in
front); the registry learns the provider, and the normal request form sends the notice
through the outbox to a real SMTP server."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.accounts.models import AuditEvent
from disrupt.cases.models import ReportedURL
from disrupt.console.hosting import recipients_from_trace
from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, free_port
from disrupt.platforms.hosting import learn_host_provider, legal_bases_for_country
from disrupt.platforms.jobs import send_queued_notices
from disrupt.platforms.models import Platform, RemovalRequest
from disrupt.platforms.services import add_platform
from disrupt.tracing.models import HostTrace
from tests.platforms.support import make_case
from tests.support.apps import make_test_app
from tests.support.staff import staff_client
from tests.support.web import csrf_token

HOST = "files.tinyhost-site.test"


def _trace(host: str, now, *, holder: str | None = "TinyHost GmbH", country: str = "DE",
           email: str | None = "abuse@tinyhost.test", cdn: str | None = None) -> HostTrace:
    """A trace as the tracer stores it (tests/tracing/test_tracing.py)."""
    network = {"handle": "NET-127-0-0-9", "name": "TINYHOST-NET", "country": country,
               "holder": holder, "abuse": {"name": "Abuse desk", "email": email},
               "source": "http://127.0.0.1:1/ip/127.0.0.9"}
    return HostTrace(host=host, origin=f"http://{host}", status="ok", addresses=["127.0.0.9"],
                     network=network, registrar=None, cdn=cdn,
                     cdn_evidence="cf-ray: 1" if cdn else None,
                     evidence=[{"url": network["source"], "status": 200, "at": now.isoformat()}],
                     problems=[], traced_at=now, next_trace_at=now + timedelta(days=1))


def _section(page) -> str:
    text = page.get_data(as_text=True)
    assert 'id="unknown-hosts"' in text, text[:3000]
    return html.unescape(text.split('id="unknown-hosts"', 1)[1].split("</section>", 1)[0])


def test_unknown_host_learned_then_notice_sent_to_its_abuse_address(database_url, tmp_path):
    mailbox = NoticeMailbox(port=free_port()).start()
    app = make_test_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_PORT=mailbox.port,
                        SEND_TIMEOUT_SECONDS=5.0)
    db = app.extensions["disrupt.db"]
    now = utcnow()
    try:
        with db.session() as s:
            case = make_case(s, [f"http://{HOST}/a.jpg"], now=now)
            s.add(_trace(HOST, now))
            s.commit()
            case_id, url_id = case.id, case.urls[0].id
        client = staff_client(app, "cw@example.org")
        page = client.get(f"/console/cases/{case_id}")
        section = _section(page)
        assert "Send to the hosting provider (TinyHost GmbH, abuse@tinyhost.test)" in section
        assert "EU Digital Services Act, art. 16" in section

        token = csrf_token(client, f"/console/cases/{case_id}")
        answer = client.post(f"/console/cases/{case_id}/urls/{url_id}/recipient",
                             data={"csrf_token": token, "kind": "hosting"})
        assert answer.status_code == 302
        with db.session() as s:
            platform = s.scalar(select(Platform).where(Platform.name == "TinyHost GmbH"))
            assert platform is not None
            assert (platform.channel, platform.contact) == ("email", "abuse@tinyhost.test")
            assert [d.domain for d in platform.domains] == [HOST]
            assert platform.jurisdiction == "DE"
            assert platform.default_legal_basis == "dsa_art16"
            assert "hosting provider" in platform.notes
            assert s.get(ReportedURL, url_id).platform_id == platform.id
            [event] = s.scalars(select(AuditEvent)
                                .where(AuditEvent.action == "learn_host_provider")).all()
            assert event.case_id == case_id and event.record_id == platform.id
            assert event.detail["host"] == HOST
            platform_id = platform.id

        # The normal request form, with every rule of a notice, now sends to it.
        page = client.get(f"/console/cases/{case_id}").get_data(as_text=True)
        assert "Send removal request to TinyHost GmbH" in page
        assert f"/urls/{url_id}/recipient" not in page  # not offered again
        prefix = f"p{platform_id}"
        answer = client.post(f"/console/cases/{case_id}/platforms/{platform_id}/requests", data={
            "csrf_token": token, f"{prefix}-url_ids": str(url_id),
            f"{prefix}-legal_basis": "dsa_art16", f"{prefix}-language": "en"})
        assert answer.status_code == 302
        with db.session() as s:
            [request] = s.scalars(select(RemovalRequest)).all()
            assert (request.status, request.recipient) == ("queued", "abuse@tinyhost.test")
        assert send_queued_notices(db, app.config, worker="w",
                                   now=lambda: utcnow() + timedelta(seconds=1)) == 1
    finally:
        mailbox.stop()
    [message] = mailbox.messages
    assert message["To"] == "abuse@tinyhost.test"
    assert f"http://{HOST}/a.jpg" in message.get_body(preferencelist=("plain",)).get_content()

    # A second address on the same host joins the same platform without being asked again.
    answer = client.post(f"/console/cases/{case_id}/urls",
                         data={"csrf_token": token, "urls": f"http://{HOST}/b.jpg"})
    assert answer.status_code == 302
    with db.session() as s:
        second = s.scalar(select(ReportedURL).where(ReportedURL.url == f"http://{HOST}/b.jpg"))
        assert second.platform_id == platform_id
        assert s.scalar(select(Platform).where(Platform.name == "TinyHost GmbH")).id == \
            platform_id
    assert 'id="unknown-hosts"' not in client.get(f"/console/cases/{case_id}").get_data(
        as_text=True)
    db.dispose()


def test_why_nothing_is_offered(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path)
    db = app.extensions["disrupt.db"]
    now = utcnow()
    with db.session() as s:
        case = make_case(s, ["http://never-traced.test/x.jpg", "http://mute-host.test/y.jpg",
                             "http://behind-cdn.test/z.jpg"], now=now)
        s.add(_trace("mute-host.test", now, holder="Mute Hosting Ltd", email=None))
        s.add(_trace("behind-cdn.test", now, cdn="Fastly"))
        s.commit()
        case_id = case.id
        mute_id = next(u.id for u in case.urls if u.host == "mute-host.test")
    client = staff_client(app, "cw@example.org")
    section = _section(client.get(f"/console/cases/{case_id}"))
    blocks = dict(re.findall(r'<strong class="url">([^<]+)</strong>(.*?)</div>', section, re.S))
    assert "Not traced yet" in blocks["never-traced.test"]
    assert "Send to" not in blocks["never-traced.test"]
    assert "Mute Hosting Ltd" in blocks["mute-host.test"]
    assert "no abuse e-mail" in blocks["mute-host.test"]
    assert "Send to" not in blocks["mute-host.test"]
    # A CDN known only by name: only the hosting provider, and the page says why.
    cdn = blocks["behind-cdn.test"]
    assert "Send to the hosting provider (TinyHost GmbH, abuse@tinyhost.test)" in cdn
    assert "Send to the CDN" not in cdn and "Fastly is in front" in cdn

    # Posting anyway changes nothing and says why.
    token = csrf_token(client, f"/console/cases/{case_id}")
    answer = client.post(f"/console/cases/{case_id}/urls/{mute_id}/recipient",
                         data={"csrf_token": token, "kind": "hosting"}, follow_redirects=True)
    assert "no abuse e-mail" in html.unescape(answer.get_data(as_text=True))
    with db.session() as s:
        assert s.scalars(select(Platform)).all() == []
        assert s.scalar(select(AuditEvent).where(
            AuditEvent.action == "learn_host_provider")) is None
    db.dispose()


def test_a_cdn_holding_the_address_is_offered_as_the_cdn():
    now = utcnow()
    recipients, reason = recipients_from_trace(
        _trace("cdn-site.test", now, holder="Cloudflare, Inc.", country="US",
               email="abuse@cloudflare.example", cdn="Cloudflare"))
    assert [(r.kind, r.name, r.email) for r in recipients] == [
        ("cdn", "Cloudflare, Inc.", "abuse@cloudflare.example")]
    assert recipients[0].label == "Send to the CDN (Cloudflare, Inc., abuse@cloudflare.example)"
    assert reason is None


@pytest.mark.parametrize(("country", "bases", "noted"), [
    ("DE", ("dsa_art16",), False),
    ("NO", ("dsa_art16",), False),  # EEA, not EU
    ("fr", ("dsa_art16", "lcen_art6"), False),
    ("FR", ("dsa_art16", "lcen_art6"), False),
    ("US", ("take_it_down",), False),
    ("BR", ("dsa_art16",), True),
    (None, ("dsa_art16",), True),
])
def test_legal_basis_follows_the_hosting_country(country, bases, noted):
    advice = legal_bases_for_country(country)
    assert advice.bases == bases
    assert (advice.note is not None) == noted
    if country == "BR":
        assert "BR" in advice.note


def test_learning_reuses_a_platform_by_name_and_keeps_an_admin_contact(db):
    now = utcnow()
    with db.session() as s:
        case = make_case(s, ["http://one.us-host.test/1.jpg", "http://two.us-host.test/2.jpg"],
                         now=now)
        first = learn_host_provider(s, name="US Host  LLC", email="abuse@ushost.test",
                                    host="one.us-host.test", kind="hosting", country="US",
                                    now=now)
        assert first.name == "US Host LLC" and first.default_legal_basis == "take_it_down"
        again = learn_host_provider(s, name="US Host LLC", email="other@ushost.test",
                                    host="two.us-host.test", kind="hosting", country="US",
                                    now=now)
        assert again.id == first.id
        assert [d.domain for d in again.domains] == ["one.us-host.test", "two.us-host.test"]
        assert again.contact == "abuse@ushost.test"
        assert {u.platform_id for u in case.urls} == {first.id}

        known = add_platform(s, name="Known Host", domains=["known-host.test"], channel="none")
        learned = learn_host_provider(s, name="Known Host", email="abuse@known.test",
                                      host="cdn.elsewhere.test", kind="cdn", country="NL",
                                      now=now)
        assert learned.id == known.id
        assert (learned.channel, learned.contact) == ("email", "abuse@known.test")
        assert "cdn.elsewhere.test" in {d.domain for d in learned.domains}
        s.rollback()
