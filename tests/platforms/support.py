"""Helpers for the platform tests: cases built directly with the services, and the
simulated receivers."""
from __future__ import annotations

import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case
from disrupt.db import utcnow
from disrupt.platforms.jobs import read_platform_replies
from disrupt.platforms.models import MailboxMessage
from disrupt.platforms.notices import Notifier
from tests.support import factories
from tests.support.apps import make_test_app

NOTIFIER = Notifier("Test hotline", "notices@hotline.example", trusted_flagger=True)
PDQ = factories.PDQ


def make_case(session: Session, urls: list[str], *, now: datetime, age_group: str = "adult",
              language: str = "en", assignee_id: int | None = None) -> Case:
    """A case with one fingerprint whose URLs were reported by a caseworker."""
    case = factories.make_case(session, now=now, age_group=age_group, language=language,
                               assignee_id=assignee_id, consent_notices=True, hashes=1)
    factories.report_urls(session, case, urls, now=now)
    return case


PLATFORM_ADDRESS = "abuse@picshare.test"


def platform_reply(notice, body: str, *, subject: str | None = None, thread: bool = True,
                   html: str | None = None, attachment: bytes | None = None) -> bytes:
    """A platform's answer as its mail system sends it."""
    msg = EmailMessage()
    msg["From"] = f"PicShare Trust & Safety <{PLATFORM_ADDRESS}>"
    msg["To"] = "notices@hotline.test"
    msg["Subject"] = subject if subject is not None else f"Re: {notice['Subject']}"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = f"<{time.monotonic_ns()}@picshare.test>"
    if thread:
        msg["In-Reply-To"] = notice["Message-ID"]
        msg["References"] = notice["Message-ID"]
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename="decision.pdf")
    return msg.as_bytes()


def reads_after_restart(database_url: str, path: Path, **settings: Any) -> tuple[int, int]:
    """A new app and a new reading job on the same database: what they read, twice (what
    was read before the restart is remembered, what came since is read once)."""
    restarted = make_test_app(database_url, path, **settings)
    db = restarted.extensions["disrupt.db"]
    try:
        return (read_platform_replies(db, restarted.config, now=utcnow),
                read_platform_replies(db, restarted.config, now=utcnow))
    finally:
        db.dispose()


def mailbox_messages(db: Any) -> list[MailboxMessage]:
    with db.session() as session:
        return list(session.scalars(select(MailboxMessage).order_by(MailboxMessage.id)))
