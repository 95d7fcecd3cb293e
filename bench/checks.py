"""URL-check throughput against the politeness bound.

10,000 URLs on 100 simulated hosts (127.0.0.2-101, an asyncio server in a separate
process) that answer after 200 ms; politeness 2 concurrent per host, no spacing. The
bound is hosts x concurrency / latency = 1,000 checks/s. Prints the worker's rate, a
naive sequential loop's rate over a sample of the same URLs (the baseline), the ratio
of the worker's rate to the bound, RSS at start / each quarter / end, and where the time
goes (wall and CPU time of each phase).

    .venv/bin/python bench/checks.py [--urls 10000] [--hosts 100] [--threads 200]
                                     [--database-url postgresql+psycopg://...]
"""
from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds a queue.py: keep this folder off the import path so the standard library's
# queue module (used by concurrent.futures) is the one imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ITEM = re.compile(rb"GET /item/[0-9]{1,6} ")  # the soft-404 probe is /item/<8 digits>
BODY = (b"<html><head><title>item</title></head><body><h1>An item</h1><p>Some words "
        b"on a page that is still online.</p></body></html>")


# -- the simulated hosts (run with --serve in their own process) -----------------------

async def _serve(hosts: int, delay: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(delay)
            status = b"200 OK" if ITEM.match(head.split(b"\r\n", 1)[0]) else \
                b"404 Not Found"  # the soft-404 probe
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html\r\n"
                         b"Content-Length: " + str(len(BODY)).encode() +
                         b"\r\nConnection: close\r\n\r\n" + BODY)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    ports = {}
    servers = []
    for i in range(hosts):
        ip = f"127.0.0.{2 + i}"
        server = await asyncio.start_server(handle, ip, 0, backlog=512)
        ports[ip] = server.sockets[0].getsockname()[1]
        servers.append(server)
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=220)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--baseline-sample", type=int, default=50)
    parser.add_argument("--database-url")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.hosts, args.latency))
        return

    from sqlalchemy import func, insert, select

    from disrupt import listeners
    from disrupt.cases.models import Case, ReportedURL
    from disrupt.config import SETTINGS
    from disrupt.db import Database, utcnow
    from disrupt.migrate import upgrade
    from disrupt.monitoring.checker import Checker, CheckSettings, CheckTarget
    from disrupt.monitoring.engine import CheckEngine
    from disrupt.monitoring.models import URLCheck
    from disrupt.worker import freeze_startup_objects

    listeners.connect()  # as the worker does: record_checks sends events
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--hosts", str(args.hosts),
         "--latency", str(args.latency)], stdout=subprocess.PIPE, text=True)
    tmp = tempfile.TemporaryDirectory()
    try:
        ports = json.loads(server.stdout.readline())
        ips = sorted(ports, key=lambda ip: int(ip.rsplit(".", 1)[1]))
        url = args.database_url or f"sqlite:///{tmp.name}/bench.sqlite3"
        upgrade(url)
        db = Database(url, pool_size=20, max_overflow=20) if not url.startswith("sqlite") \
            else Database(url)
        due = utcnow() - timedelta(minutes=1)
        with db.session() as session:
            case = Case(reference=f"BENCH{os.getpid()}", status="in_progress", created_at=due,
                        updated_at=due)
            session.add(case)
            session.flush()
            urls = [f"http://{ips[i % len(ips)]}:{ports[ips[i % len(ips)]]}/item/{i}"
                    for i in range(args.urls)]
            session.execute(insert(ReportedURL), [
                dict(case_id=case.id, url=u, host=ips[i % len(ips)], state="pending",
                     next_check_at=due, created_at=due) for i, u in enumerate(urls)])
            session.commit()

        config = {name: default for name, (default, _) in SETTINGS.items()}
        config.update(ALLOW_LOOPBACK=True, CHECK_CONCURRENCY=args.threads,
                      CHECK_BATCH_SIZE=args.batch, HOST_CONCURRENCY=2, HOST_SPACING_SECONDS=0.0,
                      CHECK_TIMEOUT=10.0, CHECK_DRAIN_SECONDS=3600.0)

        # Baseline: a naive loop, one check after the other, on a sample of the same URLs.
        settings = CheckSettings.from_config(config)
        naive = Checker(settings)
        sample = urls[:: max(1, len(urls) // args.baseline_sample)][: args.baseline_sample]
        started = time.perf_counter()
        for u in sample:
            naive.check(CheckTarget(u))
        baseline = len(sample) / (time.perf_counter() - started)

        engine = CheckEngine(db, config, worker="bench")
        rss = {"start": _rss_mib()}
        done = threading.Event()

        marks = {"25 %": args.urls // 4, "middle": args.urls // 2, "75 %": args.urls * 3 // 4}

        def sample_memory() -> None:
            while not done.wait(0.25):
                with db.session() as session:
                    count = session.scalar(select(func.count()).select_from(URLCheck))
                for mark, at in marks.items():
                    if mark not in rss and count >= at:
                        rss[mark] = _rss_mib()

        sampler = threading.Thread(target=sample_memory, daemon=True)
        sampler.start()
        freeze_startup_objects()  # as `disrupt worker` does before its first tick
        load_before = os.getloadavg()[0]
        server_cpu0 = _cpu_seconds(server.pid)
        cpu0 = time.process_time()
        started = time.perf_counter()
        recorded = engine.drain()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        load_after = os.getloadavg()[0]
        server_cpu = _cpu_seconds(server.pid) - server_cpu0
        done.set()
        sampler.join()
        rss["end"] = _rss_mib()
        engine.close()
        with db.session() as session:
            logged = session.scalar(select(func.count()).select_from(URLCheck))
            verdicts = dict(session.execute(select(URLCheck.verdict, func.count())
                                            .group_by(URLCheck.verdict)).all())
        db.dispose()
    finally:
        server.terminate()
        server.wait()
        tmp.cleanup()

    bound = args.hosts * 2 / args.latency
    rate = recorded / elapsed
    t = engine.timings
    print(f"database            {'PostgreSQL' if args.database_url else 'SQLite'}; "
          f"{args.threads} check threads, batches of {args.batch}")
    print(f"URLs checked        {recorded} in {elapsed:.1f} s (log rows {logged}, {verdicts})")
    print(f"worker              {rate:8.1f} checks/s")
    print(f"baseline (naive)    {baseline:8.1f} checks/s  (sequential loop, {len(sample)} URLs)")
    print(f"worker / baseline   {rate / baseline:8.1f} x")
    print(f"politeness bound    {bound:8.1f} checks/s  ({args.hosts} hosts x 2 / "
          f"{args.latency:g} s)")
    print(f"worker / bound      {rate / bound * 100:8.1f} %  (goal >= 90 %)")
    print(f"CPU per check       {cpu / max(recorded, 1) * 1e6:8.0f} us  (the worker process, "
          f"all threads; {1e6 / bound:.0f} us per check is one core at the bound)")
    print("RSS MiB             " + ", ".join(
        f"{mark} {rss.get(mark, 0):.0f}" for mark in ("start", "25 %", "middle", "75 %", "end")))
    print(f"worker CPU          {cpu:.1f} s for {elapsed:.1f} s wall "
          f"({cpu / elapsed * 100:.0f} % of one core); machine load average "
          f"{load_before:.1f} before, {load_after:.1f} after ({os.cpu_count()} cores)")
    print(f"simulated hosts CPU {server_cpu:.1f} s (their own process)")
    print("where the time goes (main thread: claim, slots, record; threads: summed per check)")
    for phase in ("claim", "slots", "record"):
        print(f"  {phase:<17} {t[phase]:6.2f} s  ({t[phase] / elapsed * 100:.0f} % of wall), "
              f"CPU {t[phase + '_cpu']:5.2f} s")
    per_check = t["check"] / max(recorded, 1) * 1000
    print(f"  check (fetch+judge) {per_check:.0f} ms per check on average "
          f"(the server answers after {args.latency * 1000:.0f} ms), "
          f"CPU {t['check_cpu'] / max(recorded, 1) * 1e6:.0f} us per check")
    main_cpu = sum(t[p + "_cpu"] for p in ("claim", "slots", "record"))
    print(f"  other CPU         {cpu - main_cpu - t['check_cpu']:6.2f} s  (lane hand-offs, "
          "timeouts, memory sampler, GC)")
    print(f"  slot waits        {t['slot_wait']:6.2f} s summed over hosts")


if __name__ == "__main__":
    main()
