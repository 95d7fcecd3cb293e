"""Platforms' e-mail replies read from a real Maildir on disk (MAILBOX_MAILDIR), the second
mail source beside IMAP: delivered as a mail server delivers (tmp/ then new/), threaded to
the request by the same code, remembered message by message so a restart reads nothing
twice, bounded like IMAP, and read-only: not one file is moved, renamed or touched."""
from __future__ import annotations

import email
import email.policy
import mailbox
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from disrupt.db import utcnow
from disrupt.platforms import mailbox as mailbox_module
from disrupt.platforms.jobs import read_platform_replies, send_queued_notices
from disrupt.platforms.mailbox import maildir_folder, maildir_uid
from disrupt.platforms.models import MailboxMessage
from disrupt.platforms.services import add_platform, queue_removal_request
from tests.platforms.support import NOTIFIER, PLATFORM_ADDRESS, make_case, reads_after_restart
from tests.platforms.support import mailbox_messages as _messages
from tests.platforms.support import platform_reply as _reply
from tests.support.apps import make_test_app


@pytest.fixture
def maildir(tmp_path) -> Path:
    path = tmp_path / "Maildir"
    mailbox.Maildir(str(path), create=True)
    return path


@pytest.fixture
def sent(database_url, tmp_path, maildir):
    """An app reading the Maildir, and one notice sent (to the outbox: its real Message-ID)."""
    outbox = tmp_path / "outbox"
    app = make_test_app(database_url, tmp_path, MAILBOX_MAILDIR=str(maildir),
                        OUTBOX_DIR=str(outbox), ORGANISATION_EMAIL="notices@hotline.test")
    db = app.extensions["disrupt.db"]
    now = utcnow()
    with db.session() as session:
        platform = add_platform(session, name="PicShare", domains=["127.0.0.2"],
                                channel="email", contact=PLATFORM_ADDRESS)
        case = make_case(session, ["http://127.0.0.2/p/1.jpg"], now=now)
        request = queue_removal_request(session, case=case, platform=platform,
                                        urls=list(case.urls), legal_basis="dsa_art16",
                                        language="en", notifier=NOTIFIER, now=now)
        session.commit()
    assert send_queued_notices(db, app.config, worker="w", now=utcnow) == 1
    [eml] = outbox.glob("*.eml")
    notice = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    yield app, db, request, notice
    db.dispose()


def _deliver(maildir: Path, raw: bytes) -> str:
    """As a mail server delivers: written to tmp/, then moved into new/."""
    return mailbox.Maildir(str(maildir), create=False).add(raw)


def _snapshot(maildir: Path) -> dict[str, tuple[bytes, int, int]]:
    return {str(p.relative_to(maildir)): (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode)
            for p in sorted(maildir.rglob("*")) if p.is_file()}


def test_replies_in_a_maildir_are_threaded_and_proposed_and_the_files_are_untouched(
        sent, maildir):
    app, db, request, notice = sent
    _deliver(maildir, _reply(notice, "Hello,\n\nWe have removed the content you reported. "
                                     "Ticket #PS-20931.\n\nOn Monday you wrote:\n> Please remove"))
    _deliver(maildir, _reply(notice, "This does not violate our policies, so we will not "
                                     "remove it.", subject=f"Case {request.idempotency_key}",
                             thread=False))
    _deliver(maildir, _reply(notice, "Our newsletter", subject="News", thread=False))
    before = _snapshot(maildir)
    assert len(before) == 3 and all(name.startswith("new/") for name in before)

    assert read_platform_replies(db, app.config, now=utcnow) == 3
    by_status = {m.proposed_status: m for m in _messages(db)}
    actioned, rejected, triage = by_status["actioned"], by_status["rejected"], by_status[None]
    assert (actioned.request_id, actioned.state, actioned.proposed_status,
            actioned.platform_reference) == (request.id, "proposed", "actioned", "PS-20931")
    assert rejected.request_id == request.id and rejected.proposed_status == "rejected"
    assert rejected.proposed_reason == "This does not violate our policies, so we will not " \
                                       "remove it."
    assert triage.request_id is None and triage.state == "triage"
    assert {m.folder for m in _messages(db)} == {maildir_folder(str(maildir))}
    # Read-only: every file where it was, with the same bytes, time and mode; no new file.
    assert _snapshot(maildir) == before
    assert sorted(os.listdir(maildir / "cur")) == [] and os.listdir(maildir / "tmp") == []


def test_a_restart_reads_nothing_twice_even_after_another_client_marks_a_message_read(
        sent, maildir, database_url, tmp_path):
    app, db, request, notice = sent
    key = _deliver(maildir, _reply(notice, "We received your report."))
    assert read_platform_replies(db, app.config, now=utcnow) == 1
    assert read_platform_replies(db, app.config, now=utcnow) == 0
    # Another mail client reads it: moved from new/ to cur/ with the Seen flag.
    box = mailbox.Maildir(str(maildir), create=False)
    message = box.get_message(key)
    message.set_subdir("cur")
    message.add_flag("S")
    box[key] = message
    assert list((maildir / "cur").iterdir()) and not list((maildir / "new").iterdir())
    _deliver(maildir, _reply(notice, "The content has been removed."))
    assert reads_after_restart(database_url, tmp_path / "again",
                               MAILBOX_MAILDIR=str(maildir)) == (1, 0)
    messages = _messages(db)
    assert [m.proposed_status for m in messages] == ["acknowledged", "actioned"]
    assert messages[0].uid == maildir_uid(key) and messages[0].uidvalidity == 0


def test_hostile_messages_and_many_messages_are_read_within_the_bounds(
        sent, maildir, monkeypatch):
    app, db, request, notice = sent
    monkeypatch.setattr(mailbox_module, "MAX_MESSAGE_BYTES", 300_000)
    huge = _reply(notice, "A" * 400_000)
    nested = b"From: x@evil.test\r\nSubject: nest\r\nContent-Type: multipart/mixed; " \
             b"boundary=\"b0\"\r\n\r\n" + b"".join(
                 b"--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n" % (i, i + 1)
                 for i in range(5000))
    wide = b"From: x@evil.test\r\nSubject: wide\r\nContent-Type: multipart/mixed; " \
           b"boundary=\"w\"\r\n\r\n" + b"".join(
               b"--w\r\nContent-Type: application/octet-stream\r\n\r\n%d\r\n" % i
               for i in range(5000)) + b"--w--\r\n"
    for raw in (huge, nested, wide):
        _deliver(maildir, raw)
        time.sleep(0.002)  # keys start with the delivery time: keep the order
    for n in range(mailbox_module.MAX_MESSAGES_PER_RUN + 2):
        _deliver(maildir, _reply(notice, f"We received your report ({n})."))
    before = _snapshot(maildir)
    started = time.monotonic()
    first = read_platform_replies(db, app.config, now=utcnow)
    assert time.monotonic() - started < 30
    assert first == mailbox_module.MAX_MESSAGES_PER_RUN
    assert read_platform_replies(db, app.config, now=utcnow) == 5
    assert read_platform_replies(db, app.config, now=utcnow) == 0
    with db.session() as session:
        assert session.scalar(select(func.count(MailboxMessage.id))) == len(before)
        messages = list(session.scalars(select(MailboxMessage)))
    by_subject = {m.subject: m for m in messages}
    [big] = [m for m in messages if m.problem and "too large" in m.problem]
    assert big.body == "" and big.request_id == request.id  # threaded by its headers
    assert "unreadable" in by_subject["nest"].problem
    assert "too many" in by_subject["wide"].problem
    assert len(by_subject["wide"].attachments) < mailbox_module.MAX_PARTS
    assert _snapshot(maildir) == before


def test_a_missing_maildir_is_logged_not_fatal(database_url, tmp_path, caplog):
    app = make_test_app(database_url, tmp_path, MAILBOX_MAILDIR=str(tmp_path / "nowhere"))
    try:
        assert read_platform_replies(app.extensions["disrupt.db"], app.config,
                                     now=utcnow) == 0
        assert "is not a Maildir" in caplog.text
        assert not (tmp_path / "nowhere").exists()
    finally:
        app.extensions["disrupt.db"].dispose()


def test_the_worker_reads_the_maildir_when_it_is_set(database_url, tmp_path, maildir):
    from disrupt.worker import build_scheduler

    quiet = make_test_app(database_url, tmp_path / "quiet")
    app = make_test_app(database_url, tmp_path, MAILBOX_MAILDIR=str(maildir),
                        IMAP_POLL_SECONDS=7.0)
    try:
        def jobs(application):
            scheduler = build_scheduler(application.extensions["disrupt.db"],
                                        application.config, worker="w")
            return {job.id: job for job in scheduler.get_jobs()}

        assert "read-platform-replies" not in jobs(quiet)  # neither IMAP nor a Maildir
        job = jobs(app)["read-platform-replies"]
        assert job.trigger.interval.total_seconds() == 7.0
        _deliver(maildir, b"From: x@y.test\r\nSubject: hello\r\n\r\nhi\r\n")
        assert job.func(*job.args, **job.kwargs) == 1
    finally:
        app.extensions["disrupt.db"].dispose()
        quiet.extensions["disrupt.db"].dispose()


def test_a_message_that_cannot_be_opened_never_holds_up_the_others(sent, maildir, monkeypatch):
    app, db, request, notice = sent
    monkeypatch.setattr(mailbox_module, "MAX_MESSAGES_PER_RUN", 2)
    for n in range(3):  # first in key order: they cannot be opened
        (maildir / "new" / f"0000000{n}.M1P1Q1.gone").symlink_to(maildir / "nowhere")
    _deliver(maildir, _reply(notice, "We received your report."))
    _deliver(maildir, _reply(notice, "The content has been removed."))
    assert read_platform_replies(db, app.config, now=utcnow) == 2
    assert sorted(m.proposed_status for m in _messages(db)) == ["acknowledged", "actioned"]
    assert read_platform_replies(db, app.config, now=utcnow) == 0


def test_messages_are_read_oldest_delivery_first():
    from disrupt.platforms.mailbox import _delivery_order

    keys = ["1733400001.M5P1Q1.host", "1733400000.M999999P1Q1.host",
            "1733400001.M100000P1Q2.host", "1733400001.V801I2a3bM12.mx", "odd-name"]
    assert sorted(keys, key=_delivery_order) == [
        "odd-name", "1733400000.M999999P1Q1.host", "1733400001.M5P1Q1.host",
        "1733400001.V801I2a3bM12.mx", "1733400001.M100000P1Q2.host"]
