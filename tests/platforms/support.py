"""Helpers for the platform tests: cases built directly with the services, and the
simulated receivers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from disrupt.cases.models import Case
from disrupt.platforms.notices import Notifier
from tests.support import factories

NOTIFIER = Notifier("Test hotline", "notices@hotline.example", trusted_flagger=True)
PDQ = factories.PDQ


def make_case(session: Session, urls: list[str], *, now: datetime, age_group: str = "adult",
              language: str = "en", assignee_id: int | None = None) -> Case:
    """A case with one fingerprint whose URLs were reported by a caseworker."""
    case = factories.make_case(session, now=now, age_group=age_group, language=language,
                               assignee_id=assignee_id, consent_notices=True, hashes=1)
    factories.report_urls(session, case, urls, now=now)
    return case
