"""What the hotline itself did, for funders and the annual report: people helped by outcome,
the hotline's own speed (case opened → first URL verified → first notice sent), and
referrals by destination. Over the cases opened in a period (the takedown figures are over
URLs by the period of their first request)."""
from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, Referral, ReportedURL
from disrupt.cases.services import CLOSE_OUTCOMES
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.referrals import RECIPIENTS
from disrupt.translatable import N_

OPEN_GROUPS = {
    "open": N_("Being worked on"),
    "withdrawn": N_("Withdrawn by the victim"),
    "erased": N_("Erased at the victim's request"),
}
SPEED_STEPS = (
    ("to_verification", N_("Case opened → first URL verified")),
    ("to_first_notice", N_("Case opened → first removal request sent")),
)


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def nearest_rank(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def outcome_group(status: str, outcome: str | None) -> str:
    if status == "closed":
        return outcome or "closed"
    return status if status in ("withdrawn", "erased") else "open"


def casework_figures(session: Session, *, since: date | None, until: date | None
                     ) -> dict[str, Any]:
    """Cases opened in [since, until): by outcome, hours to verification and to the first
    notice (median and 90th percentile, nearest rank), referrals by destination."""
    opened = []
    if since is not None:
        opened.append(Case.created_at >= _start(since))
    if until is not None:
        opened.append(Case.created_at < _start(until))
    groups: dict[str, int] = {}
    for status, outcome, count in session.execute(
            select(Case.status, Case.outcome, func.count()).where(*opened)
            .group_by(Case.status, Case.outcome)):
        key = outcome_group(status, outcome)
        groups[key] = groups.get(key, 0) + count
    labels = {**OPEN_GROUPS, **CLOSE_OUTCOMES, "closed": N_("Closed")}
    order = list(OPEN_GROUPS) + list(CLOSE_OUTCOMES) + ["closed"]
    by_outcome = [{"outcome": key, "label": labels[key], "cases": groups[key]}
                  for key in order if groups.get(key)]

    verified = (select(ReportedURL.case_id, func.min(func.coalesce(
        ReportedURL.first_seen_online_at, ReportedURL.removal_suspected_at,
        ReportedURL.removed_at)).label("at")).join(Case, Case.id == ReportedURL.case_id)
        .where(*opened).group_by(ReportedURL.case_id).subquery())
    first_notice = (select(RemovalRequest.case_id, func.min(RemovalRequest.sent_at).label("at"))
                    .join(Case, Case.id == RemovalRequest.case_id)
                    .where(RemovalRequest.sent_at.is_not(None), *opened)
                    .group_by(RemovalRequest.case_id).subquery())
    hours: dict[str, list[float]] = {key: [] for key, _ in SPEED_STEPS}
    for created, verified_at, notice_at in session.execute(
            select(Case.created_at, verified.c.at, first_notice.c.at)
            .outerjoin(verified, verified.c.case_id == Case.id)
            .outerjoin(first_notice, first_notice.c.case_id == Case.id).where(*opened)):
        for key, at in (("to_verification", verified_at), ("to_first_notice", notice_at)):
            if at is not None:
                hours[key].append(max(0.0, (_aware(at) - _aware(created)).total_seconds() / 3600))
    speed = [{"step": key, "label": label, "cases": len(hours[key]),
              "median_hours": _round(nearest_rank(hours[key], 0.5)),
              "p90_hours": _round(nearest_rank(hours[key], 0.9))} for key, label in SPEED_STEPS]

    referred = []
    if since is not None:
        referred.append(Referral.sent_at >= _start(since))
    if until is not None:
        referred.append(Referral.sent_at < _start(until))
    referrals = [{"recipient": recipient, "label": RECIPIENTS.get(recipient, recipient),
                  "count": count} for recipient, count in session.execute(
        select(Referral.recipient, func.count()).where(*referred)
        .group_by(Referral.recipient).order_by(Referral.recipient))]
    return {"cases_opened": sum(groups.values()), "by_outcome": by_outcome, "speed": speed,
            "referrals": referrals}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
