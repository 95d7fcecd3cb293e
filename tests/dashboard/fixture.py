"""A small dataset whose figures are computed by hand in test_statistics.py.

Confirmation of a removal: a second `removed` verdict at least 1 h after the first (the
default REMOVAL_CONFIRM_SECONDS). Checks go through the real state machine (apply_verdict);
withdrawal and erasure through the real victim services.

    platform  deadline   URLs
    PicShare  48 h       u1 u2 u5 u7 u8 u10 u12
    ClipHub   24 h       u3 u4 u6 u11
    Nowhere   48 h       (no request ever)
    (none)               u9

    case  age    status      URLs
    A     adult  checked     u1 u2 u10 u11 u12
    B     minor  checked     u3 u4
    C     adult  erased      u5
    D     adult  withdrawn   u6
    E     adult  checked     u7
    F     adult  checked     u8 u9
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from disrupt.cases.models import Case, ReportedURL
from disrupt.monitoring.models import URLCheck
from disrupt.monitoring.states import apply_verdict
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import add_platform
from disrupt.victims.services import erase_case, withdraw_case
from tests.support.factories import add_url, announce_checks, make_case, make_request

CONFIRM = timedelta(hours=1)
NOW = datetime(2026, 1, 20, 0, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    """'12-31 22:00' is 2025-12-31 22:00 UTC; '01-02 10:00' is 2026-01-02 10:00 UTC."""
    year = 2025 if text.startswith("12-") else 2026
    return datetime.fromisoformat(f"{year}-{text}").replace(tzinfo=UTC)


def _case(session, name: str, created: str, age_group: str = "adult") -> Case:
    return make_case(session, now=at(created), reference=f"TEST-{name}", secret_hash="x",
                     age_group=age_group)


def _url(session, case: Case, name: str, platform, created: str) -> ReportedURL:
    host = platform.domains[0].domain if platform else "unknown.test"
    return add_url(session, case, f"https://{host}/{name}", now=at(created), platform=platform)


def _checks(session, url: ReportedURL, *checks: tuple[str, str]) -> None:
    """Checks at the given moments, announced as monitoring.services.record_checks does."""
    for moment, verdict in checks:
        session.add(URLCheck(reported_url_id=url.id, due_at=at(moment), checked_at=at(moment),
                             verdict=verdict, reason=verdict, detector_version="test"))
        apply_verdict(url, verdict, now=at(moment), confirm_after=CONFIRM, reason=verdict)
    announce_checks(session, [url], now=at(checks[-1][0]))


def _request(session, case: Case, platform, urls: list[ReportedURL], basis: str, sent: str,
             status: str = "sent") -> RemovalRequest:
    return make_request(session, case, platform, urls, sent_at=at(sent), legal_basis=basis,
                        status=status)


def build(session, *, fold=None) -> dict[str, int]:
    """Build the dataset; `fold(session)` is called at two points in the middle too, so the
    incremental counting is exercised, not only a final recount."""
    pic = add_platform(session, name="PicShare", domains=["picshare.test"], deadline_hours=48,
                       contact="abuse@picshare.test")
    clip = add_platform(session, name="ClipHub", domains=["cliphub.test"], deadline_hours=24,
                        contact="abuse@cliphub.test")
    add_platform(session, name="Nowhere", domains=["nowhere.test"], deadline_hours=48)
    session.flush()
    a = _case(session, "A", "12-30 09:00")
    b = _case(session, "B", "12-31 23:00", age_group="minor")
    c = _case(session, "C", "01-03 10:00")
    d = _case(session, "D", "01-02 08:00")
    e = _case(session, "E", "01-02 10:00")
    f = _case(session, "F", "01-05 08:00")

    u1 = _url(session, a, "u1", pic, "12-30 09:00")
    u2 = _url(session, a, "u2", pic, "12-30 09:00")
    r1 = _request(session, a, pic, [u1, u2], "dsa_art16", "12-31 22:00")
    _checks(session, u1, ("12-31 20:00", "online"), ("01-01 01:00", "removed"),
            ("01-01 02:00", "removed"))
    _checks(session, u2, ("12-31 20:00", "online"), ("01-01 01:00", "online"),
            ("01-02 04:00", "indeterminate"), ("01-05 10:00", "online"))

    u3 = _url(session, b, "u3", clip, "12-31 23:00")
    u4 = _url(session, b, "u4", clip, "12-31 23:00")
    _request(session, b, clip, [u3, u4], "take_it_down", "01-01 00:00")
    _checks(session, u3, ("01-01 00:30", "online"), ("01-01 05:00", "removed"),
            ("01-01 06:00", "indeterminate"), ("01-01 07:00", "removed"))
    _checks(session, u4, ("01-01 03:00", "indeterminate"), ("01-02 03:00", "indeterminate"))
    if fold:
        fold(session)

    u5 = _url(session, c, "u5", pic, "01-03 10:00")
    _request(session, c, pic, [u5], "lcen_art6", "01-03 12:00")
    _checks(session, u5, ("01-03 11:00", "online"), ("01-04 14:00", "online"),
            ("01-06 14:00", "removed"), ("01-06 16:00", "removed"))

    u6 = _url(session, d, "u6", clip, "01-02 08:00")
    _request(session, d, clip, [u6], "dsa_art16", "01-02 10:00")
    _checks(session, u6, ("01-02 09:00", "online"), ("01-03 10:00", "online"))

    u7 = _url(session, e, "u7", pic, "01-02 10:00")
    r5 = _request(session, e, pic, [u7], "dsa_art16", "01-02 12:00", status="actioned")
    _checks(session, u7, ("01-02 11:00", "online"), ("01-02 20:00", "removed"),
            ("01-02 22:00", "removed"))
    if fold:
        fold(session)
    _checks(session, u7, ("01-10 12:00", "online"))  # reappeared
    _request(session, e, pic, [u7], "take_it_down", "01-11 09:00")  # does not move u7
    _request(session, a, pic, [u2], "take_it_down", "01-06 09:00")  # follow-up of r1

    u8 = _url(session, f, "u8", pic, "01-05 08:00")
    _checks(session, u8, ("01-05 09:00", "online"))
    _url(session, f, "u9", None, "01-05 08:00")

    u10 = _url(session, a, "u10", pic, "01-08 08:00")
    u12 = _url(session, a, "u12", pic, "01-08 08:00")
    _request(session, a, pic, [u10, u12], "dsa_art16", "01-08 09:00")
    _checks(session, u12, ("01-08 12:00", "restricted"))
    u11 = _url(session, a, "u11", clip, "01-09 08:00")
    _request(session, a, clip, [u11], "dsa_art16", "01-09 10:00")
    _checks(session, u11, ("01-09 09:00", "online"), ("01-09 12:00", "removed"))

    withdraw_case(session, d, at("01-12 10:00"))
    session.flush()
    erase_case(session, c, at("01-13 10:00"))
    session.flush()
    return {"r1": r1.id, "r5": r5.id, "u5": u5.id, "case_a": a.id, "case_d": d.id,
            "pic": pic.id, "clip": clip.id}
