"""Verdict accuracy on the labelled corpus (issue 12), and what a check costs on the
adversarial pages.

Serves the corpus of tests/monitoring/corpus/ (page shapes modelled on real platforms, 12
hosts on 127.0.0.10-21) from this process, and checks every entry in a worker process
twice: with the current checker, and with the baseline, the last checker whose
DETECTOR_VERSION was "rules-2" (read from git, the "first pictures only, regular
expression" reading that issue 12 replaces). Prints for each: accuracy, false `removed`
verdicts (pages that still show the victim's picture called removed) and every other
removal that was not expected, a confusion table, and the CPU time and peak RSS growth
of each check on the adversarial pages, with the ratio current / baseline. A baseline check
that runs past --baseline-limit seconds is stopped and counted as wrong.

    .venv/bin/python bench/verdicts.py [--baseline-limit 30] [--no-baseline] [--verbose]
"""
from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds a queue.py: keep this folder off the import path (see bench/checks.py).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != _HERE]

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE_VERSION = 'DETECTOR_VERSION = "rules-2"'
BASELINE_FILES = ("monitoring/checker.py", "monitoring/rules.py", "monitoring/fetch.py",
                  "monitoring/guard.py", "hashing/pipeline.py", "hashing/matching.py")
VERDICTS = ("online", "removed", "indeterminate", "restricted", "invalid", "stopped", "error")


# -- measuring one check (in the worker process) ----------------------------------------

def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):  # Linux: "5" resets VmHWM (peak RSS) to the RSS
        Path("/proc/self/clear_refs").write_text("5")


def _load_baseline(tmp: Path) -> Any:
    """The baseline checker's modules from git, imported as baseline_disrupt.*."""
    log = subprocess.run(["git", "-C", str(ROOT), "log", "--format=%H", "--",
                          "disrupt/monitoring/checker.py"], capture_output=True, text=True,
                         check=True).stdout.split()
    for commit in log:
        source = subprocess.run(["git", "-C", str(ROOT), "show",
                                 f"{commit}:disrupt/monitoring/checker.py"],
                                capture_output=True, text=True, check=True).stdout
        if BASELINE_VERSION in source:
            break
    else:
        raise SystemExit(f"disrupt: no commit has {BASELINE_VERSION}")
    package = tmp / "baseline_disrupt"
    for name in BASELINE_FILES:
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:disrupt/{name}"],
                              capture_output=True, text=True, check=True).stdout
        text = re.sub(r"\bdisrupt\.(monitoring|hashing)\b", r"baseline_disrupt.\1", text)
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text)
    (package / "__init__.py").touch()
    sys.path.insert(0, str(tmp))
    import baseline_disrupt.monitoring.checker as checker

    return checker, commit


def worker(which: str, bases: dict[str, str], start: int) -> None:
    """Check entries from ``start`` on, one JSON line each (verdict, rule, costs)."""
    from tests.monitoring.corpus import CHECK_SETTINGS, ENTRIES, Corpus

    corpus = Corpus(bases)
    with tempfile.TemporaryDirectory() as tmp:
        if which == "baseline":
            module, commit = _load_baseline(Path(tmp))
            print(json.dumps({"commit": commit}), flush=True)
        else:
            import disrupt.monitoring.checker as module
        # seen_matching is new in issue 12; a checker without it is still measured.
        seen = "seen_matching" in getattr(module.CheckTarget, "__dataclass_fields__", {})
        if which == "current" and not seen:
            print(json.dumps({"note": "CheckTarget has no seen_matching yet"}), flush=True)
        for index in range(start, len(ENTRIES)):
            entry = ENTRIES[index]
            checker = module.Checker(module.CheckSettings(**CHECK_SETTINGS))
            extra = {"seen_matching": entry.seen_matching} if which == "current" and seen else {}
            target = corpus.target(entry, module.CheckTarget, **extra)
            _reset_peak()
            rss0 = _status_kib("VmRSS")
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                outcome = checker.check(target)
                verdict, rule, reason = outcome.verdict, outcome.rule, outcome.reason
            except Exception as exc:  # a crash is a wrong answer, not the end of the run
                verdict, rule, reason = "error", None, repr(exc)[:200]
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            peak = max(_status_kib("VmHWM") - rss0, 0)
            print(json.dumps({"index": index, "verdict": verdict, "rule": rule,
                              "reason": reason, "cpu": cpu, "wall": wall,
                              "peak_mib": peak / 1024}), flush=True)


# -- running a checker over the corpus (in this process) --------------------------------

def run(which: str, bases: dict[str, str], limit: float, count: int) -> tuple[list[dict], str]:
    """Every entry's result; a check past ``limit`` seconds is stopped (worker restarted)."""
    results: list[dict] = []
    commit = ""
    while len(results) < count:
        start = len(results)
        proc = subprocess.Popen(
            [sys.executable, __file__, "--worker", which, "--bases", json.dumps(bases),
             "--start", str(start)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert proc.stdout is not None
        deadline = time.monotonic() + limit + 30  # the worker's imports and pictures
        try:
            while len(results) < count:
                ready, _, _ = select.select([proc.stdout], [], [],
                                            max(deadline - time.monotonic(), 0))
                if not ready:
                    results.append({"index": len(results), "verdict": "stopped", "rule": None,
                                    "reason": f"stopped after {limit:.0f} s", "cpu": limit,
                                    "wall": limit, "peak_mib": float("nan")})
                    break
                line = proc.stdout.readline()
                if not line:
                    raise SystemExit(f"disrupt: the {which} worker ended early")
                data = json.loads(line)
                if "commit" in data:
                    commit = data["commit"]
                elif "note" in data:
                    print(f"note ({which})        {data['note']}")
                else:
                    results.append(data)
                deadline = time.monotonic() + limit
        finally:
            proc.kill()
            proc.wait()
    return results, commit


def score(entries: list[Any], results: list[dict]) -> dict[str, Any]:
    right = [r["verdict"] == e.verdict and (e.rule is None or r["rule"] == e.rule)
             for e, r in zip(entries, results, strict=True)]
    false_removed = [e.name for e, r in zip(entries, results, strict=True)
                     if r["verdict"] == "removed" and e.shows_picture]
    other_removed = [e.name for e, r in zip(entries, results, strict=True)
                     if r["verdict"] == "removed" and e.verdict != "removed"
                     and not e.shows_picture]
    confusion = Counter((e.verdict, r["verdict"]) for e, r in zip(entries, results, strict=True))
    return {"right": sum(right), "ok": right, "false_removed": false_removed,
            "other_removed": other_removed, "confusion": confusion}


def report(title: str, entries: list[Any], results: list[dict], verbose: bool) -> dict:
    s = score(entries, results)
    n = len(entries)
    print(f"\n== {title}")
    print(f"accuracy            {s['right']}/{n} = {s['right'] / n * 100:.1f} %  (goal >= 95 %)")
    print(f"false removed       {len(s['false_removed'])}  (page still shows the victim's "
          f"picture; goal 0) {' '.join(s['false_removed'])}")
    print(f"other wrong removed {len(s['other_removed'])}  (picture not shown, removal not "
          f"expected) {' '.join(s['other_removed'])}")
    print("confusion (rows expected, columns got):")
    print(" " * 15 + "".join(f"{v[:8]:>9}" for v in VERDICTS))
    for want in VERDICTS[:-1]:
        print(f"  {want:<13}" + "".join(f"{s['confusion'][(want, got)]:>9}" for got in VERDICTS))
    wrong = [(e, r) for e, r, ok in zip(entries, results, s["ok"], strict=True) if not ok]
    if wrong:
        print("wrong:")
    for e, r in wrong if verbose else wrong[:12]:
        print(f"  {e.name:<40} want {e.verdict}/{e.rule or '*'}, got {r['verdict']}/"
              f"{r['rule']}: {r['reason'][:70]}")
    if len(wrong) > 12 and not verbose:
        print(f"  ... {len(wrong) - 12} more (--verbose)")
    return s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-limit", type=float, default=30.0,
                        help="seconds before a baseline check is stopped")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--worker", choices=("current", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--bases", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, json.loads(args.bases), args.start)

    from tests.monitoring.corpus import ENTRIES, Corpus

    entries = list(ENTRIES)
    with Corpus() as corpus:
        print(f"corpus              {len(entries)} entries on {len(corpus.bases)} hosts "
              f"(127.0.0.10-21), check timeout 1 s")
        t0 = time.perf_counter()
        current, _ = run("current", corpus.bases, 60.0, len(entries))
        current_wall = time.perf_counter() - t0
        baseline = None
        if not args.no_baseline:
            t0 = time.perf_counter()
            baseline, commit = run("baseline", corpus.bases, args.baseline_limit, len(entries))
            baseline_wall = time.perf_counter() - t0
    report(f"current checker ({current_wall:.1f} s for the corpus)", entries, current,
           args.verbose)
    if baseline is not None:
        report(f"baseline: rules-2 checker at {commit[:10]} ({baseline_wall:.1f} s)",
               entries, baseline, args.verbose)

    print("\nadversarial pages: CPU time and peak RSS growth of one check "
          "(current vs baseline)")
    print(f"  {'entry':<36} {'CPU s':>8} {'peak MiB':>9}   {'base CPU s':>10} "
          f"{'base MiB':>9}   {'CPU ratio':>9}")
    for i, e in enumerate(entries):
        if not e.adversarial:
            continue
        c = current[i]
        line = f"  {e.name:<36} {c['cpu']:8.2f} {c['peak_mib']:9.1f}"
        if baseline is not None:
            b = baseline[i]
            stopped = ">" if b["verdict"] == "stopped" else " "
            line += (f"   {stopped}{b['cpu']:9.2f} {b['peak_mib']:9.1f}   "
                     f"{c['cpu'] / max(b['cpu'], 1e-3):9.3f}")
        print(line)
    if baseline is not None:
        adv = [i for i, e in enumerate(entries) if e.adversarial]
        cur_cpu = sum(current[i]["cpu"] for i in adv)
        base_cpu = sum(baseline[i]["cpu"] for i in adv)
        stopped = any(baseline[i]["verdict"] == "stopped" for i in adv)
        print(f"  total CPU on the adversarial pages: {cur_cpu:.2f} s vs baseline "
              f"{'>' if stopped else ''}{base_cpu:.2f} s = {cur_cpu / base_cpu:.4f} x"
              f"{' (baseline checks stopped at the limit: a lower bound)' if stopped else ''}")
    worst = max((current[i] for i, e in enumerate(entries) if e.adversarial),
                key=lambda r: r["cpu"])
    print(f"  worst current check: {worst['cpu']:.2f} s CPU; largest peak growth "
          f"{max(current[i]['peak_mib'] for i, e in enumerate(entries) if e.adversarial):.1f} "
          "MiB")


if __name__ == "__main__":
    main()
