"""PDQIndex must return exactly what a brute-force scan returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from disrupt.hashing.index import N_CHUNKS, PDQIndex, _probe_plan, parse_pdq, probe_count
from tests.support.fixtures import require_pdq_reference

STRATEGIES = ("auto", "probe", "scan")


def _read_hashes(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _bits(hexes: list[str]) -> np.ndarray:
    """(n, 256) bit matrix: the oracle does not share the index's popcount code."""
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(len(hexes), 32)
    return np.unpackbits(raw, axis=1)


def _brute(items: dict[int, str], query: str, d: int) -> list[tuple[int, int]]:
    if not items:
        return []
    ids = list(items)
    dist = (_bits(list(items.values())) != _bits([query])[0]).sum(axis=1)
    return sorted((i, int(x)) for i, x in zip(ids, dist, strict=True) if x <= d)


def _sorted_by_id(result: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return sorted(result)


def _search(index: PDQIndex, query: str, d: int, strategy: str) -> list[tuple[int, int]]:
    ids, dists = index._search(parse_pdq(query), d, strategy)
    return sorted(zip(ids.tolist(), dists.tolist(), strict=True))


def _random_hexes(rng: np.random.Generator, n: int) -> list[str]:
    return [row.tobytes().hex() for row in rng.integers(0, 256, size=(n, 32), dtype=np.uint8)]


def _flip(hex_: str, positions: np.ndarray | list[int]) -> str:
    value = int(hex_, 16)
    for p in positions:
        value ^= 1 << int(p)
    return f"{value:064x}"


# -- pigeonhole plan ---------------------------------------------------------------------


@pytest.mark.parametrize("d", range(0, 100))
def test_probe_plan_satisfies_pigeonhole(d: int) -> None:
    chunks, masks = _probe_plan(d)
    radius = [-1] * N_CHUNKS
    for chunk, mask in zip(chunks.tolist(), masks.tolist(), strict=True):
        radius[chunk] = max(radius[chunk], mask.bit_count())
    for chunk in range(N_CHUNKS):  # each probed chunk has every mask up to its radius
        expected = sum(1 for m in range(1 << 16) if m.bit_count() <= radius[chunk])
        if radius[chunk] <= 2:
            assert int((chunks == chunk).sum()) == expected
    assert sum(r + 1 for r in radius) > d


def test_probe_count_for_the_pdq_threshold() -> None:
    assert probe_count(31) == 16 * 17
    assert probe_count(15) == 16
    assert probe_count(0) == 1


@pytest.mark.parametrize("d", [15, 16, 30, 31, 32, 47, 48])
def test_worst_case_spread_is_found_at_the_boundary(d: int) -> None:
    """Flip d bits spread as evenly as possible over the 16 chunks (each chunk is one
    16-bit lane of a uint64 word): found at max_distance d, not at d - 1."""
    rng = np.random.default_rng(d)
    base = _random_hexes(rng, 1)[0]
    base_words = parse_pdq(base)
    per_chunk = [d // N_CHUNKS + (1 if c < d % N_CHUNKS else 0) for c in range(N_CHUNKS)]
    words = base_words.copy()
    for chunk, count in enumerate(per_chunk):
        word, lane = divmod(chunk, 4)
        for bit in rng.choice(16, size=count, replace=False):
            words[word] ^= np.uint64(1) << np.uint64(lane * 16 + int(bit))
    target = words.astype(">u8").tobytes().hex()
    items = dict(enumerate(_random_hexes(rng, 3000)))
    items[10**6] = target
    index = PDQIndex(items.items())
    index.compact()
    for strategy in STRATEGIES:
        assert (10**6, d) in _search(index, base, d, strategy)
        assert all(i != 10**6 for i, _ in _search(index, base, d - 1, strategy))


# -- Meta's regression needles and haystack ----------------------------------------------


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], list[str]]:
    folder = require_pdq_reference() / "reg-test-input"
    return _read_hashes(folder / "needles.txt"), _read_hashes(folder / "haystack.txt")


def test_reference_files_format(reference: tuple[list[str], list[str]]) -> None:
    needles, haystack = reference
    assert len(needles) == 100 and len(haystack) == 1350
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in needles + haystack)


@pytest.mark.parametrize("compacted", [True, False])
def test_needles_in_haystack_match_brute_force(
    reference: tuple[list[str], list[str]], compacted: bool
) -> None:
    needles, haystack = reference
    items = dict(enumerate(haystack))
    index = PDQIndex(items.items())
    if compacted:
        index.compact()
    for needle in needles:
        expected = _brute(items, needle, 31)
        assert 2 <= len(expected) <= 3
        result = index.query(needle)
        assert result == sorted(expected, key=lambda r: (r[1], r[0]))
        for d in (0, 12, 31, 40, 64):
            for strategy in STRATEGIES:
                assert _search(index, needle, d, strategy) == _brute(items, needle, d)


# -- random data with planted neighbours -------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_neighbours_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    items = dict(enumerate(_random_hexes(rng, 20_000)))
    next_id = 1_000_000
    queries = []
    for _ in range(12):
        centre = _random_hexes(rng, 1)[0]
        queries.append(centre)
        for distance in range(0, 41):
            items[next_id] = _flip(centre, rng.choice(256, size=distance, replace=False))
            next_id += 1
    queries += [items[int(i)] for i in rng.integers(0, 20_000, size=4)]
    index = PDQIndex(items.items())
    index.compact()
    assert len(index) == len(items)
    for query in queries:
        expected31 = _brute(items, query, 31)
        assert _sorted_by_id(index.query(query)) == expected31
        for d in (0, 7, 31, 40):
            for strategy in STRATEGIES:
                assert _search(index, query, d, strategy) == _brute(items, query, d)
    # Each planted cluster contributes exactly its 32 members at distance <= 31.
    assert len(index.query(queries[0])) == 32


def test_skewed_buckets_fall_back_and_stay_exact() -> None:
    """Many near-copies share chunks: the probes would gather most of the index."""
    rng = np.random.default_rng(7)
    centre = _random_hexes(rng, 1)[0]
    items = {
        i: _flip(centre, rng.choice(256, size=int(rng.integers(20, 60)), replace=False))
        for i in range(3000)
    }
    index = PDQIndex(items.items())
    index.compact()
    for d in (10, 31, 45):
        assert _sorted_by_id(index.query(centre, d)) == _brute(items, centre, d)


# -- incremental updates -----------------------------------------------------------------


@pytest.mark.parametrize("delta_limit", [None, 37])
def test_adds_and_removes_match_brute_force(delta_limit: int | None) -> None:
    rng = np.random.default_rng(11)
    centres = _random_hexes(rng, 6)
    model: dict[int, str] = {}
    index = PDQIndex(delta_limit=delta_limit)

    def new_hash() -> str:
        if rng.random() < 0.5:
            return _random_hexes(rng, 1)[0]
        centre = centres[int(rng.integers(len(centres)))]
        return _flip(centre, rng.choice(256, size=int(rng.integers(0, 41)), replace=False))

    initial = {i: new_hash() for i in range(2000)}
    index.add_many(initial.items())
    model.update(initial)
    for step in range(600):
        op = rng.random()
        if op < 0.45:
            item_id = int(rng.integers(0, 3000))  # sometimes replaces an existing id
            value = new_hash()
            index.add(item_id, value)
            model[item_id] = value
        elif op < 0.85:
            item_id = int(rng.integers(0, 3000))
            assert index.remove(item_id) == (item_id in model)
            model.pop(item_id, None)
        elif op < 0.95:
            batch = [(int(rng.integers(0, 3000)), new_hash()) for _ in range(25)]
            index.add_many(batch)
            model.update(dict(batch))  # the last occurrence of an id wins
        else:
            index.compact()
        if step % 50 == 0 or step == 599:
            assert len(index) == len(model)
            for query in centres + [new_hash()]:
                assert _sorted_by_id(index.query(query)) == _brute(model, query, 31)
                assert _search(index, query, 40, "probe") == _brute(model, query, 40)
    for item_id in list(model)[:500]:
        assert item_id in index
        index.remove(item_id)
        del model[item_id]
        assert item_id not in index
    for query in centres:
        assert _sorted_by_id(index.query(query)) == _brute(model, query, 31)


def test_remove_everything_then_re_add() -> None:
    rng = np.random.default_rng(5)
    hexes = _random_hexes(rng, 3000)
    index = PDQIndex(enumerate(hexes))
    for i in range(3000):
        assert index.remove(i)
    assert len(index) == 0 and index.query(hexes[0]) == []
    assert not index.remove(0)
    index.add(42, hexes[0])
    assert index.query(hexes[0]) == [(42, 0)]


# -- API details ------------------------------------------------------------------------


def test_results_sorted_by_distance_then_id() -> None:
    rng = np.random.default_rng(3)
    centre = _random_hexes(rng, 1)[0]
    index = PDQIndex()
    index.add_many([(9, centre), (3, centre), (5, _flip(centre, [0, 1])), (1, _flip(centre, [7]))])
    assert index.query(centre) == [(3, 0), (9, 0), (1, 1), (5, 2)]


def test_ids_beyond_int32_and_uppercase_hex() -> None:
    rng = np.random.default_rng(4)
    hexes = _random_hexes(rng, 2000)
    pairs = [(2**40 + i, h) for i, h in enumerate(hexes)] + [(-7, hexes[0].upper())]
    index = PDQIndex(pairs)
    index.compact()
    assert index.query(hexes[0]) == [(-7, 0), (2**40, 0)]
    assert index.remove(2**40) and index.query(hexes[0].upper()) == [(-7, 0)]


def test_ids_beyond_int32_join_an_int32_index() -> None:
    rng = np.random.default_rng(6)
    hexes = _random_hexes(rng, 2000)
    index = PDQIndex(enumerate(hexes))
    index.compact()
    assert index._main.ids.dtype == np.int32
    assert 2**40 not in index and not index.remove(2**40)
    index.add(2**40, hexes[0])
    index.add_many([(-(2**40), hexes[0]), (1, hexes[0])])
    assert index.query(hexes[0]) == [(-(2**40), 0), (0, 0), (1, 0), (2**40, 0)]
    index.compact()
    assert index._main.ids.dtype == np.int64
    assert index.remove(2**40) and index.remove(1)
    assert index.query(hexes[0]) == [(-(2**40), 0), (0, 0)]


def test_empty_index_and_validation() -> None:
    index = PDQIndex()
    assert len(index) == 0
    assert index.query("0" * 64) == []
    with pytest.raises(ValueError):
        index.query("0" * 63)
    with pytest.raises(ValueError):
        index.query("0" * 64, max_distance=-1)
    with pytest.raises(ValueError):
        index.add(1, "g" * 64)
    with pytest.raises(ValueError):
        index.add_many([(1, "0" * 64), (2, " " + "0" * 63)])
    with pytest.raises(TypeError):
        index.add("1", "0" * 64)
    with pytest.raises(ValueError):
        index.add(2**63, "0" * 64)
    assert len(index) == 0
    assert not index.remove(1)


def test_large_max_distance_matches_everything() -> None:
    rng = np.random.default_rng(8)
    hexes = _random_hexes(rng, 1500)
    index = PDQIndex(enumerate(hexes))
    index.compact()
    assert len(index.query(hexes[0], max_distance=256)) == 1500
    assert len(index.query(hexes[0], max_distance=10_000)) == 1500
    complement = f"{int(hexes[0], 16) ^ (2**256 - 1):064x}"
    assert index.query(complement, max_distance=256)[-1] == (0, 256)


def test_memory_bytes_is_about_105_bytes_per_hash() -> None:
    rng = np.random.default_rng(9)
    index = PDQIndex(enumerate(_random_hexes(rng, 50_000)))
    index.compact()
    per_hash = (index.memory_bytes() - 16 * 65537 * 4) / 50_000
    assert 100 <= per_hash <= 110
