"""Benchmark: hash a 12 MP JPEG in Chromium (hashing.js) and on the server.

    .venv/bin/python bench/hashing.py [--runs N] [--photos N]

Prints the browser and server times for one photo (PDQ + pHash + SHA-256), their
ratio (goal: browser within 3x of the server), and how long the page's main
thread is kept busy while twenty such photos are hashed (goal: no task > 100 ms).
Chromium: /usr/bin/chromium (or $CHROMIUM).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hashing"))
sys.path.insert(0, str(REPO))

from hashing_harness import make_12mp_jpeg, open_hash_page, serve_static  # noqa: E402

from disrupt.hashing.pipeline import hash_media_file  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

TIME_ONE = """async () => {
  const f = document.getElementById('files').files[0];
  const t0 = performance.now();
  const r = await hashing.hashFile(f);
  return [performance.now() - t0, r];
}"""

TWENTY = """async () => {
  const tasks = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) tasks.push(e.duration);
  });
  obs.observe({type: 'longtask', buffered: false});
  // main-thread responsiveness probe: how late do 10 ms timers fire?
  let maxLag = 0, ticking = true;
  (function tick(prev) {
    setTimeout(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - prev - 10);
      if (ticking) tick(now);
    }, 10);
  })(performance.now());
  const t0 = performance.now();
  const results = await window.hashInputFiles();
  const total = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 100));
  ticking = false;
  obs.disconnect();
  return {total, longest: tasks.length ? Math.max(...tasks) : 0, count: tasks.length,
          maxTimerLag: maxLag, errors: results.filter((r) => r.error).length};
}"""


def chromium_path() -> str:
    for cand in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if cand and Path(cand).exists():
            return cand
    sys.exit("Chromium not found (set $CHROMIUM)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per side (median reported)")
    ap.add_argument("--photos", type=int, default=20, help="photos in the main-thread test")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        photo = make_12mp_jpeg(Path(tmp) / "photo-12mp.jpg")
        size_mb = photo.stat().st_size / 1e6
        print(f"Test photo: 4000x3000 JPEG (12 MP), {size_mb:.1f} MB")

        hash_media_file(photo)  # warm-up (imports, page cache)
        server_times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            server = hash_media_file(photo)
            server_times.append((time.perf_counter() - t0) * 1000)

        with serve_static() as base, sync_playwright() as pw:
            br = pw.chromium.launch(executable_path=chromium_path(), args=FLAGS)
            page = open_hash_page(br, base)
            page.set_default_timeout(600_000)
            page.set_input_files("#files", [str(photo)])
            page.evaluate(TIME_ONE)  # warm-up: worker start, JIT
            browser_times = []
            for _ in range(args.runs):
                ms, result = page.evaluate(TIME_ONE)
                browser_times.append(ms)
            same = result == server
            page.close()

            page = open_hash_page(br, base)
            page.set_default_timeout(600_000)
            page.set_input_files("#files", [str(photo)] * args.photos)
            twenty = page.evaluate(TWENTY)
            br.close()

    s = statistics.median(server_times)
    b = statistics.median(browser_times)
    print()
    print(f"One 12 MP photo, PDQ + pHash + SHA-256 (median of {args.runs} runs)")
    print(
        f"  server  (pipeline.hash_media_file): {s:8.0f} ms   runs: "
        + ", ".join(f"{t:.0f}" for t in server_times)
    )
    print(
        f"  browser (hashing.js hashFile)     : {b:8.0f} ms   runs: "
        + ", ".join(f"{t:.0f}" for t in browser_times)
    )
    print(
        f"  ratio browser/server              : {b / s:8.2f} x   (goal <= 3x: "
        f"{'OK' if b / s <= 3 else 'MISSED'})"
    )
    print(f"  browser result == server result   : {same}")
    print()
    print(f"{args.photos} x 12 MP photos hashed in the browser")
    print(
        f"  total time                        : {twenty['total'] / 1000:8.1f} s "
        f"({twenty['total'] / args.photos:.0f} ms per photo), errors: {twenty['errors']}"
    )
    print(f"  main-thread long tasks (>50 ms)   : {twenty['count']}")
    print(
        f"  longest main-thread task          : {twenty['longest']:8.0f} ms   (goal < 100 ms: "
        f"{'OK' if twenty['longest'] < 100 else 'MISSED'})"
    )
    print(f"  worst 10 ms timer lateness        : {twenty['maxTimerLag']:8.0f} ms")


if __name__ == "__main__":
    main()
