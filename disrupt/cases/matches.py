"""Matches between a case's fingerprints and other cases' (the same image reported by
another victim, or seen again): SHA-256 equality is an exact copy, PDQ distance <= 31 with
both qualities >= 50 a perceptual match (disrupt.hashing.matching)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.cases.hash_index import ActiveHashIndex
from disrupt.cases.models import Case, MediaHash
from disrupt.hashing.matching import PDQ_MIN_QUALITY, match_media


@dataclass(frozen=True)
class CaseMatch:
    hash_id: int  # this case's fingerprint
    other_hash_id: int
    other_case_id: int
    strength: str  # exact_copy / corroborated / pdq
    pdq_distance: int | None


class HashMatcher:
    """Candidates come from the process's index of active hashes (kept up to date as hashes
    are added, withdrawn and erased), then `match_media` grades them against the rows."""

    def __init__(self, index: ActiveHashIndex | None = None) -> None:
        self._index = index or ActiveHashIndex()

    def matches_for_case(self, session: Session, case: Case, now: datetime) -> list[CaseMatch]:
        self._index.refresh(session, now)
        mine = [h for h in case.hashes if h.status == "active"]
        if not mine:
            return []
        candidate_ids: set[int] = set()
        for media in mine:
            if media.pdq and (media.pdq_quality or 0) >= PDQ_MIN_QUALITY:
                candidate_ids.update(m.media_hash_id for m in
                                     self._index.matches(media.pdq, exclude_case_id=case.id))
        shas = [h.sha256 for h in mine]
        others = list(session.scalars(
            select(MediaHash).where(
                MediaHash.case_id != case.id, MediaHash.status == "active",
                MediaHash.sha256.in_(shas) | MediaHash.id.in_(sorted(candidate_ids) or [-1]))))
        if not others:
            return []
        found: list[CaseMatch] = []
        for media in mine:
            for match in match_media(media, others):
                other = next(o for o in others if o.id == match.id)
                found.append(CaseMatch(media.id, other.id, other.case_id, match.strength,
                                       match.pdq_distance))
        return found
