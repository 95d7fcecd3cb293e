"""Matches between a case's fingerprints and other cases' (the same image reported by
another victim, or seen again): SHA-256 equality is an exact copy, PDQ distance <= 31 with
both qualities >= 50 a perceptual match (disrupt.hashing.matching)."""
from __future__ import annotations

from collections import defaultdict
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
        by_id = {other.id: other for other in others}
        for media in mine:
            for match in match_media(media, others):
                other = by_id[match.id]
                found.append(CaseMatch(media.id, other.id, other.case_id, match.strength,
                                       match.pdq_distance))
        return found


_STRENGTH_ORDER = {"exact_copy": 0, "corroborated": 1, "pdq": 2}


@dataclass(frozen=True)
class MatchPage:
    """One page of a case's matches, and the fingerprints found in so many other cases
    that they may have been planted (anyone can open a case with any fingerprint)."""

    rows: list[CaseMatch]
    total: int
    page: int
    pages: int
    planted: dict[int, int]  # this case's hash id -> number of other cases holding it


def match_page(matches: list[CaseMatch], *, page: int, page_size: int,
               planted_at: int) -> MatchPage:
    """Matches of ordinary fingerprints first, those of possibly planted ones last."""
    cases_of: dict[int, set[int]] = defaultdict(set)
    for match in matches:
        cases_of[match.hash_id].add(match.other_case_id)
    planted = {hash_id: len(cases) for hash_id, cases in cases_of.items()
               if len(cases) >= planted_at}
    ordered = sorted(matches, key=lambda m: (m.hash_id in planted,
                                             _STRENGTH_ORDER.get(m.strength, 3),
                                             m.other_case_id, m.other_hash_id))
    pages = max(1, -(-len(ordered) // page_size))
    page = min(max(page, 1), pages)
    rows = ordered[(page - 1) * page_size:page * page_size]
    return MatchPage(rows, len(ordered), page, pages, planted)
