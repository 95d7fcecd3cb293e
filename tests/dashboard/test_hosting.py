"""Takedown by hosting country and host type (issue 16), from the traced hosts: in the annual
report, its JSON and both languages."""
from __future__ import annotations

from datetime import date

from disrupt.dashboard.hosting import hosting_figures
from disrupt.db import utcnow
from disrupt.tracing.models import HostTrace
from tests.dashboard import fixture
from tests.dashboard.test_pages import console  # noqa: F401  (fixture)


def _traces(session) -> None:
    now = utcnow()
    for host, country, cdn in (("picshare.test", "NL", None), ("cliphub.test", "US",
                                                                  "Cloudflare")):
        session.add(HostTrace(host=host, origin=f"https://{host}", status="ok",
                              addresses=["192.0.2.1"], network={"country": country},
                              cdn=cdn, evidence=[], problems=[], traced_at=now,
                              next_trace_at=now))


def _built_and_folded(db) -> None:
    from disrupt.dashboard.jobs import fold_changed_urls

    with db.session() as session:
        fixture.build(session)
        _traces(session)
        session.commit()
    fold_changed_urls(db, {"REMOVAL_CONFIRM_SECONDS": 3600, "TIME_SCALE": 1.0})


def test_hosting_figures_by_country_and_type(db):
    _built_and_folded(db)
    with db.session() as session:
        figures = hosting_figures(session, since=date(2025, 1, 1), until=date(2027, 1, 1))
    countries = {row["key"]: row for row in figures["country"]}
    assert set(countries) <= {"NL", "US", "unknown"} and {"NL", "US"} <= set(countries)
    total = sum(row["urls_notified"] for row in figures["country"])
    assert total == sum(row["urls_notified"] for row in figures["host_type"])
    # every URL of the fixture that was notified sits on a registered platform
    assert {row["key"] for row in figures["host_type"]} == {"platform"}
    for row in figures["country"]:
        known = row["removed"] + row["online"]
        assert row["takedown_rate"] == (row["removed"] / known if known else None)


def test_hosting_tables_in_the_report(console, db):  # noqa: F811
    with db.session() as session:
        _traces(session)
        session.commit()
    report = console.get("/console/dashboard/report/2026.json").get_json()
    assert {row["key"] for row in report["hosting"]["country"]} >= {"NL", "US"}
    french = console.get("/console/dashboard/report/2026?lang=fr").get_data(as_text=True)
    assert "Où les contenus étaient hébergés" in french and "une plateforme connue" in french


def test_a_url_only_delisted_counts_apart_never_as_removed(db):
    """Issue 16: hidden from search results is not removed; the report counts it apart."""
    from sqlalchemy import select

    from disrupt.cases.models import ReportedURL
    from disrupt.platforms.models import EscalationStep

    _built_and_folded(db)
    year = dict(since=date(2025, 1, 1), until=date(2027, 1, 1))
    with db.session() as session:
        before = {row["key"]: row for row in hosting_figures(session, **year)["country"]}
        u2 = session.scalar(select(ReportedURL).where(ReportedURL.url.endswith("/u2")))
        assert u2.state == "online"
        now = utcnow()
        for rung, status in (("google", "accepted"), ("bing", "refused")):
            session.add(EscalationStep(case_id=u2.case_id, reported_url_id=u2.id, rung=rung,
                                       status=status, recipient=rung, language="en",
                                       reference=f"R-{rung}", created_at=now,
                                       submitted_at=now, outcome_at=now))
        session.commit()
        after = {row["key"]: row for row in hosting_figures(session, **year)["country"]}
    assert before["NL"]["delisted_only"] == 0
    assert after["NL"]["delisted_only"] == 1
    assert after["NL"]["removed"] == before["NL"]["removed"]
    assert after["NL"]["takedown_rate"] == before["NL"]["takedown_rate"]


def test_the_dashboard_shows_country_and_host_type(console, db):  # noqa: F811
    with db.session() as session:
        _traces(session)
        session.commit()
    page = console.get("/console/dashboard/?period=all").get_data(as_text=True)
    section = page.split('id="hosting-title"', 1)[1].split("</section>", 1)[0]
    by_country = section.split('id="hosting-country"', 1)[1].split("</table>", 1)[0]
    by_type = section.split('id="hosting-host_type"', 1)[1].split("</table>", 1)[0]
    assert '<th scope="row">NL</th>' in by_country and '<th scope="row">US</th>' in by_country
    assert '<th scope="row">a known platform</th>' in by_type
    assert "No URL notified" not in section
