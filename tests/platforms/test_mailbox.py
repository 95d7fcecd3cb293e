"""Platforms' e-mail replies read from a real Dovecot over TLS: a notice sent through a real
SMTP server, replies delivered into the mailbox as a platform would send them, the worker's
job threading them to their request with a proposed status, the triage list, the
caseworker's confirmation, nothing read twice and nothing deleted, and hostile mail."""
from __future__ import annotations

import hashlib
import time
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from disrupt.accounts.models import AuditEvent
from disrupt.accounts.services import create_user
from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, SimulatedPlatform
from disrupt.platforms import mailbox as mailbox_module
from disrupt.platforms.erasure import on_case_erased
from disrupt.platforms.jobs import read_platform_replies, send_queued_notices
from disrupt.platforms.mailbox import html_to_text, parse_message
from disrupt.platforms.models import MailboxCursor, RemovalRequest
from disrupt.platforms.reply_rules import propose_status
from disrupt.platforms.services import add_platform, queue_removal_request
from tests.platforms.support import NOTIFIER, PLATFORM_ADDRESS, make_case, reads_after_restart
from tests.platforms.support import mailbox_messages as _messages
from tests.platforms.support import platform_reply as _reply
from tests.support.apps import make_test_app
from tests.support.web import csrf_token, login

PASSWORD = "correct horse 42"
PDF = b"%PDF-1.4 the platform's decision letter\n%%EOF\n"


@pytest.fixture
def picshare():
    platform = SimulatedPlatform("PicShare", ip="127.0.0.2", takedown_after=None).start()
    yield platform
    platform.stop()


@pytest.fixture
def smtp():
    server = NoticeMailbox().start()
    yield server
    server.stop()


@pytest.fixture
def sent(database_url, tmp_path, picshare, smtp, mailbox):
    """An app reading the Dovecot mailbox, a caseworker, and one notice sent by SMTP."""
    smtp.register(PLATFORM_ADDRESS, picshare)
    app = make_test_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_PORT=smtp.port,
                        ORGANISATION_EMAIL="notices@hotline.test",
                        **mailbox.settings(SEND_TIMEOUT_SECONDS=10.0))
    db = app.extensions["disrupt.db"]
    now = utcnow()
    with db.session() as session:
        create_user(session, email="caseworker@hotline.test", name="Caseworker",
                    password=PASSWORD, role="caseworker", now=now)
        platform = add_platform(session, name="PicShare", domains=["127.0.0.2"],
                                channel="email", contact=PLATFORM_ADDRESS)
        case = make_case(session, [picshare.host_media("/p/1.jpg", b"x")], now=now)
        request = queue_removal_request(session, case=case, platform=platform,
                                        urls=list(case.urls), legal_basis="dsa_art16",
                                        language="en", notifier=NOTIFIER, now=now)
        session.commit()
    assert send_queued_notices(db, app.config, worker="w", now=utcnow) == 1
    [notice] = smtp.messages
    yield app, db, request, notice
    db.dispose()


def _request(db, request_id: int) -> RemovalRequest:
    with db.session() as session:
        request = session.get(RemovalRequest, request_id)
        _ = request.replies
        return request


def test_a_reply_quoting_the_notice_message_id_is_threaded_with_its_proposed_status(
        sent, mailbox):
    app, db, request, notice = sent
    assert notice["Message-ID"] == f"<notice-{request.idempotency_key}@hotline.test>"
    quoted = "\n".join(f"> {line}" for line in notice.get_content().splitlines())
    mailbox.deliver(_reply(notice, "Hello,\n\nWe have removed the content you reported. "
                                   "Ticket #PS-20931.\n\nOn Monday you wrote:\n" + quoted,
                           attachment=PDF))
    assert read_platform_replies(db, app.config, now=utcnow) == 1
    [message] = _messages(db)
    assert message.request_id == request.id and message.state == "proposed"
    assert message.proposed_status == "actioned"
    assert message.platform_reference == "PS-20931"
    assert "We have removed the content" in message.body
    assert message.sender == f"PicShare Trust & Safety <{PLATFORM_ADDRESS}>"
    # The attachment: its name and digest only, never its bytes.
    assert message.attachments == [{"name": "decision.pdf", "size": len(PDF),
                                    "sha256": hashlib.sha256(PDF).hexdigest()}]
    assert "decision letter" not in message.body
    # A proposal, not a decision: the request waits for the caseworker.
    assert _request(db, request.id).status == "sent"


def test_a_reply_naming_only_the_reference_in_its_subject_is_threaded(sent, mailbox):
    app, db, request, notice = sent
    mailbox.deliver(_reply(notice, "Bonjour,\n\nLe contenu supprimé ne sera plus visible.",
                           subject=f"Votre signalement {request.idempotency_key}",
                           thread=False))
    read_platform_replies(db, app.config, now=utcnow)
    [message] = _messages(db)
    assert message.request_id == request.id
    assert message.proposed_status == "actioned"


def test_a_french_html_only_reply_is_read_as_text(sent, mailbox):
    app, db, request, notice = sent
    msg = EmailMessage()
    msg["From"] = PLATFORM_ADDRESS
    msg["Subject"] = "Re: votre notification"
    msg["In-Reply-To"] = notice["Message-ID"]
    msg.set_content("<html><head><style>p{}</style></head><body><p>Bonjour,</p><p>Ce contenu "
                    "ne viole pas nos r&egrave;gles&nbsp;: nous ne pouvons pas le retirer.</p>"
                    "<script>alert(1)</script></body></html>", subtype="html", charset="utf-8")
    mailbox.deliver(msg.as_bytes())
    read_platform_replies(db, app.config, now=utcnow)
    [message] = _messages(db)
    assert message.request_id == request.id and message.proposed_status == "rejected"
    assert "ne viole pas nos règles" in message.body and "alert" not in message.body
    assert "<p>" not in message.body
    assert message.proposed_reason == "Ce contenu ne viole pas nos règles : nous ne pouvons " \
                                      "pas le retirer."


def test_an_unrelated_message_goes_to_triage_and_is_attached_there(sent, mailbox):
    app, db, request, notice = sent
    mailbox.deliver(_reply(notice, "We received your report and it is under review.",
                           subject="Your report to PicShare", thread=False))
    read_platform_replies(db, app.config, now=utcnow)
    [message] = _messages(db)
    assert message.request_id is None and message.state == "triage"
    client = app.test_client()
    login(client, "caseworker@hotline.test", PASSWORD)
    page = client.get("/console/mailbox/").get_data(as_text=True)
    assert "Your report to PicShare" in page and "under review" in page
    path = f"/console/mailbox/{message.id}/attach"
    token = csrf_token(client, "/console/mailbox/")
    wrong = client.post(path, data={f"a{message.id}-csrf_token": token,
                                    f"a{message.id}-request": "no-such-reference"})
    assert wrong.status_code == 400
    text = wrong.get_data(as_text=True)
    assert "No request of ours has the reference" in text and 'value="no-such-reference"' in text
    ok = client.post(path, data={f"a{message.id}-csrf_token": token,
                                 f"a{message.id}-request": request.idempotency_key})
    assert ok.status_code == 302 and ok.location.endswith(f"/console/requests/{request.id}")
    [message] = _messages(db)
    assert (message.request_id, message.state, message.proposed_status) == \
        (request.id, "proposed", "acknowledged")
    assert "No e-mail to triage" in client.get("/console/mailbox/").get_data(as_text=True)


def test_the_caseworker_confirms_the_proposed_status_in_the_console(sent, mailbox):
    app, db, request, notice = sent
    mailbox.deliver(_reply(notice, "This content does not violate our Community Guidelines. "
                                   "Case number 77120."))
    read_platform_replies(db, app.config, now=utcnow)
    [message] = _messages(db)
    client = app.test_client()
    login(client, "caseworker@hotline.test", PASSWORD)
    page_path = f"/console/requests/{request.id}"
    page = client.get(page_path).get_data(as_text=True)
    assert "Proposed status" in page and "does not violate our Community Guidelines" in page
    assert f"/console/mailbox/{message.id}/confirm" in page and ">Confirm</button>" in page
    p = f"m{message.id}"
    token = csrf_token(client, page_path)
    # A rejection without its reason is refused; what the caseworker typed is kept.
    refused = client.post(f"/console/mailbox/{message.id}/confirm", data={
        f"{p}-csrf_token": token, f"{p}-status": "rejected", f"{p}-reason": "",
        f"{p}-reference": "kept-77120"})
    assert refused.status_code == 400
    assert "a rejection needs the reason" in refused.get_data(as_text=True)
    assert 'value="kept-77120"' in refused.get_data(as_text=True)
    assert _request(db, request.id).status == "sent"
    ok = client.post(f"/console/mailbox/{message.id}/confirm", data={
        f"{p}-csrf_token": token, f"{p}-status": message.proposed_status,
        f"{p}-reason": message.proposed_reason, f"{p}-reference": message.platform_reference})
    assert ok.status_code == 302
    confirmed = _request(db, request.id)
    assert confirmed.status == "rejected" and confirmed.platform_reference == "77120"
    assert confirmed.reply_reason == "This content does not violate our Community Guidelines."
    assert [(r.status, r.source) for r in confirmed.replies] == [("rejected", "email")]
    [message] = _messages(db)
    assert message.state == "confirmed" and message.reply_id == confirmed.replies[0].id
    with db.session() as session:
        [event] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "confirm_platform_email")).all()
        assert event.case_id == request.case_id
    # Confirmed once: a second confirmation is refused.
    again = client.post(f"/console/mailbox/{message.id}/confirm", data={
        f"{p}-csrf_token": token, f"{p}-status": "actioned"})
    assert again.status_code == 400
    assert len(_request(db, request.id).replies) == 1


def test_read_twice_and_after_a_restart_nothing_is_read_twice_nor_deleted(
        sent, mailbox, database_url, tmp_path):
    app, db, request, notice = sent
    mailbox.deliver(_reply(notice, "We received your report."))
    mailbox.deliver(_reply(notice, "Unrelated newsletter", subject="News", thread=False))
    assert read_platform_replies(db, app.config, now=utcnow) == 2
    assert read_platform_replies(db, app.config, now=utcnow) == 0
    mailbox.deliver(_reply(notice, "The content has been removed."))
    # A new app and a new job, on the same database: what was read is remembered.
    assert reads_after_restart(database_url, tmp_path, **mailbox.settings()) == (1, 0)
    messages = _messages(db)
    assert [m.proposed_status for m in messages] == ["acknowledged", None, "actioned"]
    assert len({m.uid for m in messages}) == 3
    with db.session() as session:
        cursor = session.get(MailboxCursor, "INBOX")
        assert cursor.last_uid == max(m.uid for m in messages)
    # Nothing deleted, nothing even marked as read.
    assert mailbox.message_count() == 3
    flags = b" ".join(mailbox.flags())
    assert b"\\Deleted" not in flags and b"\\Seen" not in flags


def test_hostile_messages_neither_crash_nor_stall_the_job(sent, mailbox, monkeypatch):
    app, db, request, notice = sent
    monkeypatch.setattr(mailbox_module, "MAX_MESSAGE_BYTES", 300_000)
    huge = _reply(notice, "A" * 400_000)
    depth = 5000
    nested = b"From: x@evil.test\r\nSubject: nest\r\nContent-Type: multipart/mixed; " \
             b"boundary=\"b0\"\r\n\r\n" + b"".join(
                 b"--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n" % (i, i + 1)
                 for i in range(depth))
    encodings = (b"From: =?x-no-such-charset?q?=FF=FE?= <x@evil.test>\r\n"
                 b"Subject: =?utf-8?b?!!notbase64?=\r\nDate: yesterday-ish\r\n"
                 b"Content-Type: text/plain; charset=\"x-unknown\"\r\n"
                 b"Content-Transfer-Encoding: base64\r\n\r\n@@@ not base64 \xff\xfe\r\n")
    wide = b"From: x@evil.test\r\nSubject: wide\r\nContent-Type: multipart/mixed; " \
           b"boundary=\"w\"\r\n\r\n" + b"".join(
               b"--w\r\nContent-Type: application/octet-stream\r\n\r\n%d\r\n" % i
               for i in range(5000)) + b"--w--\r\n"
    html_bomb = _reply(notice, "", html="<b" * 40_000 + "<!--" + "<" * 40_000)
    for raw in (huge, nested, encodings, wide, html_bomb):
        mailbox.deliver(raw)
    mailbox.deliver(_reply(notice, "We have removed the content."))
    started = time.monotonic()
    assert read_platform_replies(db, app.config, now=utcnow) == 6
    assert time.monotonic() - started < 30
    messages = _messages(db)
    assert len(messages) == 6
    assert "too large" in messages[0].problem and messages[0].body == ""
    assert messages[0].request_id == request.id  # threaded by its headers all the same
    # The nesting: named, not followed; its headers still read.
    assert "unreadable" in messages[1].problem and messages[1].subject == "nest"
    assert messages[1].attachments == [] and messages[1].body == ""
    # Bad encodings: kept as they came, replacement characters instead of a crash.
    assert messages[2].sender.endswith("<x@evil.test>") and messages[2].request_id is None
    assert "not base64" in messages[2].body or "\ufffd" in messages[2].body
    assert "too many" in messages[3].problem
    assert len(messages[3].attachments) < mailbox_module.MAX_PARTS
    assert messages[4].problem is None and messages[4].request_id == request.id
    assert messages[5].proposed_status == "actioned"
    assert all(len(m.body or "") <= mailbox_module.MAX_BODY_CHARS for m in messages)


def test_erasing_the_case_erases_the_emails_text(sent, mailbox):
    app, db, request, notice = sent
    mailbox.deliver(_reply(notice, "We removed the content of Jane Doe.", attachment=PDF))
    read_platform_replies(db, app.config, now=utcnow)
    with db.session() as session:
        from disrupt.cases.models import Case
        on_case_erased(session.get(Case, request.case_id), session=session, now=utcnow())
        session.commit()
    [message] = _messages(db)
    assert message.body is None and message.attachments == []
    assert message.subject == "erased" and "Jane" not in repr(vars(message))


@pytest.mark.parametrize("text, status", [
    ("We have removed the content you reported.", "actioned"),
    ("The video has been taken down.", "actioned"),
    ("Bonjour, contenu supprimé.", "actioned"),
    ("Nous avons retiré la publication.", "actioned"),
    ("We received your report and will review it.", "acknowledged"),
    ("Nous avons bien reçu votre signalement.", "acknowledged"),
    ("This does not violate our policies, so we will not remove it.", "rejected"),
    ("Ce contenu ne contrevient pas à nos conditions.", "rejected"),
    ("We need more information: please provide the exact link.", "more_information"),
    ("Merci de nous fournir une pièce d'identité.", "more_information"),
    ("Thanks!", None),
    # Only the platform's words count, not the notice it quotes ("Please remove").
    ("Thanks!\n\nOn 1 Dec 2026, notices@hotline.test wrote:\n> Please remove this content",
     None),
    ("Merci.\n> Le contenu a été supprimé ?", None),
])
def test_the_keyword_rules_propose_a_status_in_english_and_french(text, status):
    assert propose_status(text).status == status


def test_html_to_text_is_linear_on_hostile_markup():
    assert html_to_text("<p>a&amp;b</p><script>x<y</script><div>c</div>") == "a&b\n\nc"
    for bomb in ("<" * 200_000, "<a " * 200_000, "<!--" * 100_000, "<script>" * 100_000):
        started = time.monotonic()
        html_to_text(bomb)
        assert time.monotonic() - started < 2


def test_parse_message_never_raises_on_garbage():
    for raw in (b"", b"\xff" * 1000, b"Subject: =?utf-8?q?\r\n\r\n", b"\r\n" * 10_000):
        parsed = parse_message(raw)
        assert isinstance(parsed.body, str)
