"""The annual transparency report a trusted flagger publishes: notices by platform and legal
basis, what the platforms did, how fast. Counts and durations only: no URL, no case, no
person."""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case
from disrupt.dashboard.hosting import HOST_TYPES, hosting_figures
from disrupt.dashboard.models import takedown_cells
from disrupt.dashboard.services import takedown_statistics
from disrupt.platforms.models import LEGAL_BASES, Platform, RemovalRequest, removal_request_urls
from disrupt.platforms.notices import LEGAL_BASIS_NAMES
from disrupt.translatable import N_


def report_years(session: Session, now: datetime) -> list[int]:
    years = {int(y) for y in session.scalars(select(takedown_cells.c.year).distinct()
                                             .where(takedown_cells.c.grain == "m"))}
    return sorted(years | {now.year}, reverse=True)


def transparency_report(session: Session, *, year: int, now: datetime) -> dict[str, Any]:
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    stats = takedown_statistics(session, now=now, since=start, until=end, by="month")
    start_at = datetime(year, 1, 1, tzinfo=UTC)
    end_at = datetime(year + 1, 1, 1, tzinfo=UTC)
    notices: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"notices": 0,
                                                                           "urls": 0})
    sent = (RemovalRequest.sent_at >= start_at, RemovalRequest.sent_at < end_at)
    for name, basis, count in session.execute(
            select(Platform.name, RemovalRequest.legal_basis, func.count())
            .join(Platform, Platform.id == RemovalRequest.platform_id)
            .where(*sent).group_by(Platform.name, RemovalRequest.legal_basis)):
        notices[(name, basis)]["notices"] = count
    for name, basis, count in session.execute(
            select(Platform.name, RemovalRequest.legal_basis, func.count())
            .join(Platform, Platform.id == RemovalRequest.platform_id)
            .join(removal_request_urls,
                  removal_request_urls.c.request_id == RemovalRequest.id)
            .where(*sent).group_by(Platform.name, RemovalRequest.legal_basis)):
        notices[(name, basis)]["urls"] = count
    bases = list(LEGAL_BASES) + sorted({b for _, b in notices} - set(LEGAL_BASES))
    providers: dict[str, dict[str, int]] = defaultdict(
        lambda: {"notices": 0, "ncii": 0, "csam": 0, **{a: 0 for a in ACTIONS}})
    for name, age_group, status, count in session.execute(
            select(Platform.name, Case.age_group, RemovalRequest.status, func.count())
            .join(Platform, Platform.id == RemovalRequest.platform_id)
            .join(Case, Case.id == RemovalRequest.case_id)
            .where(*sent).group_by(Platform.name, Case.age_group, RemovalRequest.status)):
        row = providers[name]
        row["notices"] += count
        row["csam" if age_group == "minor" else "ncii"] += count
        row[ACTION_OF_STATUS.get(status, "awaiting")] += count
    return {
        "year": year,
        "generated_at": now.isoformat(),
        "definitions": stats["definitions"],
        "notices": [{"platform": name, "legal_basis": basis, **counts}
                    for (name, basis), counts in sorted(notices.items())],
        "notices_total": sum(c["notices"] for c in notices.values()),
        "legal_bases": bases,
        "overall": stats["overall"],
        "platforms": [row for row in stats["platforms"] if row["urls_notified"]],
        "platforms_without_notice": [row["platform"] for row in stats["platforms"]
                                     if not row["urls_notified"]],
        "by_legal_basis": stats["legal_bases"],
        "age_groups": stats["age_groups"],
        "case_groups": stats["case_groups"],
        "months": stats["trend"],
        "time_to_removal": stats["time_to_removal"],
        "funnel": stats["funnel"],
        "referrals": stats["casework"]["referrals"],
        "casework": stats["casework"],
        "trusted_flagger": [{"platform": name, **counts}
                            for name, counts in sorted(providers.items())],
        "hosting": hosting_figures(session, since=start, until=end),
    }


REPORT_LANGUAGES = ("en", "fr")
#: What the provider did with a notice, from the request's status (DSA art. 22(3)(b)).
ACTIONS = ("actioned", "rejected", "acknowledged", "awaiting")
ACTION_OF_STATUS = {"actioned": "actioned", "rejected": "rejected",
                    "acknowledged": "acknowledged"}
DEFINITION_NAMES = {
    "takedown_rate": N_("takedown rate"), "state": N_("state"), "period": N_("period"),
    "time_to_removal": N_("time to removal"), "quantiles": N_("quantiles"),
    "within_deadline": N_("within deadline"), "reappeared": N_("reappeared"),
    "overdue": N_("overdue"), "verified": N_("verified"), "funnel": N_("funnel"),
}


def report_context(figures: dict[str, Any], language: str,
                   organisation: dict[str, Any]) -> dict[str, Any]:
    """What report.html needs besides the figures: the names it translates."""
    return {"report": figures, "report_lang": language, "basis_names": LEGAL_BASIS_NAMES,
            "definition_names": DEFINITION_NAMES, "organisation": organisation,
            "host_types": HOST_TYPES}


def organisation_of(config: Any) -> dict[str, Any]:
    """Who publishes the report (the DSA asks a trusted flagger to say who it is)."""
    return {"name": config["ORGANISATION_NAME"], "email": config["ORGANISATION_EMAIL"],
            "trusted_flagger": bool(config["TRUSTED_FLAGGER"])}


def render_report_html(app: Any, figures: dict[str, Any], language: str = "en") -> str:
    """The report as one self-contained HTML file (the style sheet inlined) to publish."""
    from flask import render_template
    from flask_babel import force_locale

    css = (Path(app.static_folder) / "css" / "app.css").read_text(encoding="utf-8")
    with app.test_request_context("/"), force_locale(language):
        return render_template("dashboard/report.html", standalone_css=css,
                               **report_context(figures, language,
                                                organisation_of(app.config)))
