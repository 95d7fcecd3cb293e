"""A caseworker works a case end to end in headless Chromium: log in with a TOTP code, the
queue, the case, paste addresses, preview and edit a removal request (one address left out, a
paragraph added), send it from the preview, see it in the timeline."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from disrupt.accounts.models import User
from disrupt.accounts.services import create_user, enrol_totp
from disrupt.cases.models import ReportedURL
from disrupt.db import utcnow
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import add_platform
from disrupt.victims.services import open_case
from tests.support.apps import make_test_app
from tests.support.live import serve
from tests.support.web import console_login_in_browser

pytestmark = pytest.mark.browser


def test_caseworker_works_a_case(browser, sqlite_url, tmp_path):
    app = make_test_app(sqlite_url, tmp_path)
    db = app.extensions["disrupt.db"]
    with db.session() as s:
        add_platform(s, name="PicShare", domains=["picshare.test"], contact="abuse@picshare.test")
        user = create_user(s, email="cw@example.org", name="Casey", password="correct horse 42",
                           role="caseworker", now=utcnow())
        s.flush()
        secret, _codes = enrol_totp(s, user, app.extensions["disrupt.cipher"], utcnow())
        case, _ = open_case(s, age_group="adult", language="en", consent_notices=True,
                            consent_hash_sharing=False, contact=None,
                            urls=["https://elsewhere.test/x"], hashes=[],
                            cipher=app.extensions["disrupt.cipher"], now=utcnow())
        s.commit()
        reference, case_id = case.reference, case.id

    csp_errors: list[str] = []
    with serve(app) as base:
        context = browser.new_context()
        page = context.new_page()
        page.on("console", lambda m: csp_errors.append(m.text)
                if "Content Security Policy" in m.text else None)
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith(base) else None)

        page.goto(f"{base}/console/")
        assert page.url.startswith(f"{base}/console/login")
        console_login_in_browser(page, base, "cw@example.org", "correct horse 42", secret)

        page.click(f"text={reference}")
        page.wait_for_url(f"{base}/console/cases/{case_id}")
        page.click("#assign-me")
        page.wait_for_load_state()
        assert page.inner_text("#case-assignee") == "me"

        page.fill("#urls", "https://PicShare.test/p/1?utm_source=feed\nhttps://picshare.test/p/2#top")
        page.click("text=Add addresses")
        page.wait_for_load_state()
        assert "2 addresses added." in page.inner_text(".flash")
        table = page.inner_text("table.urls")
        assert "https://picshare.test/p/1" in table and "PicShare" in table

        # Preview and edit: keep one address, add a paragraph, see it, send from the preview.
        page.click("text=Preview and edit the notice first")
        page.wait_for_load_state()
        boxes = page.locator("input[type=checkbox][name$=url_ids]")
        assert boxes.count() == 2
        page.uncheck("input[type=checkbox][name$=url_ids] >> nth=1")
        page.fill("textarea[name$=explanation]", "The person shown never agreed: SENTINEL-PARA.")
        page.click("text=Update the preview")
        page.wait_for_load_state()
        preview = page.inner_text("#notice-body")
        assert "SENTINEL-PARA" in preview and "https://picshare.test/p/1" in preview
        assert "https://picshare.test/p/2" not in preview
        page.click("text=Send to PicShare")
        page.wait_for_load_state()
        assert "Removal request queued for PicShare" in page.inner_text(".flash")
        page.goto(f"{base}/console/cases/{case_id}")
        timeline = page.inner_text("#timeline")
        assert "Removal request to PicShare queued" in timeline
        assert "Case assigned" in timeline and "Casey" in timeline
        context.close()

    assert csp_errors == [] and outside == []
    with db.session() as s:
        request = s.scalar(select(RemovalRequest))
        assert request.status == "queued" and [u.url for u in request.urls] == [
            "https://picshare.test/p/1"]
        assert "SENTINEL-PARA" in request.body
        assert s.scalar(select(User.last_login_at)) is not None
        assert len(list(s.scalars(select(ReportedURL)))) == 3
    app.extensions["disrupt.db"].dispose()
