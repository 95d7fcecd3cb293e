"""`disrupt demo` in a fresh folder: within a minute the takedown rate comes from real checks
of the simulated platforms (6 of 8 notified URLs removed, Slowtube never acts); the URL on an
unknown host is traced and its CDN notified; the platforms' e-mail answers show on their
requests with a proposed status; captures, the custody chain and an export."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import select

from disrupt.cases.models import ReportedURL
from disrupt.demo.simulator import free_port
from disrupt.evidence.models import Capture
from disrupt.platforms.models import MailboxMessage, RemovalRequest
from disrupt.tracing.models import HostTrace
from tests.support.staff import staff_client
from tests.support.web import post_form


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One `disrupt demo` of 45 s in a fresh folder; its output and instance folder."""
    tmp_path = tmp_path_factory.mktemp("demo-run")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    result = subprocess.run(
        [sys.executable, "-m", "disrupt", "demo", "--duration", "45",
         "--port", str(free_port()), "--instance", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, tmp_path / "demo"


@pytest.fixture(scope="module")
def demo_app(demo_run):
    """The demo's instance (its database and data key) opened after the run."""
    from disrupt import create_app

    _out, instance = demo_run
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance),
                      "DATABASE_URL": f"sqlite:///{instance / 'demo.sqlite3'}"})
    yield app
    app.extensions["disrupt.db"].dispose()


@pytest.mark.slow
def test_demo_shows_a_takedown_rate_from_real_checks(demo_run):
    out, instance = demo_run
    assert "Caseworker console" in out and "password" in out
    final = [line for line in out.splitlines() if line.startswith("takedown rate")][-1]
    assert re.search(r"takedown rate 75\.0 %: removed 6, online 2\b", final), out[-2000:]
    assert (instance / "demo.sqlite3").exists()
    # What the platforms' mailboxes received is kept for the evaluator to read.
    notices = sorted((instance / "mail").glob("notice-*.eml"))
    assert len(notices) >= 3, out[-2000:]
    assert "Subject:" in notices[0].read_text() and notices[0].stat().st_mode & 0o077 == 0
    assert f"{instance / 'mail'}" in out and "/console/demo/mail/" in out


@pytest.mark.slow
def test_the_demo_traces_an_unknown_host_and_notifies_its_cdn(demo_run, demo_app):
    """Issue 16: the URL on a host no platform covers is traced through the simulated RDAP
    registries (network guard, real HTTP) and its notice goes to the CDN's abuse address."""
    out, instance = demo_run
    db = demo_app.extensions["disrupt.db"]
    with db.session() as session:
        [url] = [u for u in session.scalars(select(ReportedURL)) if "/v/e1.jpg" in u.url]
        trace = session.scalar(select(HostTrace).where(HostTrace.host == url.host))
        assert trace.status == "ok", trace.problems
        assert trace.network["holder"] == "Cloudflare, Inc. (simulated)"
        assert trace.network["country"] == "US"
        assert trace.network["abuse"]["email"] == "abuse@cloudflare.demo"
        assert trace.cdn == "Cloudflare" and "cf-ray" in trace.cdn_evidence
        assert any(e["url"].startswith("http://127.0.0.53:") for e in trace.evidence)
        [request] = session.scalars(select(RemovalRequest).where(
            RemovalRequest.case_id == url.case_id)).all()
        assert request.platform.contact == "abuse@cloudflare.demo"
        assert request.status == "sent" and url.platform_id == request.platform_id
        key = request.idempotency_key
    assert f"{url.url} was traced" in out and "queued to abuse@cloudflare.demo" in out
    assert f"/console/cases/{url.case_id}\n" in out
    client = staff_client(demo_app, "tracer@demo.disrupt.test", "supervisor")
    page = client.get(f"/console/cases/{url.case_id}").get_data(as_text=True)
    section = page.split('id="hosting"', 1)[1].split("</section>", 1)[0]
    for shown in ("Cloudflare, Inc. (simulated)", "US", "abuse@cloudflare.demo", "Cloudflare"):
        assert shown in section, shown
    sent = (instance / "mail" / f"notice-{key}.eml").read_text()
    assert "To: abuse@cloudflare.demo" in sent and url.url in sent


@pytest.mark.slow
def test_the_platforms_email_replies_appear_on_their_requests_with_a_proposed_status(
        demo_run, demo_app):
    """Issue 17: PicShare and Slowtube answer by e-mail; the demo's SMTP server delivers the
    answers into the Maildir the worker reads; each shows on its request's page."""
    _out, instance = demo_run
    db = demo_app.extensions["disrupt.db"]
    with db.session() as session:
        messages = list(session.scalars(select(MailboxMessage)))
        by_platform: dict[str, list[MailboxMessage]] = {}
        for message in messages:
            assert message.state == "proposed" and message.request is not None
            by_platform.setdefault(message.request.platform.name, []).append(message)
    assert sorted(by_platform) == ["PicShare", "Slowtube"]
    assert {m.proposed_status for m in by_platform["PicShare"]} == {"actioned"}
    [refusal] = by_platform["Slowtube"]
    assert refusal.proposed_status == "rejected"
    assert refusal.proposed_reason == "It does not violate our policies, so we will not " \
                                      "remove it."
    assert len(list((instance / "mailbox" / "new").iterdir())) == len(messages)
    client = staff_client(demo_app, "reader@demo.disrupt.test", "supervisor")
    page = client.get(f"/console/requests/{refusal.request_id}").get_data(as_text=True)
    assert "Proposed status" in page and "does not violate our policies" in page


@pytest.mark.slow
def test_the_demo_has_evidence_whose_chain_verifies_and_an_export(demo_run, demo_app,
                                                                   tmp_path):
    """Issue 17: a URL the checker saw online has a capture, the custody chain verifies
    with its command, and an export is downloaded from the console and verifies."""
    _out, instance = demo_run
    db = demo_app.extensions["disrupt.db"]
    with db.session() as session:
        capture = session.scalars(select(Capture)).first()
        assert capture is not None
        case_id = capture.case_id
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")},
           "DISRUPT_INSTANCE_PATH": str(instance),
           "DISRUPT_DATABASE_URL": f"sqlite:///{instance / 'demo.sqlite3'}"}
    verify = subprocess.run([sys.executable, "-m", "disrupt", "evidence", "verify"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert verify.returncode == 0 and "custody chain verified" in verify.stdout, verify.stderr
    client = staff_client(demo_app, "police-export@demo.disrupt.test", "supervisor")
    response = post_form(client, f"/console/cases/{case_id}/evidence/export", {},
                         token_from=f"/console/cases/{case_id}")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    export = tmp_path / "export.zip"
    export.write_bytes(response.data)
    checked = subprocess.run([sys.executable, "-m", "disrupt", "evidence", "verify-export",
                              str(export)], capture_output=True, text=True, env=env, timeout=60)
    assert checked.returncode == 0 and "every file matches" in checked.stdout, checked.stderr


def test_a_second_demo_on_a_busy_port_fails_before_touching_anything(tmp_path):
    import socket

    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    instance = tmp_path / "demo"
    instance.mkdir()
    (instance / "demo.sqlite3").write_bytes(b"the first demo's database")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "disrupt", "demo", "--duration", "5", "--port", str(port),
             "--instance", str(instance)],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
        )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port} is in use" in lines[0], lines
    assert "password" not in result.stdout
    assert (instance / "demo.sqlite3").read_bytes() == b"the first demo's database"
