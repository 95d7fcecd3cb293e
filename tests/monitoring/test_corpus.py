"""The labelled verdict corpus (issue 12): every page shape gets the verdict it must get,
checked over real HTTP against the hosts on 127.0.0.10-21 (tests/monitoring/corpus/)."""
from __future__ import annotations

from collections import Counter

import pytest

from disrupt.hashing.matching import match_media
from disrupt.hashing.pipeline import MIN_QUALITY, hash_image_bytes
from tests.monitoring.corpus import ENTRIES, Corpus, Entry
from tests.monitoring.corpus.entries import HOSTS

#: Entries the checker gets wrong today, reported to its owner (strict: a fix makes the
#: test fail until the entry is taken off this list).
KNOWN_GAPS: dict[str, str] = {}  # entry name -> what the checker does wrong


def _params() -> list:
    return [pytest.param(e, id=e.name, marks=[pytest.mark.xfail(
        reason=KNOWN_GAPS[e.name], strict=True)] if e.name in KNOWN_GAPS else [])
        for e in ENTRIES]


@pytest.fixture(scope="session")
def corpus():
    with Corpus() as running:
        yield running


@pytest.mark.parametrize("entry", _params())
def test_corpus_entry(corpus: Corpus, entry: Entry):
    outcome = corpus.check(entry)
    got = (outcome.verdict, outcome.rule if entry.rule else None)
    assert got == (entry.verdict, entry.rule), f"{entry.models}: {outcome.reason}"


def test_the_corpus_covers_the_shapes_the_issue_names():
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names)) >= 40
    kinds = Counter(name.split("_")[0] for name in names)
    for kind in ("forum", "gallery", "imagehost", "tube", "social", "template",
                 "adversarial", "slow", "network"):
        assert kinds[kind] >= 1, kind
    assert {e.host for e in ENTRIES if e.host} == {h for h in HOSTS if not h.endswith("cdn")}
    verdicts = Counter(e.verdict for e in ENTRIES)
    assert set(verdicts) == {"online", "removed", "indeterminate", "restricted", "invalid"}
    # A page still showing the picture is never expected removed.
    assert not [e.name for e in ENTRIES if e.shows_picture and e.verdict == "removed"]
    assert set(KNOWN_GAPS) <= set(names)


def test_the_pictures_are_what_the_entries_say(corpus: Corpus):
    p = corpus.pictures
    case = p.victim_hashes
    assert case[0].pdq_quality >= MIN_QUALITY

    def matches(data: bytes) -> bool:
        return bool(match_media(hash_image_bytes(data), case))

    for variant in (p.victim_q40, p.victim_half, p.victim_png, p.victim_webp):
        assert matches(variant)
    for other in (p.different, *p.others, p.removed_placeholder):
        assert not matches(other)
    assert hash_image_bytes(p.different)["pdq_quality"] >= MIN_QUALITY
    # The bomb: a few KiB whose header says 100 Mpx.
    assert len(p.bomb) < 64 * 1024
    assert int.from_bytes(p.bomb[16:20]) * int.from_bytes(p.bomb[20:24]) == 100_000_000
