"""Issue 14 in headless Chromium on a 390 px phone: Shift only leaves when tapped alone, "Leave
this site" stays on screen on every page, the picker names why a file failed, errors sit by
their question and go when answered, and the victim's whole journey in EN and FR (axe-core)."""
from __future__ import annotations

import pytest

from tests.victims import test_portal_browser
from tests.victims.test_portal_browser import (
    NEUTRAL,
    Watcher,
    _open_case_page,
    _photo,
    _seed_case,
)

pytestmark = pytest.mark.browser

# The portal served over HTTP and axe-core: the same fixtures as the portal's browser tests.
portal = test_portal_browser.portal
axe_source = test_portal_browser.axe_source

PHONE = {"width": 390, "height": 844}
SHIFTED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ!?:\"")


def _type_as_a_person(page, text: str) -> None:
    """Each capital with Shift held, as on a real keyboard (keyboard.type presses no Shift)."""
    for char in text:
        if char in SHIFTED:
            page.keyboard.down("Shift")
            page.keyboard.press(char)
            page.keyboard.up("Shift")
        else:
            page.keyboard.press(char if char != " " else "Space")


def _phone(browser):
    context = browser.new_context(viewport=PHONE, service_workers="block", has_touch=True)
    context.route(NEUTRAL + "**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<title>Neutral</title><p>neutral page</p>"))
    return context


def _leave_button_reachable(page) -> None:
    """At the bottom of the page, the button is in the viewport and nothing covers it."""
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(50)
    box = page.locator("#leave-site").bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], (page.url, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (page.url, box)
    on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('#leave-site')"
                           " !== null", [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert on_top, page.url
    # The header is in the flow: at the top, it does not cover the page's first heading.
    page.evaluate("window.scrollTo(0, 0)")
    header = page.locator(".portal-header").bounding_box()
    heading = page.locator("main h1").bounding_box()
    assert heading["y"] >= header["y"] + header["height"], page.url


def test_shift_for_capitals_never_leaves_but_three_lone_taps_do(browser, portal):
    app, base = portal
    reference, secret = _seed_case(app)
    context = _phone(browser)
    page = context.new_page()
    try:
        page.goto(base + "/case/follow")
        page.click("#reference")
        _type_as_a_person(page, reference)  # DSR-…: three capitals in a row, with Shift
        page.click("#secret")
        _type_as_a_person(page, secret.upper())
        assert page.url == base + "/case/follow"
        assert page.input_value("#reference") == reference
        page.press("#secret", "Enter")
        page.wait_for_url(base + "/case")

        page.click("#body")
        _type_as_a_person(page, "Hi, I Am OK. DSR AB CD?")
        # Two lone taps, then a letter, then one tap: not three lone taps in a row.
        page.keyboard.press("Shift")
        page.keyboard.press("Shift")
        page.keyboard.press("x")
        page.keyboard.press("Shift")
        page.wait_for_timeout(300)
        assert page.url == base + "/case"
        assert page.input_value("#body") == "Hi, I Am OK. DSR AB CD?x"

        with page.expect_request(base + "/case/leave"):
            for _ in range(3):
                page.keyboard.press("Shift")
            page.wait_for_url(NEUTRAL)
    finally:
        context.close()


def test_leave_this_site_stays_reachable_on_a_phone(browser, portal):
    app, base = portal
    reference, secret = _seed_case(app)
    context = _phone(browser)
    page = context.new_page()
    try:
        for path in ("/", "/case/new", "/case/follow", "/case/created"):
            page.goto(base + path)
            _leave_button_reachable(page)
        _open_case_page(page, base, reference, secret)
        for number in range(6):  # a long case page
            page.fill("#body", f"Message number {number}\n" * 8)
            page.get_by_role("button", name="Send the message").click()
            page.wait_for_url(base + "/case#messages")
        for path in ("/case", "/case/withdraw", "/case/erase"):
            page.goto(base + path)
            _leave_button_reachable(page)
        page.goto(base + "/case")
        assert page.evaluate("document.documentElement.scrollHeight") > 4 * PHONE["height"]
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        with page.expect_request(base + "/case/leave"):
            page.locator("#leave-site").click()
            page.wait_for_url(NEUTRAL)
    finally:
        context.close()


def test_failed_files_say_why_and_can_be_removed(browser, portal, tmp_path):
    _, base = portal
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
    renamed = tmp_path / "beach.jpg"
    renamed.write_bytes(b"This is a note, not a photo.\n" * 20)
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"Shopping list\n" * 20)
    photo = _photo(tmp_path / "holiday.jpg", 3)
    context = _phone(browser)
    page = context.new_page()
    try:
        page.goto(base + "/case/new")
        page.set_input_files("#file-picker", [str(p) for p in (pdf, renamed, notes, photo)])
        page.wait_for_function("() => document.querySelectorAll('#hash-list li').length === 4"
                               " && !document.querySelector('#case-form button[type=submit]')"
                               ".disabled", timeout=60_000)
        rows = page.locator("#hash-list li")
        assert "PDF document" in rows.nth(0).inner_text()
        assert "says it is a picture or a video, but its content is not" in \
            rows.nth(1).inner_text()
        assert "not a picture or a video" in rows.nth(2).inner_text()
        assert "Fingerprint ready" in rows.nth(3).inner_text()
        status = page.inner_text("#hash-status")
        assert "Getting ready" not in status
        assert "Fingerprints ready: 1." in status and "Files without a fingerprint: 3." in status

        rows.nth(0).get_by_role("button", name="Remove").click()
        assert page.locator("#hash-list li").count() == 3
        assert "Files without a fingerprint: 2." in page.inner_text("#hash-status")

        # The server refuses the answers (none given): the fingerprint stays in the list, and
        # each error sits above its question, linked to it, until the answer changes.
        page.locator("#hash-list li").last.get_by_label(
            "Short name to recognise it (optional)").fill("beach day")
        page.get_by_role("button", name="Open my case").click()
        page.wait_for_selector("#error-summary")
        page.wait_for_selector("#hash-list li", timeout=10_000)
        assert page.locator("#hash-list li").count() == 1
        assert page.locator("#hash-list li input").input_value() == "beach day"
        assert page.inner_text("#hash-status") == "Fingerprints ready: 1."
        error = page.locator("#reporter-error")
        assert error.is_visible()
        fieldset = page.locator("fieldset:has(#reporter-0)")
        assert "reporter-error" in fieldset.get_attribute("aria-describedby")
        assert error.bounding_box()["y"] < page.locator("#reporter-0").bounding_box()["y"]
        page.check("#reporter-0")
        assert page.locator("#reporter-error").count() == 0
        assert "reporter-error" not in (fieldset.get_attribute("aria-describedby") or "")
        assert page.locator("#consent_notices-error").count() == 1  # until answered
        page.check("#consent_notices")
        assert page.locator("#consent_notices-error").count() == 0
        assert page.get_attribute("#consent_notices", "aria-invalid") is None

        # The fingerprints (a hidden field) could not be read: their error goes as soon as
        # files are picked again, like any other answer's.
        page.evaluate("() => { document.getElementById('hashes').value = 'not a list';"
                      " document.getElementById('case-form').submit(); }")
        page.wait_for_selector("#hashes-error")
        assert "could not be read" in page.inner_text("#hashes-error")
        page.wait_for_load_state("load")  # the page's scripts listen before a file is picked
        page.set_input_files("#file-picker", [str(photo)])
        page.wait_for_function("() => !document.querySelector('#hashes-error')",
                               timeout=10_000)
        page.wait_for_function("() => document.getElementById('hashes').value.startsWith('[')",
                               timeout=60_000)
        assert "Fingerprints ready: 1." in page.inner_text("#hash-status")
    finally:
        context.close()


JOURNEY = {
    "en": {"open": "Open a case", "submit": "Open my case", "follow": "Follow my case",
           "add_urls": "Add these addresses", "send": "Send the message",
           "withdraw": "Withdraw my case", "withdraw_yes": "Yes, withdraw my case",
           "final": "Withdrawing is final", "withdrawn": "You withdrew this case",
           "ready": "Fingerprints ready: 1.", "run_by": "This service is run by",
           "zone": "Central European Time"},
    "fr": {"open": "Ouvrir un dossier", "submit": "Ouvrir mon dossier",
           "follow": "Suivre mon dossier", "add_urls": "Ajouter ces adresses",
           "send": "Envoyer le message", "withdraw": "Retirer mon dossier",
           "withdraw_yes": "Oui, retirer mon dossier", "final": "Le retrait est définitif",
           "withdrawn": "Vous avez retiré ce dossier", "ready": "Empreintes prêtes\u00a0: 1.",
           "run_by": "Ce service est assuré par", "zone": "heure d’Europe centrale"},
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_victim_journey_on_a_phone(browser, portal, axe_source, tmp_path, lang):
    app, base = portal
    words = JOURNEY[lang]
    organisation = app.config["ORGANISATION_NAME"]
    photo = _photo(tmp_path / "holiday.jpg", 1)
    context = _phone(browser)
    page = context.new_page()
    watcher = Watcher(page, base, axe_source)

    def check() -> None:
        watcher.check_page()
        _leave_button_reachable(page)

    try:
        page.goto(base + "/")
        if lang == "fr":
            page.get_by_role("button", name="Français").click()
            page.wait_for_load_state()
        check()
        page.get_by_role("link", name=words["open"]).first.click()
        page.wait_for_url(base + "/case/new")
        assert words["run_by"] + " " + organisation in page.inner_text("#run-by")
        assert organisation in page.inner_text("label:has(#consent_notices)")
        check()
        page.check("#reporter-0")
        page.check("#intimate-0")
        page.check("#age_group-0")
        page.set_input_files("#file-picker", [str(photo)])
        page.wait_for_function(
            "(ready) => document.getElementById('hash-status').textContent.trim() === ready",
            arg=words["ready"], timeout=60_000)
        page.fill("#urls", "pics.example/p/1")
        page.check("#consent_notices")
        page.get_by_role("button", name=words["submit"]).click()
        page.wait_for_selector("#case-reference")
        check()
        reference = page.inner_text("#case-reference").strip()
        secret = page.inner_text("#case-secret").strip()
        assert page.inner_text("#case-organisation").strip() == organisation
        assert page.inner_text("#case-address").strip() == base + "/case/follow"
        saved = page.get_attribute("#save-credentials", "data-text")
        assert organisation in saved and base + "/case/follow" in saved

        page.get_by_role("link", name=words["follow"]).last.click()
        page.wait_for_url(base + "/case/follow")
        check()
        page.click("#reference")
        _type_as_a_person(page, reference)
        page.click("#secret")
        _type_as_a_person(page, secret)
        page.keyboard.press("Enter")
        page.wait_for_url(base + "/case")
        assert "https://pics.example/p/1" in page.inner_text("#url-list")
        assert page.locator("#hash-rows li").count() == 1
        check()

        page.fill("#urls", "more.example/found-again")
        page.get_by_role("button", name=words["add_urls"]).click()
        page.wait_for_url(base + "/case#addresses")
        assert "https://more.example/found-again" in page.inner_text("#url-list")

        page.click("#body")
        _type_as_a_person(page, "Hi, I Am here. Thank You")
        page.get_by_role("button", name=words["send"]).click()
        page.wait_for_url(base + "/case#messages")
        thread = page.inner_text("#message-list")
        assert "Hi, I Am here. Thank You" in thread and words["zone"] in thread
        check()

        page.get_by_role("link", name=words["withdraw"]).click()
        page.wait_for_url(base + "/case/withdraw")
        assert words["final"] in page.inner_text("#withdraw-final")
        check()
        page.check("#confirm")
        page.get_by_role("button", name=words["withdraw_yes"]).click()
        page.wait_for_url(base + "/case")
        assert words["withdrawn"] in page.inner_text("main")
        check()
        watcher.assert_only_own_origin()
        assert not watcher.console_errors, watcher.console_errors
    finally:
        context.close()
