"""PDQ matching: DISRUPT's PDQIndex against threatexchange's PDQ indexes and a numpy scan.

    .venv/bin/python bench/matching.py [--n 1000000] [--queries 200] [--seed 1]

Database: ``--n`` random PDQ hashes, of which ``--queries x 10`` are planted near
neighbours of the query hashes, at distances 0..40 (so each query has about eight
hashes within 31). Ground truth is an exact scan. Every index is built in its own forked
process, so its memory is measured without the others' allocations:

- RSS delta: resident set size after building (after gc) minus before, from
  /proc/self/statm. Includes everything (faiss's C++ buffers, Python objects), but also
  allocator slack;
- tracemalloc: bytes still allocated through Python's allocators after the build
  (Python objects and numpy arrays; NOT faiss's C++ memory);
- accounted: what the index holds by construction. DISRUPT: ``memory_bytes()``;
  threatexchange: faiss's vectors (flat: ntotal x 256 float32; multi-hash: ntotal x 32
  bytes of codes, its hash maps not counted) plus the wrapper's Python objects (the
  tracemalloc figure). ``faiss vectors`` is the first part alone.

Queries go through each index's public single-query API (``PDQIndex.query``;
threatexchange ``query``), one at a time, at distance 31.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disrupt.hashing.index import PDQIndex, _distances  # noqa: E402

THRESHOLD = 31
PLANTED_PER_QUERY = 10
MB = 1e6


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_data(n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
    """(database rows, query rows, planted (row, query, distance)) as (n, 4) uint64."""
    rng = np.random.default_rng(seed)
    db = rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)
    qs = rng.integers(0, 2**64 - 1, size=(queries, 4), dtype=np.uint64, endpoint=True)
    planted = []
    n_planted = min(n, queries * PLANTED_PER_QUERY)
    rows = rng.choice(n, size=n_planted, replace=False)
    for k, row in enumerate(rows.tolist()):
        q, j = divmod(k, PLANTED_PER_QUERY)
        distance = (q * PLANTED_PER_QUERY + j) % 41
        words = qs[q].copy()
        for bit in rng.choice(256, size=distance, replace=False).tolist():
            words[bit // 64] ^= np.uint64(1) << np.uint64(bit % 64)
        db[row] = words
        planted.append((row, q, distance))
    return db, qs, planted


def to_hex(rows: np.ndarray) -> list[str]:
    big = rows.astype(">u8").tobytes().hex()
    return [big[i : i + 64] for i in range(0, len(big), 64)]


# -- one child process per contestant ----------------------------------------------------


def _measure(
    build: Callable[[], object],
    query: Callable[[object, str], list[tuple[int, int]]],
    touch: Callable[[], object],
    query_hexes: list[str],
    extra: Callable[[object], dict] | None = None,
) -> dict:
    touch()  # copy-on-write the inherited input now, so it is not counted as index memory
    gc.collect()
    tracemalloc.start()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = build()
    build_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_bytes()
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    for q in query_hexes[:3]:
        query(index, q)
    results = []
    t0 = time.perf_counter()
    for q in query_hexes:
        results.append(query(index, q))
    elapsed = time.perf_counter() - t0
    out = {
        "accounted": traced,
        "build_s": build_s,
        "rss_delta": rss1 - rss0,
        "traced": traced,
        "qps": len(query_hexes) / elapsed,
        "ms_per_query": 1e3 * elapsed / len(query_hexes),
        "results": [sorted(r) for r in results],
    }
    if extra is not None:
        out.update(extra(index))
    out["accounted"] += out.get("vectors", 0)
    return out


def _touch(pairs: list[tuple]) -> int:
    """Write every inherited object's refcount, forcing copy-on-write before measuring."""
    count = 0
    for a, b in pairs:
        count += a is b
    return count


def _run_in_child(target: Callable[..., dict], *args) -> dict:
    parent, child = mp.get_context("fork").Pipe(duplex=False)

    def main() -> None:
        try:
            child.send(target(*args))
        except BaseException as exc:  # report, do not hang the parent
            child.send({"error": f"{type(exc).__name__}: {exc}"})

    proc = mp.get_context("fork").Process(target=main)
    proc.start()
    result = parent.recv()
    proc.join()
    return result


def bench_disrupt(pairs: list[tuple[int, str]], query_hexes: list[str]) -> dict:
    def build() -> PDQIndex:
        return PDQIndex(pairs)

    def extra(index: PDQIndex) -> dict:
        info = {"accounted": index.memory_bytes()}
        # Live updates: 5,000 adds into the delta buffer and 5,000 tombstoned removes.
        rng = np.random.default_rng(99)
        new = to_hex(rng.integers(0, 2**64 - 1, size=(5000, 4), dtype=np.uint64, endpoint=True))
        t0 = time.perf_counter()
        for k, h in enumerate(new):
            index.add(10**9 + k, h)
        info["add_us"] = 1e6 * (time.perf_counter() - t0) / len(new)
        victims = rng.choice(len(pairs), size=5000, replace=False).tolist()
        t0 = time.perf_counter()
        for v in victims:
            index.remove(pairs[v][0])
        info["remove_us"] = 1e6 * (time.perf_counter() - t0) / len(victims)
        t0 = time.perf_counter()
        for q in query_hexes:
            index.query(q)
        info["qps_with_updates"] = len(query_hexes) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        index.compact()
        info["compact_s"] = time.perf_counter() - t0
        return info

    return _measure(
        build, lambda index, q: index.query(q, THRESHOLD), lambda: _touch(pairs), query_hexes, extra
    )


def _faiss_threads(threads: int | None) -> None:
    import faiss

    if threads:
        faiss.omp_set_num_threads(threads)


def bench_te_flat(
    entries: list[tuple[str, int]], query_hexes: list[str], threads: int | None
) -> dict:
    import faiss
    from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2

    _faiss_threads(threads)

    def build() -> PDQIndex2:
        return PDQIndex2(entries=entries, threshold=THRESHOLD)

    def query(index: PDQIndex2, q: str) -> list[tuple[int, int]]:
        return [(m.metadata, int(round(float(m.similarity_info.distance)))) for m in index.query(q)]

    def extra(index: PDQIndex2) -> dict:
        return {
            "vectors": index._index.faiss_index.ntotal * 256 * 4,
            "threads": faiss.omp_get_max_threads(),
        }

    return _measure(build, query, lambda: _touch(entries), query_hexes, extra)


def bench_te_mih(
    entries: list[tuple[str, int]], query_hexes: list[str], threads: int | None
) -> dict:
    import faiss
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex as TEPDQIndex

    _faiss_threads(threads)

    def build() -> TEPDQIndex:
        return TEPDQIndex(entries=entries)

    def query(index: TEPDQIndex, q: str) -> list[tuple[int, int]]:
        return [(m.metadata, int(round(float(m.similarity_info.distance)))) for m in index.query(q)]

    def extra(index: TEPDQIndex) -> dict:
        return {
            "vectors": index.index.faiss_index.ntotal * 32,
            "threads": faiss.omp_get_max_threads(),
        }

    return _measure(build, query, lambda: _touch(entries), query_hexes, extra)


# -- numpy scans, in the parent ----------------------------------------------------------


def numpy_scan(db: np.ndarray, qs: np.ndarray, blocked: bool) -> tuple[float, list[list]]:
    results = []
    t0 = time.perf_counter()
    for q in qs:
        dist = _distances(db, q) if blocked else np.bitwise_count(db ^ q).sum(axis=1)
        rows = np.flatnonzero(dist <= THRESHOLD)
        results.append(sorted(zip(rows.tolist(), dist[rows].tolist(), strict=True)))
    return len(qs) / (time.perf_counter() - t0), results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hashes in the index")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--faiss-threads", type=int, default=None, help="OpenMP threads for faiss (default: all)"
    )
    parser.add_argument("--skip-mih", action="store_true", help="skip threatexchange PDQIndex")
    args = parser.parse_args()

    print(
        f"PDQ matching benchmark: n={args.n:,} hashes, {args.queries} queries, "
        f"distance <= {THRESHOLD}, numpy {np.__version__}, {os.cpu_count()} CPUs"
    )
    t0 = time.perf_counter()
    db, qs, planted = make_data(args.n, args.queries, args.seed)
    db_hex = to_hex(db)
    q_hex = to_hex(qs)
    pairs = list(enumerate(db_hex))
    entries = [(h, i) for i, h in pairs]
    print(
        f"data: {time.perf_counter() - t0:.1f} s, "
        f"{len(planted)} planted neighbours at distances 0..40"
    )

    scan_qps, truth = numpy_scan(db, qs, blocked=True)
    must = {(row, q) for row, q, d in planted if d <= THRESHOLD}
    found = {(row, q) for q, res in enumerate(truth) for row, _ in res}
    assert must <= found, "the exact scan missed a planted neighbour"
    n_truth = sum(len(r) for r in truth)
    print(
        f"ground truth: {n_truth} (id, distance) pairs within {THRESHOLD} "
        f"({n_truth / len(qs):.1f} per query), all planted ones included\n"
    )

    def recall(results: list[list]) -> float:
        hit = sum(len(set(r) & set(t)) for r, t in zip(results, truth, strict=True))
        return hit / max(1, n_truth)

    rows = []
    disrupt = _run_in_child(bench_disrupt, pairs, q_hex)
    if "error" in disrupt:
        sys.exit(f"DISRUPT PDQIndex failed: {disrupt['error']}")
    rows.append(("DISRUPT PDQIndex (numpy multi-index hashing)", disrupt))

    te_error = None
    try:
        import faiss  # noqa: F401
        import threatexchange  # noqa: F401
    except ImportError as exc:
        te_error = str(exc)
    if te_error is None:
        flat = _run_in_child(bench_te_flat, entries, q_hex, args.faiss_threads)
        if "error" in flat:
            te_error = flat["error"]
        else:
            rows.append(("threatexchange PDQIndex2 (faiss IndexFlatL2)", flat))
        if not args.skip_mih:
            mih = _run_in_child(bench_te_mih, entries, q_hex, args.faiss_threads)
            if "error" not in mih:
                rows.append(("threatexchange PDQIndex (faiss IndexBinaryMultiHash)", mih))
            else:
                print(f"threatexchange PDQIndex failed: {mih['error']}")
    if te_error is not None:
        print(
            "!!! threatexchange could not be used "
            f"({te_error}); baseline = numpy packed-bit scan below !!!\n"
        )

    naive_qps, naive = numpy_scan(db, qs[: max(1, len(qs) // 4)], blocked=False)
    width = max(len(name) for name, _ in rows) + 2
    print(
        f"{'index':<{width}} {'ms/query':>9} {'qps':>8} {'recall':>7} {'identical':>9} "
        f"{'RSS delta':>10} {'tracemalloc':>11} {'accounted':>10} {'build':>7}"
    )
    for name, r in rows:
        print(
            f"{name:<{width}} {r['ms_per_query']:9.3f} {r['qps']:8.1f} "
            f"{recall(r['results']):7.4f} {str(r['results'] == truth):>9} "
            f"{r['rss_delta'] / MB:8.1f}MB {r['traced'] / MB:9.1f}MB "
            f"{r['accounted'] / MB:8.1f}MB {r['build_s']:6.1f}s"
        )
    print(
        f"{'numpy packed-bit scan, blocked':<{width}} {1e3 / scan_qps:9.3f} {scan_qps:8.1f} "
        f"{1.0:7.4f} {'True':>9} {db.nbytes / MB:8.1f}MB (the (n, 4) uint64 array)"
    )
    print(
        f"{'numpy packed-bit scan, one expression':<{width}} {1e3 / naive_qps:9.3f} "
        f"{naive_qps:8.1f} {recall(naive + truth[len(naive) :]):7.4f} "
        f"{str(naive == truth[: len(naive)]):>9}   ({len(naive)} queries)"
    )

    print()
    for name, r in rows[1:]:
        print(
            f"DISRUPT vs {name}: {disrupt['qps'] / r['qps']:.1f}x the queries/second, "
            f"memory {disrupt['rss_delta'] / r['rss_delta']:.3f}x (RSS delta), "
            f"{disrupt['accounted'] / r['accounted']:.3f}x (accounted), "
            f"{disrupt['accounted'] / r['vectors']:.3f}x (faiss vectors alone); "
            f"faiss threads: {r['threads']}"
        )
    flat = next((r for name, r in rows if "PDQIndex2" in name), None)
    if flat is not None:
        speed = disrupt["qps"] / flat["qps"]
        mem = max(
            disrupt["rss_delta"] / flat["rss_delta"], disrupt["accounted"] / flat["accounted"]
        )
        verdict = "met" if speed >= 10 and mem <= 0.1 else "NOT met"
        print(
            f"goal (>= 10x the qps of PDQIndex2 with <= 1/10 of its memory): {verdict} "
            f"({speed:.1f}x, worse memory ratio {mem:.3f})"
        )
    print(f"DISRUPT vs numpy blocked scan: {disrupt['qps'] / scan_qps:.1f}x the queries/second")
    print(
        f"DISRUPT live updates at n={args.n:,}: add {disrupt['add_us']:.1f} us, "
        f"remove {disrupt['remove_us']:.1f} us; with 5,000 adds in the delta and 5,000 "
        f"tombstones: {disrupt['qps_with_updates']:.0f} qps; "
        f"compact() {disrupt['compact_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
