"""The victim portal under a crowd (issue 18): gunicorn with several processes on PostgreSQL,
the worker running, and simulated victims who each open a case (fingerprints and URLs),
follow it and add an address — 10, 50 and 200 at once.

Each level runs twice. First as people: a victim reads each page before the next click (a
think time drawn between --think MIN,MAX seconds, 2 to 5 by default; a real person hashing
pictures and typing addresses takes far longer). Then as a stampede: no think time, every
victim clicking at machine speed, so that the level's victims always have a request in
flight — the worst case, which shows the capacity of the machine (cases per second) rather
than what a crowd of people meets.

Each simulated victim is a different person at a different address (127.x.y.z: every level
uses its own addresses), so the portal's rate limits apply as shipped, per client. Prints,
per level: cases per second, p50 / p95 / p99 latency of every request and of opening a case,
errors, and the ratio of the p95 to the p95 of a single victim measured first in the same run;
then the CPU each part took per case (generator, portal, worker, database), since they all
share the machine; then checks that every case the generator was told about exists, exactly
once. The simulated browsers speak HTTP/1.1 on asyncio streams (Browser, below): httpx took
~2.6 ms of CPU per request, a fifth of the machine in a stampede.

    .venv/bin/python bench/load.py [--levels 10,50,200] [--workers 4] [--think 2,5]
                                   [--pg-admin-url URL]

Goal: zero errors and zero lost cases at 200 at once (people and stampede); p95 under 500 ms
at 50 people.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from disrupt.hashing.pipeline import hash_image_bytes  # noqa: E402

HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*>')
ATTR = re.compile(r'(name|value)="([^"]*)"')
REFERENCE = re.compile(r'id="case-reference">([^<]+)<')
SECRET = re.compile(r'id="case-secret">([^<]+)<')
MAX_REDIRECTS = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in HIDDEN.findall(html):
        attrs = dict(ATTR.findall(tag))
        if "name" in attrs:
            fields[attrs["name"]] = attrs.get("value", "")
    return fields


def fingerprints(count: int) -> list[str]:
    """JSON of one image's hashes, for ``count`` different generated pictures."""
    out = []
    for seed in range(count):
        image = Image.new("RGB", (160, 120), (seed * 37 % 256, 90, 160))
        draw = ImageDraw.Draw(image)
        for k in range(12):
            draw.ellipse((k * 13 % 150, seed * 7 % 100, k * 13 % 150 + 20, seed * 7 % 100 + 25),
                         fill=((k * 50 + seed) % 256, 200 - k * 9, k * 20 % 256))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        hashes = hash_image_bytes(buffer.getvalue())
        out.append(json.dumps([{"kind": "image", **{k: hashes[k] for k in (
            "pdq", "pdq_quality", "phash", "sha256", "pipeline", "width", "height")}}]))
    return out


@dataclass
class Level:
    victims: int
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, step: str, seconds: float) -> None:
        self.latencies.setdefault(step, []).append(seconds)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else 0


class Browser:
    """One simulated person's browser: HTTP/1.1 on asyncio streams, from its own address,
    with its cookies, following redirects. Lean on purpose: it shares the machine's two cores
    with the portal, and httpx cost ~2.6 ms of CPU per request here, a fifth of the machine
    in a stampede, which real victims' phones do not take from the server. Only for this
    benchmark's own portal: it trusts what it reads."""

    def __init__(self, base: str, address: str, timeout: float = 60) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.address, self.timeout = address, timeout
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str,
                      data: dict[str, str] | None = None) -> Page:
        for _ in range(MAX_REDIRECTS + 1):
            page = await asyncio.wait_for(self._exchange(method, path, data), self.timeout)
            if page.status not in (301, 302, 303, 307, 308):
                return page
            path = urlsplit(page.location).path or "/"
            if page.status in (301, 302, 303):
                method, data = "GET", None
        raise RuntimeError(f"more than {MAX_REDIRECTS} redirects")

    async def _exchange(self, method: str, path: str, data: dict[str, str] | None) -> Page:
        body = urlencode(data or {}).encode() if method == "POST" else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                "Connection: close", "Accept-Language: en", "User-Agent: disrupt-load"]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if method == "POST":
            head += ["Content-Type: application/x-www-form-urlencoded",
                     f"Content-Length: {len(body)}"]
        reader, writer = await asyncio.open_connection(self.host, self.port,
                                                       local_addr=(self.address, 0))
        try:
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            raw = await reader.read()  # the server closes after its answer
        finally:
            writer.close()
        head_bytes, _, content = raw.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1."):
            raise RuntimeError(f"not an HTTP answer: {lines[0][:60]!r}")
        page = Page(int(lines[0].split()[1]))
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "location":
                page.location = value
            elif name == "set-cookie":
                self._keep(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        page.text = (_unchunk(content) if chunked else content).decode("utf-8", "replace")
        return page

    def _keep(self, header: str) -> None:
        pair, *attributes = header.split(";")
        name, _, value = pair.strip().partition("=")
        gone = any(a.strip().lower() in ("max-age=0", "expires=thu, 01 jan 1970 00:00:00 gmt")
                   for a in attributes)
        if gone or not value:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


@dataclass
class Page:
    status: int
    text: str = ""
    location: str = ""


def _unchunk(content: bytes) -> bytes:
    out, rest = bytearray(), content
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return bytes(out)


async def one_victim(base: str, address: str, level: Level, hashes: str, site: str,
                     think: tuple[float, float], rng: random.Random) -> None:
    browser = Browser(base, address)

    async def step(name: str, method: str, path: str,
                   data: dict[str, str] | None = None) -> Page:
        if think[1] > 0 and name != "form":  # reading the page before the next click
            await asyncio.sleep(rng.uniform(*think))
        started = time.perf_counter()
        page = await browser.request(method, path, data)
        level.add(name, time.perf_counter() - started)
        if page.status >= 400:
            raise RuntimeError(f"{name}: HTTP {page.status}")
        return page

    try:
        form = await step("form", "GET", "/case/new")
        token = uuid.uuid4().hex[:10]
        data = {**hidden_fields(form.text), "reporter": "self", "intimate": "yes",
                "age_group": "adult", "language": "en", "consent_notices": "y",
                "urls": f"{site}/p/{token}-1\n{site}/p/{token}-2", "hashes": hashes}
        opened = await step("open case", "POST", "/case/new", data)
        reference, secret = REFERENCE.search(opened.text), SECRET.search(opened.text)
        if not (reference and secret):
            raise RuntimeError("open case: no credentials on the page")
        level.references.append(reference.group(1))
        follow = await step("follow form", "GET", "/case/follow")
        await step("follow", "POST", "/case/follow", {
            **hidden_fields(follow.text), "reference": reference.group(1),
            "secret": secret.group(1)})
        status = await step("status", "GET", "/case")
        if f"{token}-1" not in status.text:
            raise RuntimeError("status: the case page did not open")
        added = await step("add URL", "POST", "/case/urls", {
            **hidden_fields(status.text), "urls": f"{site}/p/{token}-3"})
        if f"{token}-3" not in added.text:
            raise RuntimeError("add URL: the address is not on the case page")
    except (TimeoutError, OSError, RuntimeError, ValueError) as exc:
        level.errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")


async def run_level(base: str, victims: int, first_octets: tuple[int, int], hashes: list[str],
                    site: str, think: tuple[float, float] = (0.0, 0.0)) -> Level:
    level = Level(victims)
    rng = random.Random(victims)
    # People arrive spread over a first think time, not at the same instant.
    starts = [rng.uniform(0, think[1]) for _ in range(victims)]

    async def arrive(i: int, address: str) -> None:
        await asyncio.sleep(starts[i])
        await one_victim(base, address, level, hashes[i % len(hashes)], site, think,
                         random.Random(i))

    addresses = [f"127.{first_octets[0] + i // 250}.{first_octets[1]}.{2 + i % 250}"
                 for i in range(victims)]
    started = time.perf_counter()
    await asyncio.gather(*[arrive(i, address) for i, address in enumerate(addresses)])
    level.seconds = time.perf_counter() - started
    return level


def start_site() -> tuple[subprocess.Popen, str]:
    """A simulated platform the worker checks the victims' URLs against."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                "127.0.0.9", "--directory", tempfile.mkdtemp()],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.9:{port}"


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not come up")


def cpu_seconds(database: str) -> dict[str, float]:
    """CPU used so far (Linux /proc) by this generator, the portal's processes (gunicorn),
    the worker and the database's server processes for this run's database."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {"generator": time.process_time(), "portal": 0.0, "worker": 0.0, "database": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended
            continue
        part = ("portal" if "disrupt.wsgi:app" in command else
                "worker" if "disrupt worker" in command else
                "database" if command.startswith("postgres:") and database in command else None)
        if part:
            found[part] += (int(fields[11]) + int(fields[12])) / tick
    return found


def count_cases(url: str, references: list[str]) -> tuple[int, int, int]:
    from sqlalchemy import func, select

    from disrupt.cases.models import Case
    from disrupt.db import Database

    db = Database(url)
    try:
        with db.session() as session:
            total = session.scalar(select(func.count()).select_from(Case)) or 0
            found = dict(session.execute(
                select(Case.reference, func.count()).where(Case.reference.in_(references))
                .group_by(Case.reference)).all())
    finally:
        db.dispose()
    once = sum(1 for ref in references if found.get(ref) == 1)
    return total, once, len(references) - once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="10,50,200")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    parser.add_argument("--think", default="2,5",
                        help="seconds a person takes between two pages: MIN,MAX")
    parser.add_argument("--pg-admin-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    low, high = (float(n) for n in args.think.split(","))
    if not 0 <= low <= high:
        parser.error("--think takes MIN,MAX with 0 <= MIN <= MAX")

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dashboard import fresh_database  # bench/dashboard.py

    workdir = Path(tempfile.mkdtemp(prefix="disrupt-load-"))
    url, drop = fresh_database("postgresql", 0, workdir, args.pg_admin_url)
    database = url.rsplit("/", 1)[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    env.update({"DISRUPT_DATABASE_URL": url, "DISRUPT_INSTANCE_PATH": str(workdir / "instance"),
                "DISRUPT_ALLOW_LOOPBACK": "1", "DISRUPT_WORKER_TICK_SECONDS": "1",
                "DISRUPT_TIME_SCALE": "1/3600", "DISRUPT_LOG_FORMAT": "json"})
    subprocess.run([sys.executable, "-m", "disrupt", "init", "--no-admin"], env=env, check=True,
                   capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    logs = open(workdir / "processes.log", "wb")  # noqa: SIM115
    web = subprocess.Popen([str(bin_dir / "gunicorn"), "--workers", str(args.workers),
                            "--bind", f"127.0.0.1:{port}", "--timeout", "120",
                            "disrupt.wsgi:app"], env=env, stdout=logs, stderr=logs)
    worker = subprocess.Popen([sys.executable, "-m", "disrupt", "worker"], env=env,
                              stdout=logs, stderr=logs)
    site, site_url = start_site()
    try:
        wait_until_up(base + "/")
        hashes = fingerprints(20)
        print(f"gunicorn {args.workers} processes + 1 worker on PostgreSQL; "
              f"{os.cpu_count()} cores; one journey per victim: open a case (2 URLs, 1 "
              "fingerprint), follow it, add a URL")
        # One journey per gunicorn process first, so that the baseline is not a cold start.
        warm = asyncio.run(run_level(base, args.workers, (0, 199), hashes, site_url))
        baseline = asyncio.run(run_level(base, 1, (0, 200), hashes, site_url))
        base_p95 = quantile([v for vs in baseline.latencies.values() for v in vs], 0.95)
        print(f"baseline, 1 victim alone: p95 {base_p95 * 1000:.0f} ms over "
              f"{sum(len(v) for v in baseline.latencies.values())} requests")
        all_references = warm.references + baseline.references
        runs = [(f"people, {low:g}-{high:g} s between pages", (low, high)),
                ("stampede, no time between pages", (0.0, 0.0))]
        index = 0
        for title, think in runs:
            print(f"{title}:")
            print(f"{'victims':>8} {'cases/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
                  f"{'open p95':>9} {'errors':>7} {'p95 / alone':>12}")
            for victims in levels:
                # Every run has its own client addresses: the portal's per-client limits apply
                # as shipped, to each simulated person.
                before = cpu_seconds(database)
                level = asyncio.run(run_level(base, victims, (1 + index * 2, index + 1),
                                              hashes, site_url, think))
                used = {k: v - before[k] for k, v in cpu_seconds(database).items()}
                index += 1
                every = [v for vs in level.latencies.values() for v in vs]
                p95 = quantile(every, 0.95)
                print(f"{victims:>8} {len(level.references) / level.seconds:>8.1f} "
                      f"{quantile(every, 0.5) * 1000:>7.0f} {p95 * 1000:>7.0f} "
                      f"{quantile(every, 0.99) * 1000:>7.0f} "
                      f"{quantile(level.latencies.get('open case', []), 0.95) * 1000:>9.0f} "
                      f"{len(level.errors):>7} {p95 / base_p95 if base_p95 else 0:>11.1f}x",
                      flush=True)
                cases = max(1, len(level.references))
                print("         CPU per case: " + ", ".join(
                    f"{k} {v * 1000 / cases:.0f} ms" for k, v in used.items()) +
                    f"; the machine was {sum(used.values()) / level.seconds / os.cpu_count():.0%}"
                    " busy", flush=True)
                for error in sorted(set(level.errors))[:5]:
                    print(f"         error: {error}")
                all_references += level.references
        total, once, lost = count_cases(url, all_references)
        print(f"cases in the database: {total}; told to the generator: {len(all_references)}; "
              f"found exactly once: {once}; lost or doubled: {lost}")
    finally:
        for process in (web, worker, site):
            process.terminate()
        for process in (web, worker, site):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()
        drop()


if __name__ == "__main__":
    main()
