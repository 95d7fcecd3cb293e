"""One PDQ index of every active case hash per process, kept up to date from the database
as hashes are added, withdrawn and erased. Cross-case matches (cases.matches) use it."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from disrupt.cases.models import STOPPED_STATUSES, Case, MediaHash
from disrupt.hashing.index import PDQIndex
from disrupt.hashing.matching import PDQ_MATCH_DISTANCE, PDQ_MIN_QUALITY

# A change committed a little after it was stamped is still seen by the next refresh.
REFRESH_OVERLAP = timedelta(seconds=30)


@dataclass(frozen=True)
class HashMatch:
    media_hash_id: int
    case_id: int
    distance: int


class ActiveHashIndex:
    """Thread-safe; `refresh` reads only what changed since the last refresh."""

    def __init__(self) -> None:
        self._index = PDQIndex()
        self._case_of: dict[int, int] = {}
        self._high_id = 0
        self._since: datetime | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._index)

    def refresh(self, session: Session, now: datetime) -> None:
        with self._lock:
            query = (
                select(MediaHash.id, MediaHash.case_id, MediaHash.pdq, MediaHash.pdq_quality,
                       MediaHash.status, Case.status)
                .join(Case, Case.id == MediaHash.case_id)
                .where(MediaHash.pdq.is_not(None))
            )
            if self._since is not None:
                query = query.where(or_(
                    MediaHash.id > self._high_id,
                    MediaHash.status_changed_at >= self._since,
                    Case.withdrawn_at >= self._since,
                    Case.erased_at >= self._since,
                ))
            for media_id, case_id, pdq, quality, status, case_status in session.execute(query):
                active = (status == "active" and case_status not in STOPPED_STATUSES
                          and (quality or 0) >= PDQ_MIN_QUALITY)
                if active:
                    self._index.add(media_id, pdq)
                    self._case_of[media_id] = case_id
                elif self._index.remove(media_id):
                    self._case_of.pop(media_id, None)
                self._high_id = max(self._high_id, media_id)
            self._since = now - REFRESH_OVERLAP

    def matches(self, pdq: str, *, max_distance: int = PDQ_MATCH_DISTANCE,
                exclude_case_id: int | None = None) -> list[HashMatch]:
        with self._lock:
            found = self._index.query(pdq, max_distance)
            return [HashMatch(media_id, self._case_of[media_id], distance)
                    for media_id, distance in found
                    if self._case_of.get(media_id) not in (None, exclude_case_id)]
