"""Update e-mails to victims: a real SMTP server (aiosmtpd) receives them. One per news, in the
victim's language, saying nothing of the case; never more than one per case in the minimum
gap; retried until the server takes it, never twice; silent once the victim withdrew, erased
or stopped them."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from disrupt.accounts.models import AuditEvent
from disrupt.cases.models import Case
from disrupt.cases.services import close_case, post_message
from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, free_port
from disrupt.victims.jobs import send_victim_updates
from disrupt.victims.models import VictimUpdate
from disrupt.victims.services import erase_case, withdraw_case
from disrupt.victims.updates import claim_updates
from tests.support.apps import make_test_app
from tests.support.web import post_form
from tests.victims.test_contact_confirmation import confirm_address
from tests.victims.test_portal import follow, open_case

CONTACT = "victim@example.net"
SECRET_TEXT = "the photo from the lake house"


@pytest.fixture
def mailbox():
    box = NoticeMailbox(port=free_port())
    yield box
    box.stop()


@pytest.fixture
def app(database_url, tmp_path, mailbox):  # the portal's app, sending through the mailbox
    app = make_test_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_PORT=mailbox.port,
                        SEND_TIMEOUT_SECONDS=5.0, SEND_RETRY_SECONDS=60,
                        PUBLIC_URL="https://help.example/", ORGANISATION_NAME="Hotline",
                        ORGANISATION_EMAIL="help@hotline.example")
    yield app
    app.extensions["disrupt.db"].dispose()


def _open(client, db, language="en"):
    reference, secret = open_case(client, contact=CONTACT, language=language)
    with db.session() as session:
        case_id = session.scalar(select(Case.id).where(Case.reference == reference))
    confirm_address(db, case_id)  # updates go to confirmed addresses only
    return case_id, reference, secret


def _news(app, db, case_id, at, body=SECRET_TEXT):
    with db.session() as session:
        post_message(session, session.get(Case, case_id), direction="to_victim", body=body,
                     cipher=app.extensions["disrupt.cipher"], now=at)
        session.commit()


def _send(app, db, at, worker="w"):
    return send_victim_updates(db, app.config, worker=worker, now=lambda: at)


def test_news_is_announced_once_in_the_victims_language_without_details(app, db, client,
                                                                       mailbox):
    mailbox.start()
    case_id, reference, secret = _open(client, db, language="fr")
    start = utcnow()
    assert _send(app, db, start) == 0  # nothing has happened yet
    _news(app, db, case_id, start)
    assert _send(app, db, start + timedelta(seconds=1)) == 1
    assert _send(app, db, start + timedelta(seconds=2)) == 0
    [message] = mailbox.messages
    body = message.get_body().get_content()
    assert str(message["To"]) == CONTACT
    assert str(message["Subject"]) == "Du nouveau dans votre demande"
    assert "Hotline" in body and "https://help.example/" in body
    assert "saisissez votre référence de dossier" in body
    for detail in (reference, secret, SECRET_TEXT, "pics.example", "example.net/u/2"):
        assert detail not in body and detail not in str(message["Subject"])
    assert str(message["Message-ID"]).startswith(f"<case-update-{case_id}-")
    with db.session() as session:
        sent = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "victim.update_sent", AuditEvent.case_id == case_id))
    assert sent == 1


def test_at_most_one_e_mail_per_gap_and_later_news_follows(app, db, client, mailbox):
    mailbox.start()
    case_id, _, _ = _open(client, db)
    start = utcnow()
    _news(app, db, case_id, start)
    assert _send(app, db, start) == 1
    with db.session() as session:
        close_case(session.get(Case, case_id), "removed", start + timedelta(hours=1))
        session.commit()
    assert _send(app, db, start + timedelta(hours=1)) == 0  # inside the 6 h gap
    assert _send(app, db, start + timedelta(hours=5, minutes=59)) == 0
    assert _send(app, db, start + timedelta(hours=6, seconds=1)) == 1
    assert _send(app, db, start + timedelta(hours=13)) == 0  # nothing new since
    assert len(mailbox.messages) == 2
    assert len({str(m["Message-ID"]) for m in mailbox.messages}) == 2
    assert str(mailbox.messages[0]["Subject"]) == "News about your request"


def test_smtp_down_then_up_the_update_arrives_exactly_once(app, db, client, mailbox):
    case_id, _, _ = _open(client, db)  # the mailbox is not started: SMTP is down
    start = utcnow()
    _news(app, db, case_id, start)
    assert _send(app, db, start) == 0
    with db.session() as session:
        row = session.get(VictimUpdate, case_id)
        assert row.attempts == 1 and "SMTP" in row.last_error
        assert row.next_attempt_at == start + timedelta(seconds=60)
    assert _send(app, db, start + timedelta(seconds=30)) == 0  # backing off: not attempted
    with db.session() as session:
        assert session.get(VictimUpdate, case_id).attempts == 1
    mailbox.start()
    assert _send(app, db, start + timedelta(seconds=61)) == 1
    assert _send(app, db, start + timedelta(hours=7)) == 0
    assert len(mailbox.messages) == 1
    with db.session() as session:
        row = session.get(VictimUpdate, case_id)
        assert (row.attempts, row.last_error, row.sent_at) == (
            0, None, start + timedelta(seconds=61))


def test_a_repeat_after_a_crash_carries_the_same_message_id(app, db, client, mailbox):
    """A worker that died after the send and before its commit sends again under the same
    key (Message-ID), even when newer news arrived in between: the receiver drops it."""
    mailbox.start()
    case_id, _, _ = _open(client, db)
    start = utcnow()
    _news(app, db, case_id, start)
    with db.session(claim=True) as session:
        [first] = claim_updates(session, worker="w", now=start, lease=timedelta(minutes=5),
                                min_gap=timedelta(hours=6))
        session.commit()
    _news(app, db, case_id, start + timedelta(seconds=5), body="more")
    # Another worker cannot take it while the lease runs.
    assert _send(app, db, start + timedelta(seconds=10), worker="other") == 0
    assert _send(app, db, start + timedelta(minutes=6), worker="other") == 1
    [message] = mailbox.messages
    assert str(message["Message-ID"]) == f"<{first.key}@hotline.example>"


def test_silent_after_withdraw_erase_or_stop(app, db, client, mailbox):
    mailbox.start()
    start = utcnow()
    withdrawn, _, _ = _open(client, db)
    erased, _, _ = _open(app.test_client(), db)
    stopped, reference, secret = _open(app.test_client(), db)
    no_contact_ref, _ = open_case(app.test_client(), contact="")
    for case_id in (withdrawn, erased, stopped):
        _news(app, db, case_id, start)
    # The erased case had an update row already: erasure removes it.
    assert _send(app, db, start) == 3
    with db.session() as session:
        no_contact = session.scalar(select(Case.id).where(Case.reference == no_contact_ref))
    _news(app, db, no_contact, start)

    later = start + timedelta(hours=7)
    for case_id in (withdrawn, erased, stopped):
        _news(app, db, case_id, later)
    with db.session() as session:
        withdraw_case(session, session.get(Case, withdrawn), later)
        erase_case(session, session.get(Case, erased), later)
        session.commit()
    victim = app.test_client()
    follow(victim, reference, secret)
    assert "Stop e-mail updates" in victim.get("/case").get_data(as_text=True)
    response = post_form(victim, "/case/contact/forget", {}, token_from="/case")
    assert response.status_code == 302
    page = victim.get("/case").get_data(as_text=True)
    assert "We deleted your e-mail address" in page and "Stop e-mail updates" not in page

    assert _send(app, db, later + timedelta(seconds=1)) == 0
    assert len(mailbox.messages) == 3
    with db.session() as session:
        assert session.get(VictimUpdate, erased) is None
        assert session.get(Case, stopped).contact_encrypted is None
        removed = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "victim.contact_removed", AuditEvent.case_id == stopped))
    assert removed == 1
