"""The figures of the fixture dataset (tests/dashboard/fixture.py), computed by hand.

Per notified URL (first request; upper = first removed check - sent, lower = last online
check before it - sent, 0 if before sending):

    URL  first request        basis         state now          upper  lower  deadline  within
    u1   r1 12-31 22:00       dsa_art16     removed              3 h    0 h   +48 h     yes
    u2   r1 12-31 22:00       dsa_art16     online (overdue)       -      -   +48 h
    u3   r2 01-01 00:00       take_it_down  removed              5 h  0.5 h   +24 h     yes
    u4   r2 01-01 00:00       take_it_down  indeterminate          -      -
    u5   r3 01-03 12:00       lcen_art6     removed (erased)    74 h   26 h   +48 h     no
    u6   r4 01-02 10:00       dsa_art16     online (withdrawn, overdue)
    u7   r5 01-02 12:00       dsa_art16     online (reappeared,  8 h    0 h   +48 h     yes
                                            overdue)
    u10  r7 01-08 09:00       dsa_art16     pending
    u11  r8 01-09 10:00       dsa_art16     removal_suspected
    u12  r7 01-08 09:00       dsa_art16     restricted

u1: removed verdicts 01-01 01:00 and 02:00 (confirmed 1 h later): 01:00 - 12-31 22:00 = 3 h;
    last online 12-31 20:00 was before sending -> lower 0.
u3: removed 05:00 and 07:00 (an indeterminate between keeps the suspicion): 5 h - 0 h = 5 h;
    lower = online 00:30 -> 0.5 h.
u5: online 01-04 14:00, removed 01-06 14:00: upper 01-06 14:00 - 01-03 12:00 = 74 h,
    lower 01-04 14:00 - 01-03 12:00 = 26 h; deadline 48 h < 74 h.
u7: removed 01-02 20:00 (confirmed 22:00) = 8 h after 12:00, then online again 01-10: counted
    online and reappeared; its time to removal still counts.
"""
from __future__ import annotations

from datetime import date

import pytest

from disrupt.dashboard.fold import fold_statistics
from disrupt.dashboard.pending import count_pending
from disrupt.dashboard.reference import naive_statistics
from disrupt.dashboard.services import takedown_statistics
from tests.dashboard import fixture


def fold_all(session) -> None:
    while fold_statistics(session, confirm_after=fixture.CONFIRM, limit=3):
        pass


@pytest.fixture
def dataset(db):
    with db.session() as session:
        ids = fixture.build(session, fold=fold_all)
        fold_all(session)
        session.commit()
    return ids


def stats(db, **kwargs):
    with db.session() as session:
        return takedown_statistics(session, now=fixture.NOW, **kwargs)


def by(rows, key):
    return {row[key]: row for row in rows}


def test_overall_figures(db, dataset):
    overall = stats(db)["overall"]
    # Notified: u1 u2 u3 u4 u5 u6 u7 u10 u11 u12 = 10 (u8, u9 never notified)
    assert overall["urls_notified"] == 10
    # removed u1 u3 u5 = 3; online u2 u6 u7 = 3; rate = 3 / (3 + 3) = 0.5
    assert (overall["removed"], overall["online"]) == (3, 3)
    assert overall["takedown_rate"] == 0.5
    # beside the rate, never in it: u4 indeterminate, u12 restricted, u11 being confirmed,
    # u10 not checked yet; 3 + 3 + 1 + 1 + 1 + 1 = 10
    assert (overall["indeterminate"], overall["restricted"], overall["removal_suspected"],
            overall["pending"], overall["invalid"]) == (1, 1, 1, 1, 0)
    assert overall["reappeared"] == 1  # u7
    # timed: u1 3 h, u3 5 h, u5 74 h, u7 8 h; sorted 3, 5, 8, 74
    assert overall["timed"] == 4
    # median rank ceil(0.5 * 4) = 2 -> 5 h, bucket (4, 6] h; lower bounds 0, 0, 0.5, 26 -> 0
    assert (overall["median_hours_from"], overall["median_hours_to"]) == (0, 6)
    # p90 rank ceil(0.9 * 4) = 4 -> 74 h, bucket (72, 96]; lower 26 h, bucket (24, 36]
    assert (overall["p90_hours_from"], overall["p90_hours_to"]) == (24, 96)
    assert overall["mean_hours_upper"] == pytest.approx((3 + 5 + 8 + 74) / 4)  # 22.5
    # within deadline: u1 (3 <= 48), u3 (5 <= 24), u7 (8 <= 48); not u5 (74 > 48): 3 / 6
    assert overall["within_deadline"] == 3 and overall["within_deadline_share"] == 0.5
    # overdue at 01-20: online past the first request's deadline: u2, u6, u7
    assert overall["overdue"] == 3


def test_per_platform_basis_minors_and_case_groups(db, dataset):
    figures = stats(db)
    platforms = by(figures["platforms"], "platform")
    pic, clip, nowhere = platforms["PicShare"], platforms["ClipHub"], platforms["Nowhere"]
    # PicShare: u1 u2 u5 u7 u10 u12; removed u1 u5, online u2 u7 -> 2 / 4
    assert (pic["urls_notified"], pic["removed"], pic["online"], pic["takedown_rate"]) == \
        (6, 2, 2, 0.5)
    assert (pic["pending"], pic["restricted"], pic["reappeared"], pic["overdue"]) == (1, 1, 1, 2)
    # uppers 3, 8, 74: median rank 2 -> 8 h, bucket (6, 8]; lowers 0, 0, 26 -> 0
    assert (pic["median_hours_from"], pic["median_hours_to"]) == (0, 8)
    assert (pic["within_deadline"], pic["within_deadline_share"]) == (2, 0.5)  # u1 u7 of 4
    # ClipHub: u3 u4 u6 u11; removed u3, online u6 -> 1 / 2; u4 indeterminate, u11 confirming
    assert (clip["urls_notified"], clip["removed"], clip["online"], clip["takedown_rate"],
            clip["indeterminate"], clip["removal_suspected"], clip["overdue"]) == \
        (4, 1, 1, 0.5, 1, 1, 1)
    assert (clip["median_hours_from"], clip["median_hours_to"]) == (0, 6)  # u3: 0.5 h .. 5 h
    # A platform without any request is listed, with no rate rather than 0 %
    assert nowhere["urls_notified"] == 0 and nowhere["takedown_rate"] is None
    assert nowhere["median_hours_to"] is None and nowhere["within_deadline_share"] is None

    bases = by(figures["legal_bases"], "legal_basis")
    # dsa_art16: u1 u2 u6 u7 u10 u11 u12 = 7; removed u1, online u2 u6 u7 -> 1 / 4
    assert (bases["dsa_art16"]["urls_notified"], bases["dsa_art16"]["takedown_rate"]) == (7, 0.25)
    # take_it_down (first request only: u7's later take_it_down request does not count):
    # u3 removed, u4 indeterminate -> 1 / 1
    assert (bases["take_it_down"]["urls_notified"], bases["take_it_down"]["takedown_rate"]) == \
        (2, 1.0)
    assert (bases["lcen_art6"]["urls_notified"], bases["lcen_art6"]["removed"]) == (1, 1)  # u5

    ages = by(figures["age_groups"], "age_group")
    # minors (case B): u3 removed, u4 indeterminate -> 1 / 1; the indeterminate is not online
    assert (ages["minor"]["urls_notified"], ages["minor"]["takedown_rate"],
            ages["minor"]["indeterminate"]) == (2, 1.0, 1)
    # adults: 8 URLs, removed u1 u5, online u2 u6 u7 -> 2 / 5
    assert (ages["adult or unknown"]["urls_notified"],
            ages["adult or unknown"]["takedown_rate"]) == (8, 0.4)

    groups = by(figures["case_groups"], "case_group")
    # withdrawn case D: u6 keeps its last state (online) and still counts
    assert (groups["withdrawn"]["urls_notified"], groups["withdrawn"]["online"]) == (1, 1)
    # erased case C: u5 counts anonymously, removed, with its 74 h
    assert (groups["erased"]["urls_notified"], groups["erased"]["removed"],
            groups["erased"]["mean_hours_upper"]) == (1, 1, 74.0)
    assert groups["checked"]["urls_notified"] == 8


def test_period_boundary_first_request_decides(db, dataset):
    # 2025: u1 u2 (r1 sent 12-31 22:00); u2's follow-up of 01-06 does not move it to 2026
    y2025 = stats(db, since=date(2025, 1, 1), until=date(2026, 1, 1))["overall"]
    assert (y2025["urls_notified"], y2025["removed"], y2025["online"]) == (2, 1, 1)
    # 2026: the other 8, u3 u4 sent at 2026-01-01 00:00:00 exactly belong here
    y2026 = stats(db, since=date(2026, 1, 1), until=date(2027, 1, 1))["overall"]
    assert (y2026["urls_notified"], y2026["removed"], y2026["online"]) == (8, 2, 2)
    # one day: 2026-01-01 holds only u3 and u4
    day = stats(db, since=date(2026, 1, 1), until=date(2026, 1, 2))["overall"]
    assert (day["urls_notified"], day["removed"], day["indeterminate"]) == (2, 1, 1)
    monthly = stats(db, by="month")["trend"]
    assert [(r["period"], r["urls_notified"]) for r in monthly] == [("2025-12", 2),
                                                                    ("2026-01", 8)]
    # ISO week 2026-W01 runs Mon 2025-12-29 .. Sun 2026-01-04: u1 u2 u3 u4 u5 u6 u7 = 7;
    # W02: u10 u12 (01-08), u11 (01-09) = 3
    weekly = stats(db, by="week")["trend"]
    assert [(r["period"], r["start"], r["urls_notified"]) for r in weekly] == [
        ("2026-W01", "2025-12-29", 7), ("2026-W02", "2026-01-05", 3)]
    yearly = stats(db, by="year")["trend"]
    assert [(r["period"], r["takedown_rate"]) for r in yearly] == [("2025", 0.5), ("2026", 0.5)]


def test_funnel_and_overdue_list(db, dataset):
    figures = stats(db)
    funnel = {row["stage"]: row["count"] for row in figures["funnel"]}
    # cases A-F = 6; URLs u1..u12 = 12; verified = all but u9 (no check, no request) = 11
    # (u4 only indeterminate, u10 and u12 never conclusive: verified by their request);
    # notified 10; removed now among them: u1 u3 u5 = 3
    assert funnel == {"reports_received": 6, "urls_reported": 12, "urls_verified": 11,
                      "urls_notified": 10, "urls_removed": 3}
    in_2025 = {row["stage"]: row["count"]
               for row in stats(db, since=date(2025, 1, 1), until=date(2026, 1, 1))["funnel"]}
    # opened in 2025: A (12-30), B (12-31 23:00); URLs u1 u2 u3 u4, removed u1 u3
    assert in_2025 == {"reports_received": 2, "urls_reported": 4, "urls_verified": 4,
                       "urls_notified": 4, "urls_removed": 2}
    overdue = figures["overdue_requests"]
    # u2 (r1, deadline 01-02 22:00), u6 (r4, 01-03 10:00), u7 (r5, 01-04 12:00)
    assert [row["request_id"] for row in overdue][0] == dataset["r1"]
    assert [row["request_id"] for row in overdue][2] == dataset["r5"]
    assert [row["hours_overdue"] for row in overdue] == [17 * 24 + 2, 16 * 24 + 14, 15 * 24 + 12]
    assert all(row["urls_online"] == 1 for row in overdue)
    clip_only = stats(db, platform_id=dataset["clip"])
    assert [row["platform"] for row in clip_only["overdue_requests"]] == ["ClipHub"]
    assert [row["platform"] for row in clip_only["platforms"]] == ["ClipHub"]
    assert clip_only["overall"]["urls_notified"] == 4


def test_folded_cells_equal_the_naive_scan_of_the_check_log(db, dataset):
    with db.session() as session:
        for kwargs in ({}, {"since": date(2026, 1, 1)}, {"until": date(2026, 1, 3), "by": "week"},
                       {"platform_id": dataset["pic"], "by": "year"},
                       # partial months and weeks at both ends: whole periods + edge days
                       {"since": date(2025, 12, 31), "until": date(2026, 1, 9), "by": "week"},
                       {"since": date(2025, 12, 2), "until": date(2026, 1, 5), "by": "month"},
                       {"since": date(2025, 11, 1), "until": date(2026, 2, 1), "by": "year"},
                       {"since": date(2026, 1, 2), "until": date(2026, 1, 3)}):
            folded = takedown_statistics(session, now=fixture.NOW, **kwargs)
            naive = naive_statistics(session, now=fixture.NOW, confirm_after=fixture.CONFIRM,
                                     **kwargs)
            assert folded == naive, kwargs


def test_segments_cover_a_range_with_whole_periods_and_edge_days():
    from disrupt.dashboard.services import segments

    assert segments(None, None, "m") == [("m", None, None)]
    # 12-02 .. 01-05: no whole month inside, read by day
    assert segments(date(2025, 12, 2), date(2026, 1, 5), "m") == [
        ("d", date(2025, 12, 2), date(2026, 1, 5))]
    # 11-15 .. 02-10: December and January whole, the rest by day
    assert segments(date(2025, 11, 15), date(2026, 2, 10), "m") == [
        ("m", date(2025, 12, 1), date(2026, 2, 1)), ("d", date(2025, 11, 15), date(2025, 12, 1)),
        ("d", date(2026, 2, 1), date(2026, 2, 10))]
    # weeks start on Monday: 2025-12-29 is one
    assert segments(date(2025, 12, 29), None, "w") == [("w", date(2025, 12, 29), None)]


def test_changes_after_a_fold_are_counted_and_erasure_keeps_the_counts(db, dataset):
    from disrupt.cases.models import ReportedURL

    with db.session() as session:
        u5 = session.get(ReportedURL, dataset["u5"])
        assert u5.url == f"erased:{u5.id}"  # scrubbed by erase_case, still counted
        assert count_pending(session) == 0
        # u2 comes down after its follow-up: removed 01-15 10:00, confirmed 12:00
        u2 = session.scalar(__import__("sqlalchemy").select(ReportedURL)
                            .where(ReportedURL.url == "https://picshare.test/u2"))
        fixture._checks(session, u2, ("01-15 10:00", "removed"), ("01-15 12:00", "removed"))
        assert count_pending(session) == 1
        fold_all(session)
        session.commit()
        overall = takedown_statistics(session, now=fixture.NOW)["overall"]
        # removed u1 u2 u3 u5 = 4, online u6 u7 = 2
        assert (overall["removed"], overall["online"], overall["overdue"]) == (4, 2, 2)
        # u2: 01-15 10:00 - 12-31 22:00 = 14 d 12 h = 348 h, late for its 48 h deadline
        assert overall["timed"] == 5 and overall["within_deadline"] == 3
        assert overall["mean_hours_upper"] == pytest.approx((3 + 5 + 8 + 74 + 348) / 5)
        assert takedown_statistics(session, now=fixture.NOW) == naive_statistics(
            session, now=fixture.NOW, confirm_after=fixture.CONFIRM)
