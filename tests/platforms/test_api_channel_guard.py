"""An API notice goes through the checker's network guard, without proxies from the
environment, and the platform's answer body never reaches `last_error` (issue 20, row 5).
Real HTTP servers on 127.0.0.x; SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from disrupt.db import utcnow
from disrupt.platforms.jobs import send_queued_notices
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import add_platform, queue_removal_request
from tests.platforms.support import NOTIFIER, make_case
from tests.support.apps import make_test_app

INTERNAL_ANSWER = "internal-admin-token-4711 " * 40


class _Internal(BaseHTTPRequestHandler):
    """An internal service the worker must not be made to call."""

    calls: list[str] = []
    status = 500

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).calls.append(self.headers.get("Host", ""))
        body = INTERNAL_ANSWER.encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def internal():
    server = ThreadingHTTPServer(("127.0.0.4", 0), _Internal)
    server.daemon_threads = True
    _Internal.calls, _Internal.status = [], 500
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.4:{server.server_address[1]}/notices"
    server.shutdown()
    server.server_close()


def _queue(db, endpoint: str) -> int:
    now = utcnow()
    with db.session() as session:
        platform = add_platform(session, name="Internal", domains=["internal.example"],
                                channel="api", contact=endpoint)
        case = make_case(session, ["https://internal.example/v/1"], now=now)
        request = queue_removal_request(
            session, case=case, platform=platform, urls=list(case.urls),
            legal_basis="dsa_art16", language="en", notifier=NOTIFIER, now=now)
        session.commit()
        return request.id


def _request(db, request_id: int) -> RemovalRequest:
    with db.session() as session:
        return session.scalar(select(RemovalRequest).where(RemovalRequest.id == request_id))


def test_an_api_endpoint_on_loopback_is_refused_without_the_setting(
        database_url, tmp_path, internal, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.5:9")  # trust_env would route through it
    app = make_test_app(database_url, tmp_path, ALLOW_LOOPBACK=False)
    db = app.extensions["disrupt.db"]
    request_id = _queue(db, internal)
    assert send_queued_notices(db, app.config, worker="w", now=utcnow) == 0
    assert _Internal.calls == []
    request = _request(db, request_id)
    assert request.status == "failed" and request.sent_at is None
    assert request.last_error == "API: refused by the network guard (loopback)"


def test_an_answer_body_never_reaches_last_error(database_url, tmp_path, internal,
                                                 monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.5:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.5:9")
    app = make_test_app(database_url, tmp_path)  # ALLOW_LOOPBACK on, as in tests
    db = app.extensions["disrupt.db"]
    request_id = _queue(db, internal)
    assert send_queued_notices(db, app.config, worker="w", now=utcnow) == 0
    assert len(_Internal.calls) == 1  # straight to the platform, not through the proxy
    assert _Internal.calls[0] == internal.split("/")[2]  # its own name in Host
    request = _request(db, request_id)
    assert request.last_error == "API: HTTP 500 Internal Server Error"
    assert "internal-admin-token" not in request.last_error
