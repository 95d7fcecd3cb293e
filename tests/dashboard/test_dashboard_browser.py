"""The dashboard and the transparency report as a person sees them (issue 14): readable at
1280 px without any table cut off, usable on a 768 px tablet (tables scroll inside their own
frame, the page never sideways), French report, axe-core clean — in headless Chromium."""
from __future__ import annotations

import pytest

from disrupt.accounts.services import create_user, enrol_totp
from disrupt.dashboard.jobs import fold_changed_urls
from disrupt.db import utcnow
from tests.dashboard import fixture
from tests.support.apps import make_test_app
from tests.support.live import serve
from tests.support.web import console_login_in_browser
from tests.victims.test_portal_browser import axe_source  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

AXE_RUN = """async () => {
    const r = await axe.run(document, {resultTypes: ["violations"]});
    return r.violations.filter(v => ["serious", "critical"].includes(v.impact))
        .map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}));
}"""
TABLES_CUT = """() => Array.from(document.querySelectorAll(".table-wrap"))
    .filter(w => w.scrollWidth > w.clientWidth + 1)
    .map(w => w.querySelector("table").id)"""


def test_dashboard_and_report_read_at_1280_and_on_a_tablet(browser, sqlite_url, tmp_path,
                                                           axe_source):  # noqa: F811
    app = make_test_app(sqlite_url, tmp_path)
    db = app.extensions["disrupt.db"]
    with db.session() as s:
        fixture.build(s)
        user = create_user(s, email="cw@example.org", name="Casey", password="correct horse 42",
                           role="caseworker", now=utcnow())
        s.flush()
        secret, _ = enrol_totp(s, user, app.extensions["disrupt.cipher"], utcnow())
        s.commit()
    fold_changed_urls(db, app.config)  # the worker's job: pages only read
    with serve(app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        console_login_in_browser(page, base, "cw@example.org", "correct horse 42", secret)

        page.goto(f"{base}/console/dashboard/?period=custom&since=2025-12-01&until=2026-02-01")
        assert page.evaluate(TABLES_CUT) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        page.evaluate(axe_source)
        assert page.evaluate(AXE_RUN) == []
        # the idle platforms are folded, and unfold
        assert not page.is_visible("#idle-platforms")
        page.click(".idle-platforms summary")
        assert "Nowhere" in page.inner_text("#idle-platforms")

        page.set_viewport_size({"width": 768, "height": 1024})
        page.reload()
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        # on a tablet a wide table scrolls in its frame, its first column stays in view
        sticky = page.evaluate("""() => getComputedStyle(
            document.querySelector('#table-platforms th[scope=row]')).position""")
        assert sticky == "sticky"

        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(f"{base}/console/dashboard/report/2026?lang=fr")
        assert page.title() == "Rapport de transparence 2026"
        assert page.evaluate("document.documentElement.lang") == "fr"
        page.evaluate(axe_source)
        assert page.evaluate(AXE_RUN) == []
        context.close()
    db.dispose()
