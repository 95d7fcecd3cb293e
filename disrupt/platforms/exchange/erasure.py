"""The exchange's part of an erasure: what platforms said about her hashes (which platform
holds which of her images) is deleted, unless another case still has the same hash. The
hashes themselves stay as `deleted` tombstones in media_hashes, so the exchange tells the
platforms to delete them. Never commits."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, MediaHash
from disrupt.events import case_erased
from disrupt.platforms.exchange.models import HashFeedback

PERSONAL = {"hash_feedback": ("hash_value", "tags")}
NOT_PERSONAL = {
    "hash_feedback": ("signal_type", "value"),
    # Hashes partner platforms submitted, and their keys: not linked to any case.
    "partner_hashes": ("signal_type", "hash_value", "feedback_value", "tags"),
    "api_clients": ("name", "subscription_key", "secret_sha256"),
}


def _values(session: Session, condition: Any) -> set[str]:
    rows = session.execute(select(MediaHash.pdq, MediaHash.sha256, MediaHash.md5)
                           .join(Case, Case.id == MediaHash.case_id).where(condition))
    return {value.lower() for row in rows for value in row if value}


def on_case_erased(case: Any, *, session: Session, now: datetime, **_: object) -> None:
    hers = _values(session, MediaHash.case_id == case.id)
    if not hers:
        return
    candidates = sorted(hers)
    others = _values(session, (MediaHash.case_id != case.id) & (Case.status != "erased") & (
        MediaHash.pdq.in_(candidates) | MediaHash.sha256.in_(candidates)
        | MediaHash.md5.in_(candidates)))
    gone = sorted(hers - others)
    for start in range(0, len(gone), 500):
        chunk = gone[start:start + 500]
        session.execute(delete(HashFeedback).where(HashFeedback.hash_value.in_(
            chunk + [value.upper() for value in chunk])))


def connect() -> None:
    case_erased.connect(on_case_erased)
