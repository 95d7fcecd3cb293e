"""Malformed query strings on the console's read pages answer 400 with a message, never 500
(issue 20 row 6: dashboard period and audit filters)."""
from __future__ import annotations

import pytest

from tests.support.staff import staff_client

DASHBOARD = [
    "/console/dashboard/stats.json?at=9999-12-31&period=week",
    "/console/dashboard/stats.json?at=0001-01-01&period=month",
    "/console/dashboard/stats.json?period=custom&since=9999-12-31",
    "/console/dashboard/stats.json?period=custom&until=0001-01-01",
    "/console/dashboard/stats.json?at=2026-02-30",
]
AUDIT = [
    "/console/audit?until=9999-12-31",
    "/console/audit?since=0001-01-01",
    "/console/audit?case_id=99999999999999999999",
    "/console/audit?record_id=-1",
]


@pytest.mark.parametrize("path", DASHBOARD)
def test_dashboard_selection_out_of_range_is_400_with_a_message(app, path):
    client = staff_client(app, "cw@example.org")
    answer = client.get(path)
    assert answer.status_code == 400, path
    assert answer.get_json()["errors"], path
    page = client.get(path.replace("stats.json", ""))
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Choose a day between" in text or "Not a valid date" in text


@pytest.mark.parametrize("path", AUDIT)
def test_audit_filter_out_of_range_is_400_with_a_message(app, path):
    supervisor = staff_client(app, "sup@example.org", "supervisor")
    page = supervisor.get(path)
    assert page.status_code == 400, path
    text = page.get_data(as_text=True)
    assert "Choose a day between" in text or "Give a number from 1" in text
    export = supervisor.get(path.replace("/console/audit", "/console/audit.csv"))
    assert export.status_code == 400 and export.get_data(as_text=True).startswith(
        "Nothing exported:")


def test_a_far_day_inside_the_range_still_works(app):
    client = staff_client(app, "cw@example.org")
    assert client.get("/console/dashboard/stats.json?at=2100-12-31&period=week").status_code \
        == 200
