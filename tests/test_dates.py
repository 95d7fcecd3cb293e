"""Every date a person reads (issue 14): in the organisation's one time zone, with the zone's
abbreviation, in the reader's language's format, the same on the portal and the console."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from disrupt.accounts.services import create_user, record_audit
from disrupt.cases.models import Case, Message
from disrupt.dates import format_moment
from disrupt.db import utcnow
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import add_platform
from tests.support.apps import make_test_app
from tests.support.web import login, post_form
from tests.victims.test_portal import follow, open_case

PASSWORD = "correct horse 42"
WINTER = datetime(2026, 1, 15, 9, 5, tzinfo=UTC)
SUMMER = datetime(2026, 7, 15, 9, 5, 31, tzinfo=UTC)
NNBSP = "\u202f"  # CLDR's narrow no-break space before AM/PM

# What a reader sees of WINTER (long: a sentence on the portal; short: the console) and of
# SUMMER with seconds (the audit log).
SEEN = {
    ("Europe/Paris", "en"): {
        "long": f"January 15, 2026, 10:05{NNBSP}AM CET (Central European Time)",
        "short": f"Jan 15, 2026, 10:05{NNBSP}AM CET",
        "seconds": f"Jul 15, 2026, 11:05:31{NNBSP}AM CEST"},
    ("Europe/Paris", "fr"): {
        "long": "15 janvier 2026 à 10:05 CET (heure d’Europe centrale)",
        "short": "15 janv. 2026, 10:05 CET",
        "seconds": "15 juil. 2026, 11:05:31 CEST"},
    ("America/New_York", "en"): {
        "long": f"January 15, 2026, 4:05{NNBSP}AM EST (Eastern Time)",
        "short": f"Jan 15, 2026, 4:05{NNBSP}AM EST",
        "seconds": f"Jul 15, 2026, 5:05:31{NNBSP}AM EDT"},
    ("America/New_York", "fr"): {
        "long": "15 janvier 2026 à 04:05 EST (heure de l’Est nord-américain)",
        "short": "15 janv. 2026, 04:05 EST",
        "seconds": "15 juil. 2026, 05:05:31 EDT"},
}
ZONES = ("Europe/Paris", "America/New_York")


def _setup(database_url, tmp_path, zone):
    """A case opened on the portal, with a victim's message, a check, a removal request and
    an audit entry at known instants."""
    app = make_test_app(database_url, tmp_path, ORGANISATION_TIMEZONE=zone)
    db = app.extensions["disrupt.db"]
    victim = app.test_client()
    reference, secret = open_case(victim)
    assert follow(victim, reference, secret).status_code == 302
    post_form(victim, "/case/messages", {"body": "Is there any news?"}, token_from="/case")
    with db.session() as session:
        create_user(session, email="admin@hotline.example", name="Admin", password=PASSWORD,
                    role="admin", now=utcnow())
        platform = add_platform(session, name="PicShare", domains=["pics.example"],
                                channel="email", contact="abuse@pics.example")
        case = session.scalar(select(Case).where(Case.reference == reference))
        case.created_at = WINTER
        for url in case.urls:
            url.last_checked_at = WINTER
        message = session.scalar(select(Message).where(Message.case_id == case.id))
        message.created_at = WINTER
        request = RemovalRequest(
            case_id=case.id, platform_id=platform.id, legal_basis="dsa_art16", language="en",
            channel="email", recipient="abuse@pics.example", subject="Notice", body="Notice",
            idempotency_key=f"dates-{case.id}", status="sent", created_at=WINTER,
            sent_at=WINTER, deadline_at=WINTER + timedelta(days=2))
        session.add(request)
        record_audit(session, action="dates.test", now=SUMMER, actor_kind="system",
                     case_id=case.id)
        session.commit()
        ids = {"case": case.id, "request": request.id}
    staff = app.test_client()
    login(staff, "admin@hotline.example", PASSWORD)
    return app, victim, staff, ids


def _text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize("zone", ZONES)
def test_portal_and_console_show_the_same_instant_in_the_organisations_zone(
        database_url, tmp_path, zone):
    app, victim, staff, ids = _setup(database_url, tmp_path, zone)
    other = next(z for z in ZONES if z != zone)
    try:
        for lang in ("en", "fr"):
            seen, elsewhere = SEEN[(zone, lang)], SEEN[(other, lang)]
            headers = {"Accept-Language": lang}
            portal = _text(victim.get("/case", headers=headers))
            # The victim's message and the URLs' last check, in a sentence.
            assert portal.count(seen["long"]) >= 2, (lang, re.findall(r"2026[^<]{0,60}",
                                                                       portal))
            assert elsewhere["long"] not in portal
            case_page = _text(staff.get(f"/console/cases/{ids['case']}", headers=headers))
            assert f"<dt>Opened</dt><dd>{seen['short']}</dd>" in case_page
            assert f"{seen['short']}</time>" in case_page  # the victim's message
            assert elsewhere["short"] not in case_page and " UTC" not in case_page
            request_page = _text(staff.get(f"/console/requests/{ids['request']}",
                                           headers=headers))
            assert f"<dt>Created</dt><dd>{seen['short']}</dd>" in request_page
            assert f"<dt>Sent</dt><dd>{seen['short']} (attempts" in request_page
            assert elsewhere["short"] not in request_page
            audit = _text(staff.get("/console/audit", headers=headers))
            assert f"<td>{seen['seconds']}</td>" in audit
            assert elsewhere["seconds"] not in audit
    finally:
        app.extensions["disrupt.db"].dispose()


@pytest.mark.parametrize("zone", ZONES)
def test_referral_summary_dates_in_the_cases_language_and_the_organisations_zone(
        database_url, tmp_path, zone):
    app, _victim, staff, ids = _setup(database_url, tmp_path, zone)
    try:
        for lang, label in (("fr", "Signalé à notre organisme le\u00a0: "),
                            ("en", "Reported to us: ")):
            page = _text(staff.get(f"/console/cases/{ids['case']}/referral",
                                   query_string={"recipient": "hotline", "language": lang},
                                   headers={"Accept-Language": "en"}))
            assert label + SEEN[(zone, lang)]["long"] in page
            assert "UTC" not in page
    finally:
        app.extensions["disrupt.db"].dispose()


def test_format_moment_forms_and_edges():
    paris = ZoneInfo("Europe/Paris")
    assert format_moment(None, zone=paris, language="en") == ""
    # A naive datetime or an ISO string (JSON, the dashboard) is UTC.
    naive = WINTER.replace(tzinfo=None)
    assert format_moment(naive, zone=paris, language="fr", form="short") == \
        SEEN[("Europe/Paris", "fr")]["short"]
    assert format_moment(WINTER.isoformat(), zone=paris, language="en", form="short") == \
        SEEN[("Europe/Paris", "en")]["short"]
    assert format_moment(WINTER, zone=paris, language="fr", form="day") == "15 janvier 2026"
    # The date follows the zone: 23:30 UTC is the next day in Paris.
    late = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)
    assert format_moment(late, zone=paris, language="en", form="day") == "January 16, 2026"
    assert format_moment(late, zone=ZoneInfo("America/New_York"), language="en",
                         form="day") == "January 15, 2026"
    # Zones without a CLDR name or an abbreviation still say which they are.
    assert format_moment(WINTER, zone=UTC, language="en") == \
        f"January 15, 2026, 9:05{NNBSP}AM UTC (Coordinated Universal Time)"
    assert format_moment(WINTER, zone=ZoneInfo("Europe/Istanbul"), language="en",
                         form="short") == f"Jan 15, 2026, 12:05{NNBSP}PM UTC+03"
    # An unknown language falls back to English rather than failing the page.
    assert format_moment(WINTER, zone=paris, language="xx", form="short") == \
        SEEN[("Europe/Paris", "en")]["short"]
