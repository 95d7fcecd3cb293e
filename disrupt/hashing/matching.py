"""Matching rules for media hashes (DESIGN.md §5), framework-free.

- PDQ distance <= 31 with both qualities >= 50 is a match (Meta's defaults);
- pHash distance <= 10 corroborates a PDQ match (it never makes a match alone);
- SHA-256 equality is an exact copy (a match whatever the perceptual hashes say).

Records are duck-typed: anything with the attributes (or mapping keys) ``id``, ``pdq``,
``pdq_quality``, ``phash`` and ``sha256`` works, so ORM rows such as ``MediaHash`` can be
passed directly. For many known hashes, narrow them first with
:class:`disrupt.hashing.index.PDQIndex` and pass only the candidates here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PDQ_MATCH_DISTANCE = 31
PDQ_MIN_QUALITY = 50
PHASH_CORROBORATE_DISTANCE = 10

PDQ_HEX_LEN = 64
PHASH_HEX_LEN = 16
SHA256_HEX_LEN = 64

_HEX = re.compile(r"[0-9a-fA-F]+")

# Match strengths, strongest first.
EXACT_COPY = "exact_copy"
CORROBORATED = "corroborated"
PDQ_ONLY = "pdq"
_STRENGTH_RANK = {EXACT_COPY: 0, CORROBORATED: 1, PDQ_ONLY: 2}


def _is_hex(s: object, length: int) -> bool:
    return isinstance(s, str) and len(s) == length and _HEX.fullmatch(s) is not None


def is_pdq_hex(s: object) -> bool:
    """True for a 256-bit PDQ hash written as 64 hex digits (either case)."""
    return _is_hex(s, PDQ_HEX_LEN)


def is_phash_hex(s: object) -> bool:
    """True for a 64-bit pHash (``str(imagehash.phash(img))``): 16 hex digits."""
    return _is_hex(s, PHASH_HEX_LEN)


def is_sha256_hex(s: object) -> bool:
    """True for a SHA-256 digest written as 64 hex digits (either case)."""
    return _is_hex(s, SHA256_HEX_LEN)


def _hamming(a_hex: str, b_hex: str, length: int, kind: str) -> int:
    if not _is_hex(a_hex, length) or not _is_hex(b_hex, length):
        raise ValueError(f"{kind} hashes must be {length} hex digits: {a_hex!r}, {b_hex!r}")
    return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()


def pdq_distance(a_hex: str, b_hex: str) -> int:
    """Hamming distance between two PDQ hashes (0..256)."""
    return _hamming(a_hex, b_hex, PDQ_HEX_LEN, "PDQ")


def phash_distance(a_hex: str, b_hex: str) -> int:
    """Hamming distance between two pHashes (0..64)."""
    return _hamming(a_hex, b_hex, PHASH_HEX_LEN, "pHash")


@dataclass(frozen=True, slots=True)
class HashRecord:
    """The hashes of one known image, as stored (``MediaHash`` has the same fields)."""

    id: int
    pdq: str | None = None
    pdq_quality: int | None = None
    phash: str | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class MediaMatch:
    """One known record that matches a candidate.

    ``pdq_distance`` and ``phash_distance`` are given whenever both sides have that hash
    (``None`` otherwise), even when the distance alone would not be a match.
    ``strength`` is ``"exact_copy"`` (SHA-256 equal), ``"corroborated"`` (PDQ match and
    pHash within 10) or ``"pdq"`` (PDQ match only).
    """

    id: int
    pdq_distance: int | None
    phash_distance: int | None
    exact_copy: bool
    pdq_match: bool
    phash_corroborates: bool
    strength: str


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


def _checked(record: Any, name: str, valid: Any, label: str) -> str | None:
    value = _field(record, name)
    if value is None or value == "":
        return None
    if not valid(value):
        raise ValueError(f"{label}: malformed {name} {value!r}")
    return value.lower()


def _quality(record: Any, label: str) -> int | None:
    value = _field(record, "pdq_quality")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{label}: pdq_quality must be an int, got {value!r}")
    return value


@dataclass(frozen=True)
class _Candidate:
    sha: str | None
    pdq: int | None
    phash: int | None
    pdq_usable: bool


def _compare(c: _Candidate, record: Any, *, pdq_max_distance: int, min_quality: int,
             phash_max_distance: int) -> MediaMatch | None:
    """The match of one known record, or None."""
    record_id = _field(record, "id")
    label = f"known record {record_id!r}"
    k_pdq = _checked(record, "pdq", is_pdq_hex, label)
    k_phash = _checked(record, "phash", is_phash_hex, label)
    k_sha = _checked(record, "sha256", is_sha256_hex, label)

    exact = c.sha is not None and k_sha is not None and c.sha == k_sha
    pdq_d = None
    if c.pdq is not None and k_pdq is not None:
        pdq_d = (c.pdq ^ int(k_pdq, 16)).bit_count()
    phash_d = None
    if c.phash is not None and k_phash is not None:
        phash_d = (c.phash ^ int(k_phash, 16)).bit_count()

    k_quality = _quality(record, label)
    pdq_ok = (
        pdq_d is not None
        and pdq_d <= pdq_max_distance
        and c.pdq_usable
        and k_quality is not None
        and k_quality >= min_quality
    )
    corroborates = pdq_ok and phash_d is not None and phash_d <= phash_max_distance
    if not (exact or pdq_ok):
        return None
    strength = EXACT_COPY if exact else CORROBORATED if corroborates else PDQ_ONLY
    return MediaMatch(id=record_id, pdq_distance=pdq_d, phash_distance=phash_d,
                      exact_copy=exact, pdq_match=pdq_ok, phash_corroborates=corroborates,
                      strength=strength)


def match_media(
    candidate: Mapping[str, Any] | Any,
    known: Iterable[Any],
    *,
    pdq_max_distance: int = PDQ_MATCH_DISTANCE,
    min_quality: int = PDQ_MIN_QUALITY,
    phash_max_distance: int = PHASH_CORROBORATE_DISTANCE,
) -> list[MediaMatch]:
    """Compare the hashes of ``candidate`` with each known record.

    ``candidate`` has ``pdq``, ``pdq_quality``, ``phash`` and ``sha256`` (any may be
    missing or ``None``); known records also have ``id``. A PDQ hash whose quality is
    unknown (``None``) or below ``min_quality`` on either side never makes a match.
    Malformed hashes raise ``ValueError``.

    Returns the matches, strongest first: exact copies, then corroborated PDQ matches,
    then PDQ-only matches; within a strength by PDQ distance, then id.
    """
    c_pdq = _checked(candidate, "pdq", is_pdq_hex, "candidate")
    c_quality = _quality(candidate, "candidate")
    c_phash = _checked(candidate, "phash", is_phash_hex, "candidate")
    c = _Candidate(sha=_checked(candidate, "sha256", is_sha256_hex, "candidate"),
                   pdq=int(c_pdq, 16) if c_pdq is not None else None,
                   phash=int(c_phash, 16) if c_phash is not None else None,
                   pdq_usable=c_quality is not None and c_quality >= min_quality)
    matches = [m for record in known
               if (m := _compare(c, record, pdq_max_distance=pdq_max_distance,
                                 min_quality=min_quality,
                                 phash_max_distance=phash_max_distance)) is not None]
    matches.sort(
        key=lambda m: (
            _STRENGTH_RANK[m.strength],
            m.pdq_distance if m.pdq_distance is not None else 257,
            m.id,
        )
    )
    return matches
