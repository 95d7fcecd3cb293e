"""Helpers for the platform tests: cases built directly with the services, and the
simulated receivers."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from disrupt.cases.models import Case, MediaHash
from disrupt.cases.services import add_reported_url
from disrupt.platforms.notices import Notifier

NOTIFIER = Notifier("Test hotline", "notices@hotline.example", trusted_flagger=True)
PDQ = "ab" * 32


def make_case(session: Session, urls: list[str], *, now: datetime, age_group: str = "adult",
              language: str = "en", assignee_id: int | None = None) -> Case:
    case = Case(reference=f"T-{uuid.uuid4().hex[:8].upper()}", age_group=age_group,
                language=language, consent_notices=True, created_at=now, updated_at=now,
                assignee_id=assignee_id)
    session.add(case)
    session.flush()
    session.add(MediaHash(case=case, kind="image", pdq=PDQ, pdq_quality=90, sha256="cd" * 32,
                          pipeline="test", created_at=now))
    for url in urls:
        add_reported_url(session, case, url, reported_by="caseworker", now=now)
    session.flush()
    return case
