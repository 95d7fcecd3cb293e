"""Knowing that it works (issue 19): the worker's heartbeat, the console's banner, /healthz and
the Prometheus metrics, against a real `disrupt worker` process and both databases."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

from disrupt.cases.models import ReportedURL
from disrupt.db import utcnow
from disrupt.operations.health import HealthLimits, assess, beat
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import add_platform
from tests.support.apps import make_test_app
from tests.support.factories import add_url, make_case
from tests.support.staff import staff_client

LIMITS = HealthLimits(tick_seconds=1.0, stale_ticks=3, check_lag_seconds=3600)


def _wait(predicate, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_real_worker_keeps_healthz_green_and_its_death_shows(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, WORKER_TICK_SECONDS=0.5,
                        HEARTBEAT_STALE_TICKS=4)
    client = app.test_client()
    never = client.get("/healthz")
    assert never.status_code == 503
    assert [p["code"] for p in never.get_json()["problems"]] == ["no_worker"]
    console = staff_client(app, "cw@example.org")
    assert "No worker has ever run" in console.get("/console/").get_data(as_text=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    env.update({"DISRUPT_DATABASE_URL": database_url,
                "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance"),
                "DISRUPT_WORKER_TICK_SECONDS": "0.5"})
    worker = subprocess.Popen([sys.executable, "-m", "disrupt", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait(lambda: client.get("/healthz").status_code == 200), \
            client.get("/healthz").get_json()
        body = client.get("/healthz").get_json()
        assert body["worker"]["alive"] == 1 and body["status"] == "ok"
        assert 'id="operations-banner"' not in console.get("/console/").get_data(as_text=True)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    assert _wait(lambda: client.get("/healthz").status_code == 503, seconds=15)
    codes = [p["code"] for p in client.get("/healthz").get_json()["problems"]]
    assert codes == ["worker_silent"]
    page = console.get("/console/").get_data(as_text=True)
    assert 'id="operations-banner"' in page and "No worker seen for" in page
    app.extensions["disrupt.db"].dispose()


def test_late_checks_and_failed_sends_are_problems(app, db):
    now = utcnow()
    with db.session() as session:
        beat(session, worker="w1", started_at=now, now=now)
        platform = add_platform(session, name="PicShare", domains=["picshare.test"],
                                contact="abuse@picshare.test")
        case = make_case(session, now=now, reference="HEALTH-1")
        stopped = make_case(session, now=now, reference="HEALTH-2", status="withdrawn")
        session.add_all([
            ReportedURL(case_id=case.id, url="https://picshare.test/a", host="picshare.test",
                        created_at=now, next_check_at=now - timedelta(hours=3)),
            ReportedURL(case_id=case.id, url="https://picshare.test/b", host="picshare.test",
                        created_at=now, next_check_at=now - timedelta(minutes=5)),
            # a withdrawn case's URL is never checked: it is not late
            ReportedURL(case_id=stopped.id, url="https://picshare.test/c", host="picshare.test",
                        created_at=now, next_check_at=now - timedelta(days=9)),
        ])
        session.add(RemovalRequest(
            case_id=case.id, platform_id=platform.id, legal_basis="dsa_art16", language="en",
            channel="email", recipient="abuse@picshare.test", subject="s", body="b",
            idempotency_key="health-failed", status="failed", created_at=now))
        session.commit()
        health = assess(session, now=now, limits=LIMITS)
    assert [code for code, _ in health.problems] == ["checks_late", "outbox_failed"]
    assert health.due_urls == 2 and round(health.age(health.oldest_due_at)) == 3 * 3600
    assert "2 URL checks are due, the oldest for 3 h" in health.problems[0][1]
    later = assess_at(db, now + timedelta(seconds=10))
    assert [code for code, _ in later.problems][0] == "worker_silent"


def assess_at(db, moment):
    with db.session() as session:
        return assess(session, now=moment, limits=LIMITS)


def test_metrics_need_the_token_and_name_no_case(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, METRICS_TOKEN="s3cret-token")
    db = app.extensions["disrupt.db"]
    now = utcnow()
    with db.session() as session:
        case = make_case(session, now=now, reference="DSR-METRICS")
        add_url(session, case, "https://victim-host.test/p/SENTINEL", now=now, state="online",
                check_count=4, next_check_at=now + timedelta(days=1))
        session.commit()
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    assert 'disrupt_urls{state="online"} 1' in text and "disrupt_checks_total 4" in text
    assert 'disrupt_removal_requests{status="failed"} 0' in text
    for personal in ("SENTINEL", "victim-host", "DSR-METRICS"):
        assert personal not in text
    off = make_test_app(database_url, tmp_path / "other")
    assert off.test_client().get("/metrics").status_code == 404
    db.dispose()
    off.extensions["disrupt.db"].dispose()
