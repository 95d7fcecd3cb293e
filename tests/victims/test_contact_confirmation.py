"""Issue 20 row 9: the address a victim leaves gets ONE confirmation e-mail with a link
(single use, expires); no update e-mail goes to it before the link is opened; the case page
says it waits for her. A real SMTP server (aiosmtpd) receives the e-mails."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.cases.models import Case
from disrupt.cases.services import post_message
from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, free_port
from disrupt.victims.jobs import send_contact_confirmations, send_victim_updates
from disrupt.victims.models import ContactConfirmation
from tests.support.apps import make_test_app
from tests.support.web import post_form
from tests.victims.test_portal import follow, open_case

CONTACT = "someone@example.net"
LINK = re.compile(r"https://help\.example/case/contact/confirm/([A-Za-z0-9_-]+)")


def confirm_address(db, case_id: int) -> None:
    """For tests about what happens once an address is confirmed."""
    with db.session() as session:
        now = utcnow()
        session.add(ContactConfirmation(case_id=case_id, created_at=now, expires_at=now,
                                        confirmed_at=now, sent_at=now, attempts=0))
        session.commit()


@pytest.fixture
def mailbox():
    box = NoticeMailbox(port=free_port()).start()
    yield box
    box.stop()


@pytest.fixture
def app(database_url, tmp_path, mailbox):
    app = make_test_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_PORT=mailbox.port,
                        SEND_TIMEOUT_SECONDS=5.0, SEND_RETRY_SECONDS=60,
                        PUBLIC_URL="https://help.example/", ORGANISATION_NAME="Hotline",
                        ORGANISATION_EMAIL="help@hotline.example",
                        VICTIM_CONTACT_CONFIRM_HOURS=72)
    yield app
    app.extensions["disrupt.db"].dispose()


def _news(app, db, case_id, at):
    with db.session() as session:
        post_message(session, session.get(Case, case_id), direction="to_victim",
                     body="news", cipher=app.extensions["disrupt.cipher"], now=at)
        session.commit()


def _confirm(client, token: str):
    path = f"/case/contact/confirm/{token}"
    return post_form(client, path, {}, token_from=path)


def test_one_link_then_updates_and_the_case_page_says_it_waits(app, db, client, mailbox):
    reference, secret = open_case(client, contact=CONTACT)
    with db.session() as session:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
    start = utcnow()
    _news(app, db, case_id, start)
    send = dict(worker="w")
    # Before confirmation: the link goes, the update does not.
    assert send_victim_updates(db, app.config, now=lambda: start, **send) == 0
    assert send_contact_confirmations(db, app.config, now=lambda: start, **send) == 1
    assert send_contact_confirmations(db, app.config,
                                      now=lambda: start + timedelta(hours=1), **send) == 0
    [message] = mailbox.messages
    assert str(message["To"]) == CONTACT
    body = message.get_body().get_content()
    assert "Hotline" in body and reference not in body and secret not in body
    token = LINK.search(body).group(1)
    with db.session() as session:
        row = session.get(ContactConfirmation, case_id)
        assert row.token_encrypted is None and token not in (row.token_sha256 or "")
    assert send_victim_updates(db, app.config, now=lambda: start + timedelta(hours=1),
                               **send) == 0
    follow(client, reference, secret)
    page = client.get("/case").get_data(as_text=True)
    assert "Waiting for you to confirm your address" in page

    # A GET only shows the button (mail scanners open links); the click confirms, once.
    assert client.get(f"/case/contact/confirm/{token}").status_code == 200
    assert send_victim_updates(db, app.config, now=lambda: start + timedelta(hours=1),
                               **send) == 0
    done = _confirm(app.test_client(), token)
    assert done.status_code == 200 and "Your address is confirmed" in done.get_data(as_text=True)
    assert _confirm(app.test_client(), token).status_code == 404  # single use
    assert "Waiting for you to confirm" not in client.get("/case").get_data(as_text=True)
    assert send_victim_updates(db, app.config, now=lambda: start + timedelta(hours=2),
                               **send) == 1
    assert [str(m["To"]) for m in mailbox.messages] == [CONTACT, CONTACT]
    assert str(mailbox.messages[1]["Subject"]) == "News about your request"


def test_expired_wrong_and_withdrawn_links_confirm_nothing(app, db, client, mailbox):
    reference, secret = open_case(client, contact=CONTACT)
    other_ref, _ = open_case(app.test_client(), contact="other@example.net")
    start = utcnow()
    assert send_contact_confirmations(db, app.config, worker="w", now=lambda: start) == 2
    tokens = {str(m["To"]): LINK.search(m.get_body().get_content()).group(1)
              for m in mailbox.messages}
    assert _confirm(app.test_client(), "x" * 43).status_code == 404
    assert _confirm(app.test_client(), "y" * 5000).status_code == 404
    # Expired: the clock of the confirmation moves past VICTIM_CONTACT_CONFIRM_HOURS.
    with db.session() as session:
        for row in session.scalars(select(ContactConfirmation)):
            row.expires_at = start - timedelta(seconds=1)
        session.commit()
    assert _confirm(app.test_client(), tokens[CONTACT]).status_code == 404
    follow(client, reference, secret)
    assert "The link to confirm your address has expired" in client.get("/case").get_data(
        as_text=True)
    with db.session() as session:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
        _news(app, db, case_id, start)
        assert session.get(ContactConfirmation, case_id).confirmed_at is None
    assert send_victim_updates(db, app.config, worker="w",
                               now=lambda: start + timedelta(hours=1)) == 0
    assert send_contact_confirmations(db, app.config, worker="w",
                                      now=lambda: start + timedelta(hours=1)) == 0
    assert len(mailbox.messages) == 2  # one link per address, never a second


def test_stopping_updates_forgets_the_confirmation(app, db, client, mailbox):
    reference, secret = open_case(client, contact=CONTACT)
    with db.session() as session:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
    follow(client, reference, secret)
    assert post_form(client, "/case/contact/forget", {}, token_from="/case").status_code == 302
    assert send_contact_confirmations(db, app.config, worker="w", now=utcnow) == 0
    with db.session() as session:
        assert session.get(ContactConfirmation, case_id) is None
    assert mailbox.messages == []
