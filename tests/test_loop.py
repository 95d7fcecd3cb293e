"""The whole loop with real parts: portal routes, a real SMTP server (aiosmtpd), simulated
platforms on 127.0.0.x over real HTTP, the worker's jobs, and the statistics."""
from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from io import BytesIO

import pytest
from click.testing import CliRunner
from PIL import Image

from disrupt.accounts.services import create_user
from disrupt.cli import cli
from disrupt.dashboard.jobs import fold_changed_urls
from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, SimulatedPlatform
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.monitoring.jobs import run_due_checks
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.jobs import send_queued_notices
from disrupt.platforms.services import add_platform
from disrupt.victims.jobs import send_contact_confirmations, send_victim_updates
from tests.support.apps import make_test_app
from tests.support.logs import log_lines, production_logs
from tests.support.web import created_credentials, login, post_form

CONFIRM_LINK = re.compile(r"/case/contact/confirm/([A-Za-z0-9_-]+)")


def _jpeg(seed: int) -> bytes:
    image = Image.new("RGB", (96, 64), (seed * 40 % 256, 90, 160))
    for x in range(0, 96, 8):
        for y in range(0, 64, 8):
            image.putpixel((x, y), ((x * seed) % 256, (y * 7) % 256, 30))
    out = BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def platforms():
    mailbox = NoticeMailbox().start()
    picshare = SimulatedPlatform("PicShare", ip="127.0.0.2", takedown_after=0).start()
    cliphub = SimulatedPlatform("ClipHub", ip="127.0.0.3", takedown_after=0).start()
    slowtube = SimulatedPlatform("Slowtube", ip="127.0.0.4", takedown_after=None).start()
    mailbox.register("abuse@picshare.test", picshare)
    mailbox.register("abuse@slowtube.test", slowtube)
    yield mailbox, picshare, cliphub, slowtube
    for p in (picshare, cliphub, slowtube):
        p.stop()
    mailbox.stop()


def test_case_to_takedown_percentage(database_url, tmp_path, platforms):
    """…and nothing the loop logs names the victim, her case or her URLs (issue 19)."""
    with production_logs() as logs:
        reference, secret, urls, hashes = _the_loop(database_url, tmp_path, platforms)
    lines = log_lines(logs)
    assert any(line.get("endpoint") == "victims.new_case" for line in lines)
    assert all(line.get("request_id") for line in lines if line["logger"] == "disrupt.request")
    text = logs.getvalue().lower()
    personal = [reference, secret, "victim@example.net", "victim@"]
    personal += [part for url in urls for part in (url, url.split("/", 3)[-1])]
    personal += [h[key] for h in hashes for key in ("pdq", "sha256", "phash")]
    for value in personal:
        assert value.lower() not in text, value


def _the_loop(database_url, tmp_path, platforms):
    mailbox, picshare, cliphub, slowtube = platforms
    app = make_test_app(database_url, tmp_path, MAIL_TRANSPORT="smtp", SMTP_PORT=mailbox.port)
    db = app.extensions["disrupt.db"]
    with db.session() as session:
        add_platform(session, name="PicShare", domains=["127.0.0.2"], channel="email",
                     contact="abuse@picshare.test")
        add_platform(session, name="ClipHub", domains=["127.0.0.3"], channel="api",
                     contact=cliphub.notice_endpoint)
        add_platform(session, name="Slowtube", domains=["127.0.0.4"], channel="email",
                     contact="abuse@slowtube.test")
        create_user(session, email="cw@example.org", name="Casey", password="correct horse 42",
                    role="caseworker", now=utcnow())
        session.commit()

    images = [_jpeg(i) for i in range(3)]
    urls = [picshare.host_media("/p/1.jpg", images[0]),
            cliphub.host_media("/v/2.jpg", images[1]),
            slowtube.host_media("/w/3.jpg", images[2])]
    hashes = [{**hash_image_bytes(data), "kind": "image"} for data in images]

    # The victim opens a case through the portal's routes.
    victim = app.test_client()
    response = post_form(victim, "/case/new", {
        "reporter": "self", "intimate": "yes",
        "age_group": "adult", "language": "en", "consent_notices": "y",
        "urls": "\n".join(urls), "hashes": json.dumps(hashes), "contact": "victim@example.net",
    }, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    reference, secret = created_credentials(response.get_data(as_text=True))

    worker = "test-worker"
    # The address is confirmed by the link e-mailed to it before any update goes there.
    assert send_contact_confirmations(db, app.config, worker=worker, now=utcnow) == 1
    [link_mail] = mailbox.messages
    token = CONFIRM_LINK.search(link_mail.get_body().get_content()).group(1)
    confirm = f"/case/contact/confirm/{token}"
    assert post_form(app.test_client(), confirm, {}, token_from=confirm).status_code == 200
    mailbox.messages.clear()
    start = utcnow()
    first = start + timedelta(seconds=1)
    assert run_due_checks(db, app.config, worker=worker, now=lambda: first) == 3

    # The caseworker sends one removal request per platform.
    console = app.test_client()
    login(console, "cw@example.org", "correct horse 42")
    page = console.get("/console/")
    assert reference in page.get_data(as_text=True)
    case_id = int(page.get_data(as_text=True).split("/console/cases/")[1].split('"')[0])
    case_page = f"/console/cases/{case_id}"
    with db.session() as session:
        from sqlalchemy import select

        from disrupt.cases.models import ReportedURL
        rows = session.execute(select(ReportedURL.id, ReportedURL.platform_id)
                               .where(ReportedURL.case_id == case_id)).all()
    assert len({platform_id for _, platform_id in rows}) == 3
    for url_id, platform_id in rows:
        response = post_form(console, f"{case_page}/platforms/{platform_id}/requests", {
            f"p{platform_id}-url_ids": str(url_id),
            f"p{platform_id}-legal_basis": "dsa_art16",
            f"p{platform_id}-language": "en",
        }, token_from=case_page)
        assert response.status_code == 302

    assert send_queued_notices(db, app.config, worker=worker, now=utcnow) == 3
    assert send_queued_notices(db, app.config, worker=worker, now=utcnow) == 0
    assert [n.channel for n in picshare.notices] == ["email"]
    assert [n.channel for n in cliphub.notices] == ["api"]
    assert [n.channel for n in slowtube.notices] == ["email"]
    assert picshare.notices[0].urls == [urls[0]]
    assert "good faith" in mailbox.messages[0].get_body().get_content().lower() or \
        "bona fide" in mailbox.messages[0].get_body().get_content()
    deadline = time.time() + 5
    while (len(picshare.removed) < 1 or len(cliphub.removed) < 1) and time.time() < deadline:
        time.sleep(0.05)

    # +1 h: the first removal verdicts; +2 h: confirmed an hour later.
    for hours in (1, 2):
        later = start + timedelta(hours=hours, seconds=5)
        assert run_due_checks(db, app.config, worker=worker, now=lambda t=later: t) >= 2
    with db.session() as session:
        verdicts = [c.verdict for c in session.query(URLCheck).order_by(URLCheck.id)]
    assert verdicts.count("removed") == 4 and verdicts.count("online") >= 4

    # The victim left an address: one e-mail says there is news, and nothing more.
    assert send_victim_updates(db, app.config, worker=worker, now=lambda: later) == 1
    assert send_victim_updates(db, app.config, worker=worker, now=lambda: later) == 0
    [update] = [m for m in mailbox.messages if str(m["To"]) == "victim@example.net"]
    assert reference not in update.get_body().get_content()
    assert not any(url in update.get_body().get_content() for url in urls)

    # The victim follows the case.
    response = post_form(victim, "/case/follow", {"reference": reference, "secret": secret})
    assert response.status_code == 302
    status = victim.get("/case").get_data(as_text=True)
    assert status.count("Removed on") == 2 and "Still online" in status

    # The dashboard (after the worker's fold) and `disrupt stats --json`: 2 of 3 removed = 66.7 %.
    fold_changed_urls(db, app.config)
    html = console.get("/console/dashboard/").get_data(as_text=True)
    assert "66.7 %" in html
    result = CliRunner().invoke(cli, ["stats", "--json"], env={
        "DISRUPT_DATABASE_URL": database_url,
        "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")})
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["overall"]["removed"] == 2 and figures["overall"]["online"] == 1
    assert figures["overall"]["takedown_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert {row["platform"]: row["takedown_rate"] for row in figures["platforms"]} == {
        "ClipHub": 1.0, "PicShare": 1.0, "Slowtube": 0.0}
    return reference, secret, urls, hashes
