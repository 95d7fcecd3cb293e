"""The portal in headless Chromium over real HTTP: the whole journey in French and English,
accessibility (axe-core) on every page, no request to any other host, no image bytes sent,
"Leave this site", keyboard use and a 320 px screen."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from disrupt.cases.models import Case
from disrupt.db import utcnow
from disrupt.security import DataCipher
from disrupt.victims.services import open_case
from tests.support.apps import make_test_app
from tests.support.live import serve
from tests.victims.privacy import assert_no_personal_data

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE_DIR = ROOT / "tests" / "js"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
NEUTRAL = "https://neutral.example/"

WORDS = {
    "en": {"open": "Open a case", "follow": "Follow my case", "submit": "Open my case",
           "add_urls": "Add these addresses", "send": "Send the message",
           "withdraw": "Withdraw my case", "withdraw_yes": "Yes, withdraw my case",
           "erase": "Erase my case", "erase_yes": "Yes, erase my case",
           "withdrawn": "You withdrew this case", "erased": "Your case is erased",
           "ready": "Fingerprints ready: 2."},
    "fr": {"open": "Ouvrir un dossier", "follow": "Suivre mon dossier",
           "submit": "Ouvrir mon dossier", "add_urls": "Ajouter ces adresses",
           "send": "Envoyer le message", "withdraw": "Retirer mon dossier",
           "withdraw_yes": "Oui, retirer mon dossier", "erase": "Effacer mon dossier",
           "erase_yes": "Oui, effacer mon dossier", "withdrawn": "Vous avez retiré ce dossier",
           "erased": "Votre dossier est effacé", "ready": "Empreintes prêtes\u00a0: 2."},
}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists() and shutil.which("npm"):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=AXE_DIR,
                       check=True)
    if not AXE.exists():
        if os.environ.get("DISRUPT_REQUIRE_CHROMIUM") == "1":
            pytest.fail("axe-core missing: run `npm ci` in tests/js (make test does)")
        pytest.skip("axe-core missing and npm not installed: run `npm ci` in tests/js")
    return AXE.read_text()


@pytest.fixture
def portal(sqlite_url, tmp_path):
    app = make_test_app(sqlite_url, tmp_path, LEAVE_SITE_URL=NEUTRAL)
    with serve(app) as base_url:
        yield app, base_url
    app.extensions["disrupt.db"].dispose()


class Watcher:
    """Records every request, console error and accessibility violation of a page."""

    def __init__(self, page, base_url: str, axe_source: str) -> None:
        self.page, self.base_url, self.axe_source = page, base_url, axe_source
        self.requests: list[tuple[str, str, bytes]] = []
        self.console_errors: list[str] = []
        self.checked: list[str] = []
        page.on("request", lambda r: self.requests.append((r.method, r.url,
                                                           r.post_data_buffer or b"")))
        # CSP refusals and script errors; HTTP error statuses (the 404 page...) are expected.
        page.on("console", lambda m: m.type == "error" and not m.text.startswith(
            "Failed to load resource") and self.console_errors.append(m.text))
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def check_page(self) -> None:
        """axe-core (no serious or critical violation), no sideways scrolling at 320 px,
        the lang attribute and no case data in the title."""
        page = self.page
        page.evaluate(self.axe_source)  # run through DevTools: the page's CSP does not apply
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {resultTypes: ["violations"]});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}));
        }""")
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert not bad, (page.url, bad)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], (page.url, width)
        assert page.evaluate("document.documentElement.lang") in ("en", "fr")
        assert "DSR-" not in page.title()
        self.checked.append(page.url.replace(self.base_url, ""))

    def assert_only_own_origin(self) -> None:
        foreign = [url for _, url, _ in self.requests
                   if not url.startswith(self.base_url + "/") and not url.startswith("blob:")
                   and not url.startswith("data:")]
        assert not foreign, foreign
        assert self.requests, "no request recorded"


def _photo(path: Path, seed: int) -> Path:
    image = Image.new("RGB", (320, 240), (40 * seed % 256, 120, 200))
    draw = ImageDraw.Draw(image)
    for i in range(12):
        draw.ellipse((i * 23 % 300, (i * 37 + seed * 11) % 220, i * 23 % 300 + 40,
                      (i * 37 + seed * 11) % 220 + 30), fill=(i * 20, 255 - i * 15, seed * 60))
    image.save(path, "JPEG", quality=92)
    return path


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_victim_journey(browser, portal, axe_source, tmp_path, lang):
    app, base = portal
    words = WORDS[lang]
    photos = [_photo(tmp_path / f"holiday-{n}.jpg", n) for n in (1, 2)]
    context = browser.new_context(viewport={"width": 320, "height": 720},
                                  locale="en-US", service_workers="block")
    page = context.new_page()
    watcher = Watcher(page, base, axe_source)
    try:
        page.goto(base + "/")
        if lang == "fr":
            page.get_by_role("button", name="Français").click()
            page.wait_for_load_state()
        assert page.evaluate("document.documentElement.lang") == lang
        watcher.check_page()

        page.get_by_role("link", name=words["open"]).first.click()
        page.wait_for_url(base + "/case/new")
        watcher.check_page()
        # Nothing filled in: the errors are announced and listed, and the page stays usable.
        page.get_by_role("button", name=words["submit"]).click()
        page.wait_for_selector("#error-summary")
        watcher.check_page()

        page.check("#reporter-0")
        page.check("#intimate-0")
        page.check("#age_group-0")
        page.set_input_files("#file-picker", [str(p) for p in photos])
        page.wait_for_function(
            "(ready) => document.getElementById('hash-status').textContent.trim() === ready",
            arg=words["ready"], timeout=60_000)
        page.fill("#urls", "https://pics.example/p/1\nclips.example/v/2")
        page.fill("#contact", "victim@example.org")
        page.check("#consent_notices")
        page.check("#consent_hash_sharing")
        page.get_by_role("button", name=words["submit"]).click()
        page.wait_for_selector("#case-reference")
        watcher.check_page()
        reference = page.inner_text("#case-reference").strip()
        secret = page.inner_text("#case-secret").strip()

        # What left the browser for the new case: hashes, never the pictures.
        posted = [body for method, url, body in watcher.requests
                  if method == "POST" and url == base + "/case/new"][-1]
        for photo in photos:
            data = photo.read_bytes()
            assert data[200:264] not in posted
            assert hashlib.sha256(data).hexdigest().encode() in posted
        assert len(posted) < 10_000

        # Come back with the reference and the secret.
        page.get_by_role("link", name=words["follow"]).last.click()
        page.wait_for_url(base + "/case/follow")
        watcher.check_page()
        page.fill("#reference", reference)
        page.fill("#secret", secret)
        page.get_by_role("button", name=words["submit"]).click()
        page.wait_for_url(base + "/case")
        assert page.locator("#hash-rows li").count() == 2
        assert "https://pics.example/p/1" in page.inner_text("#url-list")
        watcher.check_page()

        page.fill("#urls", "https://more.example/found-again")
        page.get_by_role("button", name=words["add_urls"]).click()
        page.wait_for_url(base + "/case#addresses")
        assert "https://more.example/found-again" in page.inner_text("#url-list")

        page.fill("#body", "Merci / thank you, message 42")
        page.get_by_role("button", name=words["send"]).click()
        page.wait_for_url(base + "/case#messages")
        assert "message 42" in page.inner_text("#message-list")
        watcher.check_page()

        page.get_by_role("link", name=words["withdraw"]).click()
        page.wait_for_url(base + "/case/withdraw")
        watcher.check_page()
        page.check("#confirm")
        page.get_by_role("button", name=words["withdraw_yes"]).click()
        page.wait_for_url(base + "/case")
        assert words["withdrawn"] in page.inner_text("main")
        watcher.check_page()

        page.get_by_role("link", name=words["erase"]).click()
        page.wait_for_url(base + "/case/erase")
        watcher.check_page()
        page.check("#confirm")
        page.get_by_role("button", name=words["erase_yes"]).click()
        page.wait_for_selector(f"h1:text-is('{words['erased']}')")
        watcher.check_page()

        page.goto(base + "/no-such-page")
        watcher.check_page()

        watcher.assert_only_own_origin()
        assert not watcher.console_errors, watcher.console_errors
    finally:
        context.close()

    with app.extensions["disrupt.db"].session() as s:
        # Erasure removes the reference too: the case is found by its new name.
        assert s.scalar(select(Case).where(Case.reference == reference)) is None
        case = s.scalar(select(Case).where(Case.reference.like("erased:%")))
        assert case.language == lang
        assert_no_personal_data(s, case.id, [
            reference, "pics.example/p/1", "clips.example/v/2", "more.example/found-again",
            "message 42", "holiday-1", "holiday-2"])


def _seed_case(app) -> tuple[str, str]:
    with app.extensions["disrupt.db"].session() as s:
        case, secret = open_case(
            s, age_group="adult", language="en", consent_notices=True,
            consent_hash_sharing=False, contact=None, urls=["https://pics.example/p/9"],
            hashes=[], cipher=DataCipher(app.config["DATA_KEY"]), now=utcnow())
        s.commit()
        return case.reference, secret


def _open_case_page(page, base: str, reference: str, secret: str) -> None:
    page.goto(base + "/case/follow")
    page.fill("#reference", reference)
    page.fill("#secret", secret)
    page.press("#secret", "Enter")
    page.wait_for_url(base + "/case")


@pytest.mark.parametrize("how", ["button", "shift-three-times"])
def test_leave_this_site(browser, portal, how):
    app, base = portal
    reference, secret = _seed_case(app)
    context = browser.new_context(viewport={"width": 320, "height": 720})
    # The neutral site is answered locally: nothing leaves the machine.
    context.route(NEUTRAL + "**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<title>Neutral</title><p>neutral page</p>"))
    page = context.new_page()
    try:
        _open_case_page(page, base, reference, secret)
        with page.expect_request(base + "/case/leave"):
            if how == "button":
                page.click("#leave-site")
            else:
                page.locator("body").click(position={"x": 5, "y": 300})
                for _ in range(3):
                    page.keyboard.press("Shift")
            page.wait_for_url(NEUTRAL)
        assert "neutral page" in page.content()
        # Back: the case page is not in the history any more, or no longer opens.
        page.go_back()
        page.wait_for_load_state()
        assert page.url != base + "/case"
        assert "pics.example" not in page.content()
        page.goto(base + "/case")
        assert page.url == base + "/case/follow"
    finally:
        context.close()


def test_keyboard_only(browser, portal, axe_source):
    app, base = portal
    reference, secret = _seed_case(app)
    context = browser.new_context(viewport={"width": 320, "height": 720})
    page = context.new_page()
    try:
        page.goto(base + "/case/follow")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        focused = []
        for _ in range(12):
            page.keyboard.press("Tab")
            focused.append(page.evaluate("document.activeElement.id || "
                                         "document.activeElement.textContent.trim()"))
            if focused[-1] == "reference":
                break
        assert "leave-site" in focused and focused[-1] == "reference"
        page.keyboard.type(reference)
        page.keyboard.press("Tab")
        page.keyboard.type(secret)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/case")
        # The focus is visible: the focused element draws an outline.
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", "")
    finally:
        context.close()


def test_wrong_and_locked_pages_are_accessible(browser, sqlite_url, tmp_path, axe_source):
    app = make_test_app(sqlite_url, tmp_path, VICTIM_CLIENT_ATTEMPTS=2)
    with serve(app) as base:
        context = browser.new_context(viewport={"width": 320, "height": 720})
        page = context.new_page()
        watcher = Watcher(page, base, axe_source)
        try:
            for expected in ("follow-error", "follow-error", "follow-error"):
                page.goto(base + "/case/follow")
                page.fill("#reference", "DSR-AAAA-BBBB")
                page.fill("#secret", "nope")
                page.press("#secret", "Enter")
                page.wait_for_selector("#" + expected)
                watcher.check_page()
            assert "Too many attempts" in page.inner_text("#follow-error")
            watcher.assert_only_own_origin()
        finally:
            context.close()
    app.extensions["disrupt.db"].dispose()
