"""The dashboard page, its CSV and JSON exports and `disrupt stats` say the same; the charts
render for empty data, one point and many; the transparency report has no personal data."""
from __future__ import annotations

import csv
import html as html_lib
import io
import json
import re
from datetime import date

import pytest
from click.testing import CliRunner

from disrupt.accounts.services import create_user
from disrupt.cli import cli
from disrupt.dashboard import charts
from disrupt.dashboard.jobs import fold_changed_urls
from disrupt.dashboard.tables import TABLE_IDS, raw_value
from disrupt.db import utcnow
from tests.dashboard import fixture
from tests.support.web import login

PASSWORD = "correct horse 42"


def _console_client(app, db):
    with db.session() as session:
        fixture.build(session)
        create_user(session, email="cw@example.org", name="Casey", password=PASSWORD,
                    role="caseworker", now=utcnow())
        session.commit()
    client = app.test_client()
    login(client, "cw@example.org", PASSWORD)
    return client


@pytest.fixture
def console(app, db):
    client = _console_client(app, db)
    fold_changed_urls(db, app.config)  # the worker's job: pages only read
    return client


def test_pages_only_read_what_the_worker_folded(app, db):
    client = _console_client(app, db)
    query = "?period=custom&since=2025-12-01&until=2026-02-01"
    before = client.get(f"/console/dashboard/stats.json{query}").get_json()
    assert before["pending_changes"] > 0 and before["overall"]["urls_notified"] == 0
    html = client.get(f"/console/dashboard/{query}").get_data(as_text=True)
    assert f"{before['pending_changes']} recent changes are not counted yet" in html
    again = client.get(f"/console/dashboard/stats.json{query}").get_json()
    assert {**again, "generated_at": None} == {**before, "generated_at": None}
    assert fold_changed_urls(db, app.config) == before["pending_changes"]
    after = client.get(f"/console/dashboard/stats.json{query}").get_json()
    assert after["pending_changes"] == 0 and after["overall"]["removed"] == 3


def page_tables(html: str) -> dict[str, list[dict[str, str]]]:
    """Every stat table of the page as rows of data-key -> data-value."""
    tables = {}
    for table_id, body in re.findall(r'<table class="table stat-table" id="table-([a-z_]+)">'
                                     r'(.*?)</table>', html, flags=re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], flags=re.S):
            cells = re.findall(r'data-key="([^"]+)" data-value="([^"]*)"', row)
            if cells:
                rows.append({key: html_lib.unescape(value) for key, value in cells})
        tables[table_id] = rows
    return tables


def test_page_csv_and_json_agree(console, app):
    query = "?period=custom&since=2025-12-01&until=2026-02-01&by=week"
    response = console.get(f"/console/dashboard/{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ' style="' not in html and "<script>" not in html
    shown = page_tables(html)
    assert set(shown) == set(TABLE_IDS)
    assert shown["overall"][0]["takedown_rate"] == "0.5"
    assert '<strong id="takedown-rate">50.0 %</strong>' in html
    full = console.get(f"/console/dashboard/stats.json{query}").get_json()
    assert full["overall"]["removed"] == 3 and full["pending_changes"] == 0
    for table_id in TABLE_IDS:
        exported = console.get(f"/console/dashboard/export/{table_id}.json{query}").get_json()
        as_csv = console.get(f"/console/dashboard/export/{table_id}.csv{query}")
        assert as_csv.mimetype == "text/csv"
        csv_rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
        json_rows = [{k: raw_value(v) for k, v in row.items()} for row in exported["rows"]]
        assert csv_rows == json_rows, table_id
        if table_id == "platforms":  # the page folds platforms without a notified URL
            active = [row for row in csv_rows if row["urls_notified"] != "0"]
            assert shown[table_id] == active and len(active) < len(csv_rows)
            idle = re.search(r'<p id="idle-platforms">(.*?)</p>', html).group(1).split(", ")
            assert idle == [row["platform"] for row in csv_rows if row["urls_notified"] == "0"]
        else:
            assert csv_rows == shown[table_id], table_id
        # The fixture has no hash feedback (tests/platforms/exchange covers that table).
        assert len(csv_rows) > 0 or table_id in ("overdue_requests", "hash_exchange",
                                                 "referrals")
    # the tables carry the same values as the full JSON
    assert exported["table"] == TABLE_IDS[-1]
    platforms = {r["platform"]: r for r in shown["platforms"]}
    json_platforms = {r["platform"]: r for r in full["platforms"]}
    for name in ("PicShare", "ClipHub"):
        assert platforms[name]["takedown_rate"] == raw_value(json_platforms[name]["takedown_rate"])
    assert "Nowhere" not in platforms and json_platforms["Nowhere"]["urls_notified"] == 0
    # legal bases and grouped figures in words on the page, codes in the exports
    assert "EU Digital Services Act, art. 16" in html and ">dsa_art16<" not in html
    assert [r["period"] for r in shown["trend"]] == ["2026-W01", "2026-W02"]


def test_bad_selection_is_explained_and_kept(console):
    response = console.get("/console/dashboard/?period=custom&since=2026-02-01&until=2026-01-01")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "The end date must come after the start date." in html
    assert 'value="2026-02-01"' in html
    assert console.get("/console/dashboard/export/nothing.csv").status_code == 404


def test_dashboard_needs_a_login(client):
    assert client.get("/console/dashboard/").status_code == 302
    assert client.get("/console/dashboard/export/overall.csv").status_code == 302


def test_transparency_report_page_and_json(console):
    page = console.get("/console/dashboard/report/2026")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # 2026 cohort: 8 URLs, removed u3 u5, online u6 u7 -> 50.0 %
    assert '<strong id="report-rate">50.0 %</strong>' in html
    for personal in ("TEST-A", "picshare.test/u", "abuse@", "erased:"):
        assert personal not in html
    figures = console.get("/console/dashboard/report/2026.json").get_json()
    # requests sent in 2026: r2 r3 r4 r5, follow-ups r6 (u2) and u7's second, r7 r8 = 8
    assert figures["notices_total"] == 8
    notices = {(r["platform"], r["legal_basis"]): (r["notices"], r["urls"])
               for r in figures["notices"]}
    # PicShare dsa_art16: r5 (u7), r7 (u10 u12); take_it_down: u2's and u7's follow-ups
    assert notices[("PicShare", "dsa_art16")] == (2, 3)
    assert notices[("PicShare", "take_it_down")] == (2, 2)
    assert notices[("ClipHub", "take_it_down")] == (1, 2)
    assert figures["platforms_without_notice"] == ["Nowhere"]
    assert "TEST-" not in json.dumps(figures)


def test_stats_and_report_commands(app, db, database_url, tmp_path):
    with db.session() as session:
        fixture.build(session)
        session.commit()
    env = {"DISRUPT_DATABASE_URL": database_url,
           "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")}
    result = CliRunner().invoke(cli, ["stats", "--json", "--since", "2026-01-01",
                                      "--platform", "PicShare", "--by", "week"], env=env)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    # PicShare in 2026: u5 (removed), u7 (online), u10 (pending), u12 (restricted)
    assert (figures["overall"]["urls_notified"], figures["overall"]["takedown_rate"]) == (4, 0.5)
    assert figures["scope"] == {"since": "2026-01-01", "until": None,
                                "platform_id": figures["platforms"][0]["platform_id"],
                                "by": "week"}
    bad = CliRunner().invoke(cli, ["stats", "--json", "--since", "2026-02-01", "--until",
                                   "2026-01-01"], env=env)
    assert bad.exit_code == 1 and "--until must come after --since" in bad.output
    out = tmp_path / "report-2025.html"
    result = CliRunner().invoke(cli, ["report", "--year", "2025", "--output", str(out)], env=env)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "<style>" in html and "Transparency report 2025" in html
    assert '<strong id="report-rate">50.0 %</strong>' in html  # u1 removed, u2 online
    as_json = CliRunner().invoke(cli, ["report", "--year", "2025", "--json"], env=env)
    assert json.loads(as_json.output)["overall"]["urls_notified"] == 2


@pytest.mark.parametrize("count", [0, 1, 40])
def test_charts_render_for_empty_one_and_many_points(count):
    points = [(f"2026-W{i:02d}", None if i == 3 else i / max(1, count)) for i in range(count)]
    line = str(charts.line_chart("t", "Trend <rate>", points))
    bars = str(charts.bar_chart("b", "Bars", [(label, v) for label, v in points]))
    for svg in (line, bars):
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert "style=" not in svg and "<script" not in svg
        assert 'role="img"' in svg and "&lt;rate&gt;" in line
    if count == 0:
        assert "No data for this selection yet." in line and "<polyline" not in line
    elif count == 1:
        assert line.count("<circle") == 1 and "<polyline" not in line
    else:
        assert line.count("<circle") == count - 1  # one period without a figure
        assert line.count("<polyline") == 2  # the gap breaks the line in two
        assert bars.count("<text") == 2 * count


def test_trend_of_one_day_selection(app, db):
    from disrupt.dashboard.services import resolve_period

    assert resolve_period("week", date(2026, 1, 1)) == (date(2025, 12, 29), date(2026, 1, 5))
    assert resolve_period("month", date(2025, 12, 31)) == (date(2025, 12, 1), date(2026, 1, 1))
    assert resolve_period("year", date(2026, 6, 1)) == (date(2026, 1, 1), date(2027, 1, 1))
    assert resolve_period(None, date(2026, 6, 1), date(2026, 1, 1), None) == \
        (date(2026, 1, 1), None)


def test_transparency_report_in_french_and_english(console, app, db, database_url, tmp_path):
    english = console.get("/console/dashboard/report/2026").get_data(as_text=True)
    french = console.get("/console/dashboard/report/2026?lang=fr").get_data(as_text=True)
    assert "Transparency report 2026" in english and "Rapport de transparence 2026" in french
    assert '<html lang="fr"' in french
    # every heading of the English report is translated, and the figures are the same
    headings = re.findall(r"<h2>(.*?)</h2>", english)
    assert len(headings) >= 8 and not set(headings) & set(re.findall(r"<h2>(.*?)</h2>", french))
    assert '<strong id="report-rate">50.0 %</strong>' in french
    assert "Règlement européen sur les services numériques (DSA), art. 16" in french
    assert "Taux de retrait\u00a0:" in french and "Taux de retrait :" not in french
    assert console.get("/console/dashboard/report/2026?lang=de").status_code == 404
    env = {"DISRUPT_DATABASE_URL": database_url,
           "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")}
    out = tmp_path / "rapport.html"
    result = CliRunner().invoke(cli, ["report", "--year", "2026", "--language", "fr",
                                      "--output", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "Rapport de transparence 2026" in out.read_text()


def test_trusted_flagger_section_of_the_report(console, app):
    """DSA art. 22(3): notices by provider, by type of illegal content and action taken,
    and the statement of independence and procedures, in both languages."""
    figures = console.get("/console/dashboard/report/2026.json").get_json()
    rows = {r["platform"]: r for r in figures["trusted_flagger"]}
    assert sum(r["notices"] for r in rows.values()) == figures["notices_total"] == 8
    for row in rows.values():
        assert row["ncii"] + row["csam"] == row["notices"]
        assert (row["actioned"] + row["rejected"] + row["acknowledged"] + row["awaiting"]
                == row["notices"])
    assert rows["ClipHub"]["csam"] >= 1  # case B is a minor's (fixture)
    english = console.get("/console/dashboard/report/2026").get_data(as_text=True)
    assert "Notices to providers (DSA art. 22(3))" in english
    assert "Independence and procedures" in english and "DISRUPT demo hotline" in english
    french = console.get("/console/dashboard/report/2026?lang=fr").get_data(as_text=True)
    assert "Notifications aux fournisseurs (DSA, art. 22(3))" in french
    assert "Indépendance et procédures" in french
