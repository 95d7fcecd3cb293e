"""Sending is never lost and never doubled: a real SMTP server that is down then up, a
simulated platform API that fails, times out then answers, and a worker killed between the
send and the commit. The receivers' logs are the proof."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, SimulatedPlatform, free_port
from disrupt.platforms.jobs import CRASH_EXIT_STATUS, send_queued_notices
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import add_platform, queue_removal_request
from tests.platforms.support import NOTIFIER, make_case
from tests.support.apps import make_test_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def picshare():
    platform = SimulatedPlatform("PicShare", ip="127.0.0.2", takedown_after=None).start()
    yield platform
    platform.stop()


def _queue(db, platform_row_kwargs: dict, urls: list[str], now) -> list[int]:
    """One platform, one case per URL, one queued request each; returns the request ids."""
    with db.session() as session:
        platform = add_platform(session, **platform_row_kwargs)
        ids = []
        for url in urls:
            case = make_case(session, [url], now=now)
            request = queue_removal_request(
                session, case=case, platform=platform, urls=list(case.urls),
                legal_basis="dsa_art16", language="en", notifier=NOTIFIER, now=now)
            session.flush()
            ids.append(request.id)
        session.commit()
    return ids


def _requests(db, ids: list[int]) -> list[RemovalRequest]:
    with db.session() as session:
        rows = list(session.scalars(select(RemovalRequest).where(RemovalRequest.id.in_(ids))
                                    .order_by(RemovalRequest.id)))
        for row in rows:
            _ = row.replies
        return rows


def test_smtp_down_then_up_every_notice_arrives_exactly_once(database_url, tmp_path, picshare):
    mailbox = NoticeMailbox(port=free_port())  # not started: the SMTP server is down
    address = mailbox.register("abuse@picshare.test", picshare)
    app = make_test_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_PORT=mailbox.port,
                        SEND_TIMEOUT_SECONDS=5.0, SEND_RETRY_SECONDS=60)
    db = app.extensions["disrupt.db"]
    start = utcnow()
    urls = [picshare.host_media(f"/p/{i}.jpg", b"x") for i in range(3)]
    ids = _queue(db, dict(name="PicShare", domains=["127.0.0.2"], channel="email",
                          contact=address), urls, start)
    try:
        assert send_queued_notices(db, app.config, worker="w", now=lambda: start) == 0
        down = _requests(db, ids)
        assert [r.status for r in down] == ["queued"] * 3
        assert all(r.attempts == 1 and "SMTP" in r.last_error for r in down)
        assert all(r.next_attempt_at == start + timedelta(seconds=60) for r in down)
        # Not due yet: nothing is attempted before the backoff.
        assert send_queued_notices(db, app.config, worker="w",
                                   now=lambda: start + timedelta(seconds=30)) == 0
        assert all(r.attempts == 1 for r in _requests(db, ids))

        mailbox.start()
        later = start + timedelta(seconds=61)
        assert send_queued_notices(db, app.config, worker="w", now=lambda: later) == 3
        assert send_queued_notices(db, app.config, worker="w",
                                   now=lambda: later + timedelta(hours=1)) == 0
    finally:
        mailbox.stop()
    assert len(mailbox.messages) == 3
    assert picshare.duplicates == 0
    assert sorted(n.urls[0] for n in picshare.notices) == sorted(urls)
    keys = {str(m["Message-ID"]) for m in mailbox.messages}
    assert len(keys) == 3
    sent = _requests(db, ids)
    assert [r.status for r in sent] == ["sent"] * 3
    assert all(r.attempts == 2 and r.sent_at == later and r.last_error is None for r in sent)
    assert all(r.deadline_at == later + timedelta(hours=48) for r in sent)
    assert keys == {f"<notice-{r.idempotency_key}@disrupt.invalid>" for r in sent}


def test_api_500_then_timeout_then_200_arrives_once(database_url, tmp_path):
    cliphub = SimulatedPlatform("ClipHub", ip="127.0.0.3", takedown_after=None,
                                api_script=["error", "slow", "ok"], slow_seconds=1.5).start()
    try:
        app = make_test_app(database_url, tmp_path, SEND_TIMEOUT_SECONDS=0.5,
                            SEND_RETRY_SECONDS=10)
        db = app.extensions["disrupt.db"]
        start = utcnow()
        url = cliphub.host_media("/v/1.jpg", b"x")
        [request_id] = _queue(db, dict(name="ClipHub", domains=["127.0.0.3"], channel="api",
                                       contact=cliphub.notice_endpoint), [url], start)
        steps = [start, start + timedelta(seconds=11), start + timedelta(seconds=40)]
        results = [send_queued_notices(db, app.config, worker="w", now=lambda t=t: t)
                   for t in steps]
        assert results == [0, 0, 1]
        [request] = _requests(db, [request_id])
    finally:
        cliphub.stop()
    key = request.idempotency_key
    # Three calls reached the platform; the notice was recorded once.
    assert cliphub.api_calls == [(key, "error"), (key, "slow"), (key, "ok")]
    assert [n.key for n in cliphub.notices] == [key]
    assert cliphub.notices[0].urls == [url]
    assert cliphub.duplicates == 1
    assert request.attempts == 3 and request.sent_at == steps[2]
    # The platform's answer is recorded as its reply.
    assert request.status == "acknowledged"
    assert request.platform_reference == f"ClipHub-{key[:8]}"
    assert [(r.status, r.source) for r in request.replies] == [("acknowledged", "api")]


def test_api_refusal_fails_at_once_and_retry_requeues(database_url, tmp_path):
    from disrupt.platforms.services import retry_failed_request

    cliphub = SimulatedPlatform("ClipHub", ip="127.0.0.3").start()
    try:
        app = make_test_app(database_url, tmp_path, SEND_MAX_ATTEMPTS=5)
        db = app.extensions["disrupt.db"]
        start = utcnow()
        url = cliphub.host_media("/v/1.jpg", b"x")
        [request_id] = _queue(db, dict(name="ClipHub", domains=["127.0.0.3"], channel="api",
                                       contact=cliphub.url("/no-such-endpoint")), [url], start)
        assert send_queued_notices(db, app.config, worker="w", now=lambda: start) == 0
        [request] = _requests(db, [request_id])
        assert request.status == "failed" and request.attempts == 1
        assert "HTTP 404" in request.last_error
        with db.session() as session:
            request = session.get(RemovalRequest, request_id)
            request.platform.contact = cliphub.notice_endpoint
            retry_failed_request(session, request, now=start)
            session.commit()
        assert send_queued_notices(db, app.config, worker="w", now=lambda: start) == 1
    finally:
        cliphub.stop()
    assert len(cliphub.notices) == 1


def test_failed_after_max_attempts(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_PORT=free_port(),
                        SEND_MAX_ATTEMPTS=3, SEND_RETRY_SECONDS=1)
    db = app.extensions["disrupt.db"]
    start = utcnow()
    [request_id] = _queue(db, dict(name="Nowhere", domains=["nowhere.example"],
                                   channel="email", contact="abuse@nowhere.example"),
                          ["https://nowhere.example/a.jpg"], start)
    for seconds in (0, 1, 3):
        send_queued_notices(db, app.config, worker="w",
                            now=lambda s=seconds: start + timedelta(seconds=s))
    [request] = _requests(db, [request_id])
    assert request.status == "failed" and request.attempts == 3
    assert request.next_attempt_at is None


def _run_send(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "disrupt", "send-notices", "--worker", "w1"],
                          cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("channel", ["email", "api"])
def test_killed_between_send_and_commit_does_not_send_twice(
    database_url, tmp_path, picshare, channel,
):
    mailbox = NoticeMailbox().start()
    address = mailbox.register("abuse@picshare.test", picshare)
    try:
        app = make_test_app(database_url, tmp_path)
        db = app.extensions["disrupt.db"]
        now = utcnow() - timedelta(seconds=1)
        url = picshare.host_media("/p/1.jpg", b"x")
        contact = address if channel == "email" else picshare.notice_endpoint
        [request_id] = _queue(db, dict(name="PicShare", domains=["127.0.0.2"], channel=channel,
                                       contact=contact), [url], now)
        env = {"DISRUPT_DATABASE_URL": database_url,
               "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance"),
               "DISRUPT_MAIL_TRANSPORT": "smtp", "DISRUPT_SMTP_PORT": str(mailbox.port),
               "DISRUPT_SEND_TIMEOUT_SECONDS": "10",
               "DISRUPT_ALLOW_LOOPBACK": "1"}  # the API platform is on 127.0.0.2
        crashed = _run_send({**env, "DISRUPT_TEST_CRASH_AFTER_DELIVERY": "1"})
        assert crashed.returncode == CRASH_EXIT_STATUS, crashed.stderr
        assert len(picshare.notices) == 1  # delivered ...
        [request] = _requests(db, [request_id])
        assert request.status == "queued" and request.sent_at is None  # ... but not recorded
        assert request.lease_owner == "w1"

        restarted = _run_send(env)
        assert restarted.returncode == 0, restarted.stderr
        assert json.loads(restarted.stdout)["notices_sent"] == 1
        again = _run_send(env)
        assert json.loads(again.stdout)["notices_sent"] == 0
    finally:
        mailbox.stop()
    [request] = _requests(db, [request_id])
    # The receiver saw the notice twice and kept it once, thanks to the key.
    expected_key = (f"<notice-{request.idempotency_key}@disrupt.invalid>"
                    if channel == "email" else request.idempotency_key)
    assert [n.key for n in picshare.notices] == [expected_key]
    assert picshare.duplicates == 1
    assert request.status in ("sent", "acknowledged")
    assert request.attempts == 1 and request.sent_at is not None
    assert request.lease_owner is None
    with db.session() as session:
        assert session.scalar(select(RemovalRequest.id).where(
            RemovalRequest.case_id == request.case_id, RemovalRequest.id != request_id)) is None
