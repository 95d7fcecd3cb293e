"""What the victim and the dashboard say as one URL goes online with another photo (picture
not confirmed), then shows the victim's picture, then is removed — checked against a real
page server, read in headless Chromium (issue 12). A page that never showed her picture never
reaches the takedown rate as a removal."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.accounts.services import create_user, enrol_totp
from disrupt.cases.models import ReportedURL
from disrupt.cases.services import SubmittedHash
from disrupt.dashboard.jobs import fold_changed_urls
from disrupt.db import utcnow
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.monitoring.jobs import run_due_checks
from disrupt.platforms.jobs import send_queued_notices
from disrupt.platforms.services import Notifier, add_platform, queue_removal_request
from disrupt.victims.services import open_case
from tests.monitoring.test_judgement import Site, jpeg, page
from tests.support.apps import make_test_app
from tests.support.live import serve
from tests.support.web import console_login_in_browser

pytestmark = pytest.mark.browser


def test_online_not_confirmed_then_seen_then_removed(browser, sqlite_url, tmp_path,
                                                      case_image, other_image):
    site = Site("127.0.0.3").start()
    app = make_test_app(sqlite_url, tmp_path, REMOVAL_CONFIRM_SECONDS=3600)
    db = app.extensions["disrupt.db"]
    try:
        url = site.url("/t/42")
        site.routes["/t/42"] = page("/i/other.jpg")  # a different photo of hers was posted
        site.routes["/i/other.jpg"] = jpeg(other_image)
        site.routes["/i/case.jpg"] = jpeg(case_image)
        digest = hash_image_bytes(case_image)
        start = utcnow()
        with db.session() as s:
            case, secret = open_case(
                s, age_group="adult", language="en", consent_notices=True,
                consent_hash_sharing=False, contact=None, urls=[url],
                hashes=[SubmittedHash(kind="image", sha256=digest["sha256"],
                                      pipeline=digest["pipeline"], pdq=digest["pdq"],
                                      pdq_quality=digest["pdq_quality"],
                                      phash=digest["phash"])],
                cipher=app.extensions["disrupt.cipher"], now=start)
            reference = case.reference
            s.flush()
            # A removal request went to the site: the URL counts in the takedown rate.
            platform = add_platform(s, name="Forum", domains=["127.0.0.3"],
                                    contact="abuse@forum.test")
            s.flush()
            [reported] = case.urls
            reported.platform_id = platform.id
            queue_removal_request(s, case=case, platform=platform, urls=[reported],
                                  legal_basis="dsa_art16", language="en", now=start,
                                  notifier=Notifier("Hotline", "notices@hotline.test", False))
            user = create_user(s, email="cw@example.org", name="Casey",
                               password="correct horse 42", role="caseworker", now=start)
            s.flush()
            totp_secret, _ = enrol_totp(s, user, app.extensions["disrupt.cipher"], start)
            s.commit()
        assert send_queued_notices(db, app.config, worker="w", now=lambda: start) == 1

        def check_at(offset: timedelta) -> None:
            at = start + offset
            assert run_due_checks(db, app.config, worker="w", now=lambda: at) == 1
            fold_changed_urls(db, app.config)

        def check_when_due() -> None:
            with db.session() as s:
                due = s.scalar(select(ReportedURL.next_check_at))
            check_at(due - start + timedelta(seconds=1))

        def state() -> tuple[str, object]:
            with db.session() as s:
                row = s.scalar(select(ReportedURL))
                return row.state, row.picture_confirmed_at

        with serve(app) as base:
            victim = browser.new_context().new_page()
            victim.goto(f"{base}/case/follow")
            victim.fill("#reference", reference)
            victim.fill("#secret", secret)
            victim.click("main button[type=submit]")
            victim.wait_for_url(f"{base}/case")
            console = browser.new_context().new_page()
            console_login_in_browser(console, base, "cw@example.org", "correct horse 42",
                                     totp_secret)

            def rate() -> str:
                console.goto(f"{base}/console/dashboard/")
                return console.inner_text("#takedown-rate")

            # 1. Another photo: online, picture not confirmed — never "removed".
            check_at(timedelta(seconds=1))
            assert state() == ("online", None)
            victim.reload()
            text = victim.inner_text("main")
            assert "not yet confirmed that it shows your picture" in text
            assert "Removed" not in text
            assert rate() == "0.0 %"
            # Gone an hour later: another photo was never evidence, and 404 needs a second
            # verdict; the page never showed her picture, and still it is not "removed" yet.
            site.routes["/t/42"] = (404, b"gone", "text/plain")
            check_at(timedelta(hours=1))
            victim.reload()
            assert "We are checking again to be sure" in victim.inner_text("main")
            assert rate() == "—"  # being confirmed is not in the rate, either way

            # 2. Back, now with her picture third on the page: seen, online.
            site.routes["/t/42"] = page("/i/logo.png", "/i/other.jpg", "/i/case.jpg")
            check_at(timedelta(hours=2))
            status, confirmed = state()
            assert status == "online" and confirmed is not None
            victim.reload()
            assert "Still online." in victim.inner_text("main")
            assert rate() == "0.0 %"

            # 3. Removed (404), confirmed an hour later: only now "Removed on", and 100 %.
            site.routes["/t/42"] = (404, b"gone", "text/plain")
            check_when_due()
            assert state()[0] == "removal_suspected"
            victim.reload()
            assert "Removed on" not in victim.inner_text("main")
            check_when_due()
            assert state()[0] == "removed"
            victim.reload()
            assert "Removed on" in victim.inner_text("main")
            assert rate() == "100.0 %"
            victim.context.close()
            console.context.close()
    finally:
        site.stop()
        db.dispose()
