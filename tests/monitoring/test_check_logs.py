"""A checker error is logged with the URL's id, never the victim's URL (issue 20, row 11)."""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from disrupt.cases.models import ReportedURL
from disrupt.db import Database
from disrupt.monitoring.checker import Checker, CheckSettings
from disrupt.monitoring.engine import DatabaseFingerprints
from disrupt.monitoring.jobs import run_due_checks
from tests.support.apps import monitor_config
from tests.support.factories import make_case

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET_PATH = "/private-victim-path/holiday-photo-4711"


class _Page(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = b"<html><title>a video</title><body>a page with some words</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_checker_error_logs_the_id_and_not_the_url(mdb, caplog, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}"
    with mdb.session() as session:
        make_case(session, urls=[url], now=T0)
        session.commit()
    config = monitor_config()
    # A fingerprint store on a database without tables: the checker raises mid-check.
    broken = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    checker = Checker(CheckSettings.from_config(config), fingerprints=DatabaseFingerprints(broken))
    caplog.set_level(logging.DEBUG, logger="disrupt")  # httpx is kept at WARNING (logs.py)
    try:
        assert run_due_checks(mdb, config, worker="w", now=lambda: T0, checker=checker) == 1
    finally:
        server.shutdown()
        broken.dispose()
    with mdb.session() as session:
        url_id = session.scalar(select(ReportedURL.id))
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    assert failed and f"checking URL {url_id} failed" in failed[0].getMessage()
    ours = [logging.Formatter().format(r) for r in caplog.records if r.name.startswith("disrupt")]
    assert not [line for line in ours if "private-victim-path" in line]
    with mdb.session() as session:
        assert "checker error" in (session.scalar(select(ReportedURL)).state_reason or "")
