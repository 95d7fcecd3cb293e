"""The evidence feature's listeners: a capture queued when the checker first sees the picture
online; on erasure the case's captures and their files go, unless a caseworker placed a legal
hold (an open referral to the authorities); closing that referral ends the hold. Never
commits."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case
from disrupt.events import (
    case_erased,
    case_erasure_committed,
    picture_seen_online,
    referral_closed,
)
from disrupt.evidence.models import Capture
from disrupt.evidence.services import (
    active_hold,
    end_holds_of_referral,
    erase_captures,
    queue_capture,
)

#: Kept only under a legal hold (then they are what the police asked to keep).
PERSONAL = {
    "evidence_captures": ("url", "final_url", "error", "pictures", "sha256", "file_name"),
}
NOT_PERSONAL = {
    "evidence_captures": ("status", "trigger", "verdict"),
}


def on_picture_seen_online(case_id: int, *, session: Session, now: datetime,
                           reported_url_id: int, url: str, outcome: Any, **_: object) -> None:
    case = session.get(Case, case_id)
    if case is None:
        return
    pictures = ([{"url": outcome.media_url, "sha256": outcome.media_digest,
                  "distance": outcome.distance}] if outcome.media_digest else [])
    queue_capture(session, case, reported_url_id=reported_url_id, url=url, trigger="checker",
                  now=now, verdict=outcome.verdict, pictures=pictures)


def on_referral_closed(case: Case, *, session: Session, now: datetime, referral_id: int,
                       closed_by_id: int | None = None, **_: object) -> None:
    end_holds_of_referral(session, referral_id, user_id=closed_by_id, now=now)


def on_case_erased(case: Case, *, session: Session, now: datetime, **_: object) -> None:
    erase_captures(session, case.id, now=now)


def on_case_erasure_committed(case_id: int, *, session: Session, config: Any,
                              **_: object) -> None:
    """Every file of the case that no remaining capture row names (none unless on hold)."""
    folder = Path(config["EVIDENCE_DIR"])
    if not folder.is_dir() or active_hold(session, case_id) is not None:
        return
    kept = set(session.scalars(select(Capture.file_name).where(Capture.case_id == case_id)))
    for path in folder.glob(f"{case_id}-*"):
        if path.name not in kept:
            path.unlink(missing_ok=True)


def connect() -> None:
    picture_seen_online.connect(on_picture_seen_online)
    case_erased.connect(on_case_erased)
    case_erasure_committed.connect(on_case_erasure_committed)
    referral_closed.connect(on_referral_closed)
