"""Exact PDQ range-search index (multi-index hashing), pure numpy.

The 256 bits of a hash are split into 16 chunks of 16 bits. If two hashes are within
Hamming distance ``d`` and chunk ``j`` is probed up to radius ``r_j`` (every value
within ``r_j`` bits of the query's chunk), then with ``sum(r_j + 1) >= d + 1`` at least
one chunk must be within its radius (pigeonhole: otherwise the distance would be at
least ``sum(r_j + 1) > d``). For the PDQ threshold 31 that is radius 1 on every chunk:
16 x 17 = 272 buckets, about 4,200 candidates at 1M random hashes, each verified with a
popcount on four uint64 words, so the result is exact (identical to a full scan).

Storage: the main segment is immutable and rebuilt in bulk: the hashes as ``(n, 4)``
uint64 rows sorted by item id, and per chunk a CSR bucket table (``offsets`` into a
``postings`` array of row numbers). Incremental adds go to a small delta buffer that is
scanned by brute force and merged into the main segment when it grows past
``n / 64`` (at least 1,024 rows); removals from the main segment are tombstones,
compacted away when they pass a quarter of it. When the probe scheme would touch a
large share of the index (large ``max_distance``, or heavily skewed buckets), the query
scans the main segment instead; both paths give the same answer.

Memory at 1M hashes: 32 MB of hashes, 64 MB of postings, 4 MB of offsets, 4-8 MB of
ids and 1 MB of tombstones.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import operator
import sys
import threading
from collections.abc import Iterable
from functools import cache

import numpy as np

from disrupt.hashing.matching import PDQ_MATCH_DISTANCE, is_pdq_hex

N_WORDS = 4  # 256 bits as uint64 words
N_CHUNKS = 16
CHUNK_BITS = 16
N_BUCKETS = 1 << CHUNK_BITS
MAX_DISTANCE = 256

MIN_DELTA = 1024  # the delta buffer always holds at least this many rows before a merge
DELTA_FRACTION = 64  # ... and up to n_main / DELTA_FRACTION
# Scan the main segment instead of probing when the probes would gather more than
# n / SCAN_FRACTION candidates (gathering costs several times more per row than a scan).
SCAN_FRACTION = 8

_INT64 = np.iinfo(np.int64)
_INT32 = np.iinfo(np.int32)


_SCAN_BLOCK = 32768  # rows per block of a scan, so the temporaries stay in cache

if hasattr(np, "bitwise_count"):  # numpy >= 2.0

    def _block_distances(rows: np.ndarray, query: np.ndarray, out: np.ndarray) -> None:
        counts = np.bitwise_count(rows ^ query)  # (m, 4) uint8
        np.add(counts[:, 0], counts[:, 1], out=out, dtype=np.uint16)
        out += counts[:, 2]
        out += counts[:, 3]

    def _distances(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Hamming distances (uint16) between ``(n, 4)`` uint64 rows and one query row."""
        n = len(rows)
        out = np.empty(n, dtype=np.uint16)
        for start in range(0, n, _SCAN_BLOCK):
            stop = min(n, start + _SCAN_BLOCK)
            _block_distances(rows[start:stop], query, out[start:stop])
        return out

else:  # pragma: no cover - exercised only with numpy 1.x
    _M1 = np.uint64(0x5555555555555555)
    _M2 = np.uint64(0x3333333333333333)
    _M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
    _H01 = np.uint64(0x0101010101010101)

    def _distances(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        x = rows ^ query
        x = x - ((x >> np.uint64(1)) & _M1)
        x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
        x = (x + (x >> np.uint64(4))) & _M4
        x = (x * _H01) >> np.uint64(56)
        return x.sum(axis=1, dtype=np.uint16)


def parse_pdq(pdq_hex: str) -> np.ndarray:
    """One PDQ hex string as a ``(4,)`` uint64 array (word 0 = the first 16 digits)."""
    if not is_pdq_hex(pdq_hex):
        raise ValueError(f"not a PDQ hash (64 hex digits): {pdq_hex!r}")
    return np.frombuffer(bytes.fromhex(pdq_hex), dtype=">u8").astype(np.uint64)


def parse_pdq_many(pdq_hexes: Iterable[str]) -> np.ndarray:
    """Many PDQ hex strings as an ``(n, 4)`` uint64 array."""
    hexes = list(pdq_hexes)
    for h in hexes:
        if not isinstance(h, str) or len(h) != 64:
            raise ValueError(f"not a PDQ hash (64 hex digits): {h!r}")
    try:
        raw = bytes.fromhex("".join(hexes))
    except ValueError:
        raw = b""
    if len(raw) != 32 * len(hexes):  # a non-hex digit, or whitespace that fromhex skipped
        bad = next(h for h in hexes if not is_pdq_hex(h))
        raise ValueError(f"not a PDQ hash (64 hex digits): {bad!r}")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, N_WORDS)


def _chunks(words: np.ndarray) -> np.ndarray:
    """The 16 chunks of 16 bits of each ``(n, 4)`` row, as ``(n, 16)`` uint16 (a view)."""
    return np.ascontiguousarray(words).view(np.uint16).reshape(-1, N_CHUNKS)


@cache
def _masks(radius: int) -> np.ndarray:
    """All 16-bit XOR masks with at most ``radius`` bits set, fewest bits first."""
    values = np.arange(N_BUCKETS, dtype=np.int64)
    weights = np.zeros(N_BUCKETS, dtype=np.int64)
    for bit in range(CHUNK_BITS):
        weights += (values >> bit) & 1
    order = np.argsort(weights, kind="stable")
    masks = order[weights[order] <= radius]
    masks.setflags(write=False)
    return masks


@cache
def _probe_plan(max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Chunk numbers and XOR masks to probe for ``max_distance``.

    With ``k = max_distance + 1 = 16 * base + extra``, ``extra`` chunks are probed to
    radius ``base`` and the others to radius ``base - 1`` (radius -1: not probed), so
    ``sum(radius + 1) = k > max_distance``, the pigeonhole condition.
    """
    base, extra = divmod(max_distance + 1, N_CHUNKS)
    chunk_ids: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for chunk in range(N_CHUNKS):
        radius = base if chunk < extra else base - 1
        if radius < 0:
            continue
        m = _masks(min(radius, CHUNK_BITS))
        chunk_ids.append(np.full(len(m), chunk, dtype=np.int64))
        masks.append(m)
    if not masks:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    chunk_arr = np.concatenate(chunk_ids)
    mask_arr = np.concatenate(masks)
    chunk_arr.setflags(write=False)
    mask_arr.setflags(write=False)
    return chunk_arr, mask_arr


def probe_count(max_distance: int) -> int:
    """How many buckets a query probes for ``max_distance``."""
    return len(_probe_plan(max_distance)[0])


class _Segment:
    """Immutable main segment: rows sorted by item id, one CSR bucket table per chunk."""

    __slots__ = ("words", "ids", "offsets", "postings")

    def __init__(self, words: np.ndarray, ids: np.ndarray) -> None:
        n = len(ids)
        self.words = np.ascontiguousarray(words, dtype=np.uint64).reshape(n, N_WORDS)
        fits_int32 = n == 0 or (ids[0] >= _INT32.min and ids[-1] <= _INT32.max)  # ids sorted
        id_dtype = np.int32 if fits_int32 else np.int64
        self.ids = ids.astype(id_dtype)
        row_dtype = np.int32 if n < _INT32.max // 2 else np.int64
        off_dtype = np.int32 if N_CHUNKS * n < _INT32.max else np.int64
        chunks = _chunks(self.words)
        counts = np.empty(N_CHUNKS * N_BUCKETS, dtype=np.int64)
        self.postings = np.empty(N_CHUNKS * n, dtype=row_dtype)
        for j in range(N_CHUNKS):
            column = np.ascontiguousarray(chunks[:, j])
            counts[j * N_BUCKETS : (j + 1) * N_BUCKETS] = np.bincount(column, minlength=N_BUCKETS)
            self.postings[j * n : (j + 1) * n] = np.argsort(column, kind="stable")
        self.offsets = np.zeros(N_CHUNKS * N_BUCKETS + 1, dtype=off_dtype)
        np.cumsum(counts, out=self.offsets[1:])
        for a in (self.words, self.ids, self.offsets, self.postings):
            a.setflags(write=False)

    def __len__(self) -> int:
        return len(self.ids)

    def nbytes(self) -> int:
        return self.words.nbytes + self.ids.nbytes + self.offsets.nbytes + self.postings.nbytes

    def row_of(self, item_id: int) -> int:
        """Row of ``item_id``, or -1."""
        ids = self.ids
        info = np.iinfo(ids.dtype)
        if not info.min <= item_id <= info.max:
            return -1
        # A scalar of the array's own type: otherwise numpy casts the whole array.
        row = int(np.searchsorted(ids, ids.dtype.type(item_id)))
        if row < len(ids) and int(ids[row]) == item_id:
            return row
        return -1

    def rows_of(self, item_ids: np.ndarray) -> np.ndarray:
        """Rows of the int64 ``item_ids``, -1 where absent."""
        ids = self.ids
        rows = np.full(len(item_ids), -1, dtype=np.int64)
        if len(ids) == 0:
            return rows
        info = np.iinfo(ids.dtype)
        fits = (item_ids >= info.min) & (item_ids <= info.max)
        wanted = item_ids[fits].astype(ids.dtype)
        found = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
        rows[fits] = np.where(ids[found] == wanted, found, -1)
        return rows

    def candidates(
        self, query: np.ndarray, max_distance: int, scan_fraction: int = SCAN_FRACTION
    ) -> np.ndarray | None:
        """Rows sharing a probed bucket with ``query`` (with repeats).

        None when a scan is cheaper: the probes would gather more than
        ``n / scan_fraction`` rows (``scan_fraction=0``: always probe).
        """
        n = len(self.ids)
        chunk_arr, mask_arr = _probe_plan(max_distance)
        if len(chunk_arr) * scan_fraction > N_BUCKETS:  # expect > n / scan_fraction rows
            return None
        qchunks = _chunks(query.reshape(1, N_WORDS))[0].astype(np.int64)
        keys = chunk_arr * N_BUCKETS + (qchunks[chunk_arr] ^ mask_arr)
        starts = self.offsets[keys].astype(np.int64)
        lengths = self.offsets[keys + 1] - starts
        nonempty = lengths > 0
        starts = starts[nonempty]
        lengths = lengths[nonempty]
        total = int(lengths.sum())
        if total * scan_fraction > n:
            return None
        if total == 0:
            return np.empty(0, dtype=np.int64)
        # Positions start[0]..end[0]-1, start[1]..end[1]-1, ... as one cumulative sum.
        steps = np.ones(total, dtype=np.int64)
        steps[0] = starts[0]
        run_starts = np.cumsum(lengths[:-1])
        steps[run_starts] = starts[1:] - (starts[:-1] + lengths[:-1]) + 1
        return self.postings[np.cumsum(steps)]


def _empty_segment() -> _Segment:
    return _Segment(np.empty((0, N_WORDS), np.uint64), np.empty(0, np.int64))


def _load_malloc_trim() -> ctypes._CFuncPtr | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _load_malloc_trim()
TRIM_AFTER_ROWS = 65_536


def _release_free_memory() -> None:
    """Hand the build's freed temporaries back to the OS.

    glibc keeps freed heap blocks below its (adaptive, up to 32 MB) mmap threshold; after
    a 1M-row rebuild that is ~150 MB of resident but unused memory.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _check_id(item_id: object) -> int:
    value = operator.index(item_id)  # TypeError for non-integers (floats, strings)
    if not _INT64.min <= value <= _INT64.max:
        raise ValueError(f"item id out of int64 range: {value}")
    return value


def _check_distance(max_distance: object) -> int:
    value = operator.index(max_distance)
    if value < 0:
        raise ValueError(f"max_distance must be >= 0, got {value}")
    return min(value, MAX_DISTANCE)


class PDQIndex:
    """Exact Hamming range search over PDQ hashes, keyed by integer item ids.

    ``add`` of an id already present replaces its hash. Thread-safe (one lock).
    ``delta_limit`` fixes the delta buffer size before a merge (default: adaptive).
    """

    def __init__(
        self, pairs: Iterable[tuple[int, str]] = (), *, delta_limit: int | None = None
    ) -> None:
        self._lock = threading.RLock()
        self._delta_limit = delta_limit
        self._main = _empty_segment()
        self._alive = np.ones(0, dtype=bool)
        self._dead = 0
        self._d_words = np.empty((16, N_WORDS), dtype=np.uint64)
        self._d_ids = np.empty(16, dtype=np.int64)
        self._d_n = 0
        self._d_pos: dict[int, int] = {}
        self.add_many(pairs)

    # -- size and membership ------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._main) - self._dead + self._d_n

    def __contains__(self, item_id: object) -> bool:
        try:
            key = _check_id(item_id)
        except (TypeError, ValueError):
            return False
        with self._lock:
            if key in self._d_pos:
                return True
            row = self._main.row_of(key)
            return row >= 0 and bool(self._alive[row])

    def memory_bytes(self) -> int:
        """Bytes held: every numpy array, plus an estimate for the delta's id dict."""
        with self._lock:
            dict_bytes = sys.getsizeof(self._d_pos) + 64 * len(self._d_pos)
            return (
                self._main.nbytes()
                + self._alive.nbytes
                + self._d_words.nbytes
                + self._d_ids.nbytes
                + dict_bytes
            )

    # -- updates -------------------------------------------------------------------------

    def _limit(self) -> int:
        if self._delta_limit is not None:
            return self._delta_limit
        return max(MIN_DELTA, len(self._main) // DELTA_FRACTION)

    def add(self, item_id: int, pdq_hex: str) -> None:
        """Add (or replace) the hash of ``item_id``."""
        key = _check_id(item_id)
        words = parse_pdq(pdq_hex)
        with self._lock:
            pos = self._d_pos.get(key)
            if pos is not None:
                self._d_words[pos] = words
                return
            self._tombstone(key)
            self._append_delta(np.array([key], dtype=np.int64), words.reshape(1, N_WORDS))
            if self._d_n > self._limit():
                self._rebuild()

    def add_many(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Add (or replace) many ``(item_id, pdq_hex)``; within the batch the last wins."""
        pairs = list(pairs)
        if not pairs:
            return
        ids = np.array([_check_id(i) for i, _ in pairs], dtype=np.int64)
        words = parse_pdq_many(h for _, h in pairs)
        # Keep the last occurrence of each id.
        _, last_from_end = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last_from_end)
        if len(keep) != len(ids):
            ids, words = ids[keep], words[keep]
        with self._lock:
            rows = self._main.rows_of(ids)
            rows = rows[rows >= 0]
            live = rows[self._alive[rows]]
            self._alive[live] = False
            self._dead += len(live)
            if self._d_n:
                in_delta = np.isin(ids, self._d_ids[: self._d_n])
                for key in ids[in_delta].tolist():
                    self._drop_delta(key)
            rebuild = self._d_n + len(ids) > self._limit()
            if rebuild:
                self._rebuild(ids, words, trim=False)
            else:
                self._append_delta(ids, words)
        if rebuild and len(self._main) >= TRIM_AFTER_ROWS:
            del pairs, ids, words, keep, last_from_end, rows, live
            _release_free_memory()

    def remove(self, item_id: int) -> bool:
        """Withdraw ``item_id``; False if it was not in the index."""
        try:
            key = _check_id(item_id)
        except ValueError:
            return False
        with self._lock:
            if key in self._d_pos:
                self._drop_delta(key)
                return True
            if not self._tombstone(key):
                return False
            if self._dead > max(MIN_DELTA, len(self._main) // 4):
                self._rebuild()
            return True

    def compact(self) -> None:
        """Merge the delta buffer into the main segment and drop tombstones now."""
        with self._lock:
            if self._d_n or self._dead:
                self._rebuild()

    def _tombstone(self, key: int) -> bool:
        row = self._main.row_of(key)
        if row < 0 or not self._alive[row]:
            return False
        self._alive[row] = False
        self._dead += 1
        return True

    def _append_delta(self, ids: np.ndarray, words: np.ndarray) -> None:
        need = self._d_n + len(ids)
        if need > len(self._d_ids):
            cap = max(need, 2 * len(self._d_ids))
            new_words = np.empty((cap, N_WORDS), dtype=np.uint64)
            new_words[: self._d_n] = self._d_words[: self._d_n]
            new_ids = np.empty(cap, dtype=np.int64)
            new_ids[: self._d_n] = self._d_ids[: self._d_n]
            self._d_words, self._d_ids = new_words, new_ids
        self._d_words[self._d_n : need] = words
        self._d_ids[self._d_n : need] = ids
        for offset, key in enumerate(ids.tolist()):
            self._d_pos[key] = self._d_n + offset
        self._d_n = need

    def _drop_delta(self, key: int) -> None:
        pos = self._d_pos.pop(key)
        last = self._d_n - 1
        if pos != last:
            self._d_words[pos] = self._d_words[last]
            moved = int(self._d_ids[last])
            self._d_ids[pos] = moved
            self._d_pos[moved] = pos
        self._d_n = last

    def _rebuild(
        self,
        extra_ids: np.ndarray | None = None,
        extra_words: np.ndarray | None = None,
        trim: bool = True,
    ) -> None:
        main = self._main
        ids_parts = [main.ids[self._alive] if self._dead else main.ids]
        words_parts = [main.words[self._alive] if self._dead else main.words]
        ids_parts.append(self._d_ids[: self._d_n])
        words_parts.append(self._d_words[: self._d_n])
        if extra_ids is not None and extra_words is not None:
            ids_parts.append(extra_ids)
            words_parts.append(extra_words)
        ids = np.concatenate([p.astype(np.int64) for p in ids_parts])
        words = np.concatenate(words_parts)
        order = np.argsort(ids, kind="stable")
        self._main = _Segment(words[order], ids[order])
        self._alive = np.ones(len(ids), dtype=bool)
        self._dead = 0
        self._d_words = np.empty((16, N_WORDS), dtype=np.uint64)
        self._d_ids = np.empty(16, dtype=np.int64)
        self._d_n = 0
        self._d_pos = {}
        if trim and len(ids) >= TRIM_AFTER_ROWS:
            del ids, words, order, ids_parts, words_parts, main
            _release_free_memory()

    # -- queries -------------------------------------------------------------------------

    def query(self, pdq_hex: str, max_distance: int = PDQ_MATCH_DISTANCE) -> list[tuple[int, int]]:
        """``(item_id, distance)`` of every hash within ``max_distance``, by distance, id."""
        query = parse_pdq(pdq_hex)
        d = _check_distance(max_distance)
        with self._lock:
            ids, dists = self._search(query, d)
        order = np.lexsort((ids, dists))
        return list(zip(ids[order].tolist(), dists[order].tolist(), strict=True))

    def _search(
        self, query: np.ndarray, d: int, strategy: str = "auto"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unsorted ids and distances. ``strategy``: "auto" (probe or scan, whichever is
        cheaper), "probe" (always probe; slow for large ``d``) or "scan"."""
        main = self._main
        ids_out: list[np.ndarray] = []
        dists_out: list[np.ndarray] = []
        if len(main):
            rows = None
            if strategy != "scan":
                rows = main.candidates(query, d, 0 if strategy == "probe" else SCAN_FRACTION)
            if rows is None:  # full scan of the main segment
                dist = _distances(main.words, query)
                rows = np.flatnonzero(dist <= d)
                dist = dist[rows]
            else:
                dist = _distances(np.take(main.words, rows, axis=0), query)
                hit = dist <= d
                rows, first = np.unique(rows[hit], return_index=True)
                dist = dist[hit][first]
            if self._dead and len(rows):
                alive = self._alive[rows]
                rows, dist = rows[alive], dist[alive]
            ids_out.append(main.ids[rows].astype(np.int64))
            dists_out.append(dist)
        if self._d_n:
            dist = _distances(self._d_words[: self._d_n], query)
            pos = np.flatnonzero(dist <= d)
            ids_out.append(self._d_ids[pos])
            dists_out.append(dist[pos])
        if not ids_out:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        return np.concatenate(ids_out), np.concatenate(dists_out).astype(np.int32)
