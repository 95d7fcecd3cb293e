from __future__ import annotations

from dataclasses import FrozenInstanceError
from types import SimpleNamespace

import pytest

from disrupt.hashing.matching import (
    PDQ_MATCH_DISTANCE,
    PDQ_MIN_QUALITY,
    PHASH_CORROBORATE_DISTANCE,
    HashRecord,
    MediaMatch,
    is_pdq_hex,
    is_phash_hex,
    is_sha256_hex,
    match_media,
    pdq_distance,
    phash_distance,
)

PDQ = "f162eb9daab170c0567fe3632d9a5548c5612982dd5e374a7424ebbc8a835c95"
PHASH = "d1d1b1a1e1c1c3c3"
SHA = "ab" * 32
OTHER_SHA = "cd" * 32


def flip(hex_: str, n: int) -> str:
    """Flip the n lowest bits."""
    width = len(hex_)
    return f"{int(hex_, 16) ^ ((1 << n) - 1):0{width}x}"


def test_constants() -> None:
    assert (PDQ_MATCH_DISTANCE, PDQ_MIN_QUALITY, PHASH_CORROBORATE_DISTANCE) == (31, 50, 10)


def test_distances() -> None:
    assert pdq_distance(PDQ, PDQ) == 0
    assert pdq_distance(PDQ, flip(PDQ, 31)) == 31
    assert pdq_distance("0" * 64, "f" * 64) == 256
    assert pdq_distance(PDQ.upper(), PDQ) == 0
    # Two hashes of Meta's regression haystack (lines 1 and 2).
    assert (
        pdq_distance(PDQ, "b062eb9d2ab170c0567fcb672d9a5548c5612982dd5e374a7424ebbc8b135cb5") == 10
    )
    assert phash_distance(PHASH, flip(PHASH, 10)) == 10
    assert phash_distance("0" * 16, "f" * 16) == 64
    with pytest.raises(ValueError):
        pdq_distance(PDQ, PHASH)
    with pytest.raises(ValueError):
        phash_distance(PHASH, "x" * 16)


@pytest.mark.parametrize(
    ("fn", "good", "bad"),
    [
        (is_pdq_hex, [PDQ, PDQ.upper()], [PDQ[:-1], PDQ + "0", "g" * 64, PDQ[:-1] + "\n", None, 5]),
        (is_phash_hex, [PHASH, "0" * 16], [PHASH[:-1], "z" * 16, " " + PHASH[1:], b"0" * 16]),
        (is_sha256_hex, [SHA, SHA.upper()], [SHA[:-2], "0x" + SHA[2:], "-" + SHA[1:]]),
    ],
)
def test_validation(fn, good, bad) -> None:
    assert all(fn(s) for s in good)
    assert not any(fn(s) for s in bad)


def candidate(**overrides):
    base = {"pdq": PDQ, "pdq_quality": 90, "phash": PHASH, "sha256": OTHER_SHA}
    base.update(overrides)
    return base


def test_pdq_match_at_the_threshold_only() -> None:
    known = [
        HashRecord(1, flip(PDQ, 31), 80, None, SHA),
        HashRecord(2, flip(PDQ, 32), 80, None, SHA[::-1]),
    ]
    [m] = match_media(candidate(), known)
    assert m == MediaMatch(
        id=1,
        pdq_distance=31,
        phash_distance=None,
        exact_copy=False,
        pdq_match=True,
        phash_corroborates=False,
        strength="pdq",
    )


@pytest.mark.parametrize(("cand_q", "known_q"), [(49, 90), (90, 49), (None, 90), (90, None)])
def test_low_or_unknown_quality_never_matches(cand_q, known_q) -> None:
    known = [HashRecord(1, PDQ, known_q, PHASH, SHA)]
    assert match_media(candidate(pdq_quality=cand_q), known) == []


def test_quality_fifty_is_enough() -> None:
    known = [HashRecord(1, PDQ, 50, None, SHA)]
    assert [m.id for m in match_media(candidate(pdq_quality=50), known)] == [1]


def test_phash_corroborates_but_never_matches_alone() -> None:
    known = [
        HashRecord(1, flip(PDQ, 20), 80, flip(PHASH, 10), SHA),
        HashRecord(2, flip(PDQ, 5), 80, flip(PHASH, 11), SHA[::-1]),
        HashRecord(3, flip(PDQ, 40), 80, PHASH, "ee" * 32),  # pHash alone: no match
        HashRecord(4, PDQ, 10, PHASH, "ff" * 32),  # weak PDQ, same pHash: no match
    ]
    result = match_media(candidate(), known)
    assert [(m.id, m.strength, m.phash_distance) for m in result] == [
        (1, "corroborated", 10),
        (2, "pdq", 11),
    ]
    assert result[0].phash_corroborates and not result[1].phash_corroborates


def test_sha256_equality_is_an_exact_copy_whatever_the_perceptual_hashes() -> None:
    known = [
        HashRecord(7, None, None, None, SHA.upper()),
        HashRecord(8, flip(PDQ, 100), 10, None, SHA),
        HashRecord(9, PDQ, 90, PHASH, "01" * 32),
    ]
    result = match_media(candidate(sha256=SHA), known)
    assert [(m.id, m.strength, m.exact_copy) for m in result] == [
        (8, "exact_copy", True),  # exact copies: by PDQ distance (none sorts last)
        (7, "exact_copy", True),
        (9, "corroborated", False),
    ]
    assert result[0].pdq_distance == 100 and not result[0].pdq_match


def test_results_ordered_by_strength_then_distance_then_id() -> None:
    known = [
        HashRecord(5, flip(PDQ, 3), 80, None, "01" * 32),
        HashRecord(4, flip(PDQ, 3), 80, None, "02" * 32),
        HashRecord(3, flip(PDQ, 1), 80, None, "03" * 32),
        HashRecord(2, flip(PDQ, 9), 80, PHASH, "04" * 32),
        HashRecord(1, flip(PDQ, 30), 80, None, SHA),
    ]
    assert [m.id for m in match_media(candidate(sha256=SHA), known)] == [1, 2, 3, 4, 5]


def test_accepts_orm_like_objects_and_mappings() -> None:
    row = SimpleNamespace(id=11, pdq=PDQ, pdq_quality=70, phash=None, sha256=SHA)
    as_dict = {"id": 12, "pdq": PDQ, "pdq_quality": 70}
    assert [m.id for m in match_media(candidate(), [row, as_dict])] == [11, 12]
    assert [m.id for m in match_media(SimpleNamespace(**candidate()), [row])] == [11]


def test_missing_hashes_are_skipped_and_custom_thresholds() -> None:
    known = [HashRecord(1, flip(PDQ, 20), 80, flip(PHASH, 3), SHA)]
    assert match_media({"sha256": OTHER_SHA}, known) == []
    assert match_media(candidate(), known, pdq_max_distance=19) == []
    assert match_media(candidate(), known, phash_max_distance=2)[0].strength == "pdq"
    assert match_media(candidate(pdq_quality=40), known, min_quality=40)[0].id == 1


def test_malformed_hashes_raise() -> None:
    with pytest.raises(ValueError, match="candidate"):
        match_media(candidate(pdq="zz"), [])
    with pytest.raises(ValueError, match="known record 3"):
        match_media(candidate(), [HashRecord(3, PDQ, 80, "nothex!!nothex!!", SHA)])
    with pytest.raises(ValueError):
        match_media(candidate(pdq_quality="90"), [])


def test_records_are_frozen() -> None:
    record = HashRecord(1, PDQ, 80, PHASH, SHA)
    with pytest.raises(FrozenInstanceError):
        record.pdq = None
