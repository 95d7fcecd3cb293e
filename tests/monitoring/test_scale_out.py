"""Scale-out on PostgreSQL: three `disrupt worker` processes share 2,000 due URLs on 20
simulated hosts; one is killed with SIGKILL mid-batch. Every URL is checked exactly once for
its due time (no duplicate, no gap), the killed worker's claims are taken over after the
lease, and no host ever sees more than its two concurrent requests across all workers."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, insert, select

from disrupt.cases.models import Case, ReportedURL
from disrupt.db import Database, utcnow
from disrupt.monitoring.models import URLCheck
from tests.support.apps import make_test_app, truncate_postgres

ITEM = re.compile(r"/item/[0-9]{1,6}")  # the soft-404 probe is /item/<8 digits>

HOSTS = [f"127.0.0.{i}" for i in range(10, 30)]
URLS = 2000
LEASE_SECONDS = 10


class _Sites:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.servers: list[ThreadingHTTPServer] = []
        self.ports: dict[str, int] = {}

    def start(self) -> None:
        sites = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                ip = self.server.server_address[0]
                with sites.lock:
                    sites.requests.append((ip, self.path))
                    sites.active[ip] += 1
                    sites.peak[ip] = max(sites.peak[ip], sites.active[ip])
                try:
                    time.sleep(0.1)
                finally:
                    # Counted as done before the answer leaves: once the client has the
                    # answer it may send its next request on the slot, possibly before
                    # this thread runs again, which would count a request twice.
                    with sites.lock:
                        sites.active[ip] -= 1
                body = b"<html><title>item</title><body>an item page</body></html>"
                try:
                    self.send_response(200 if ITEM.fullmatch(self.path) else 404)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the killed worker's connections

        for ip in HOSTS:
            server = ThreadingHTTPServer((ip, 0), Handler)
            server.daemon_threads = True
            self.ports[ip] = server.server_address[1]
            self.servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_three_workers_one_killed(postgres_server_url, tmp_path):
    url = postgres_server_url
    truncate_postgres(url)
    sites = _Sites()
    sites.start()
    db = Database(url)
    workers: list[subprocess.Popen] = []
    try:
        due = utcnow() - timedelta(minutes=1)
        with db.session() as session:
            case = Case(reference="SCALE-OUT", status="in_progress", created_at=due,
                        updated_at=due)
            session.add(case)
            session.flush()
            rows = []
            for i in range(URLS):
                ip = HOSTS[i % len(HOSTS)]
                rows.append(dict(case_id=case.id, url=f"http://{ip}:{sites.ports[ip]}/item/{i}",
                                 host=ip, state="pending", next_check_at=due, created_at=due))
            session.execute(insert(ReportedURL), rows)
            session.commit()

        # An instance made as `disrupt init` makes one: its keys (the worker needs them).
        make_test_app(url, tmp_path).extensions["disrupt.db"].dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
        env.update({
            "DISRUPT_DATABASE_URL": url, "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance"),
            "DISRUPT_ALLOW_LOOPBACK": "1", "DISRUPT_WORKER_TICK_SECONDS": "0.2",
            "DISRUPT_LEASE_SECONDS": str(LEASE_SECONDS),
            "DISRUPT_HOST_SLOT_LEASE_SECONDS": str(LEASE_SECONDS),
            "DISRUPT_CHECK_BATCH_SIZE": "100", "DISRUPT_CHECK_CONCURRENCY": "24",
            "DISRUPT_HOST_CONCURRENCY": "2", "DISRUPT_HOST_SPACING_SECONDS": "0",
            "DISRUPT_CHECK_TIMEOUT": "3",
        })
        logs = [open(tmp_path / f"worker-{i}.log", "wb") for i in range(3)]  # noqa: SIM115
        for log in logs:
            workers.append(subprocess.Popen([sys.executable, "-m", "disrupt", "worker"], env=env,
                                            stdout=log, stderr=subprocess.STDOUT))
            log.close()
        victim = workers[0]
        victim_name = f"{socket.gethostname()}:{victim.pid}"

        def victim_busy() -> bool:
            with db.session() as session:
                recorded = session.scalar(select(func.count()).select_from(URLCheck)
                                          .where(URLCheck.worker == victim_name))
                leased = session.scalar(select(func.count()).select_from(ReportedURL)
                                        .where(ReportedURL.lease_owner == victim_name))
            return recorded >= 50 and leased > 0

        _wait(victim_busy, 60, "the first worker to be mid-batch")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        killed_at = utcnow()
        with db.session() as session:
            orphaned = set(session.scalars(select(ReportedURL.id)
                                           .where(ReportedURL.lease_owner == victim_name)))
        assert orphaned, "the killed worker held no claim"

        def all_checked() -> bool:
            with db.session() as session:
                return session.scalar(select(func.count()).select_from(URLCheck)) >= URLS

        _wait(all_checked, 90, "every URL to be checked")
        time.sleep(1.0)  # let a duplicate, if the code could write one, arrive

        with db.session() as session:
            checks = session.execute(select(URLCheck.reported_url_id, URLCheck.due_at,
                                            URLCheck.worker, URLCheck.checked_at)).all()
            leased = session.scalar(select(func.count()).select_from(ReportedURL)
                                    .where(ReportedURL.lease_owner.is_not(None)))
            states = set(session.scalars(select(ReportedURL.state).distinct()))
        per_url = Counter(c.reported_url_id for c in checks)
        assert len(checks) == URLS and len(per_url) == URLS  # no duplicate, no gap
        assert {c.due_at for c in checks} == {due}
        assert leased == 0 and states == {"online"}
        takeovers = [c for c in checks if c.reported_url_id in orphaned]
        assert len(takeovers) == len(orphaned)
        assert all(c.worker != victim_name for c in takeovers)
        assert all(c.checked_at >= killed_at for c in takeovers)
        by_worker = Counter(c.worker for c in checks)
        assert len(by_worker) == 3 and min(by_worker.values()) > 0
        # Politeness held across processes; every URL was fetched (a URL can be fetched
        # twice when a lease runs out mid-check – the killed worker's, or a starved one's –
        # but it is logged once).
        assert max(sites.peak.values()) <= 2
        fetched = Counter(path for _, path in sites.requests if ITEM.fullmatch(path))
        assert len(fetched) == URLS
        for i, worker in enumerate(workers[1:], start=1):
            assert worker.poll() is None, (tmp_path / f"worker-{i}.log").read_text()[-2000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        sites.stop()
        db.dispose()
