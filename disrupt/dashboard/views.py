from __future__ import annotations

import json
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import force_locale

from disrupt.accounts.access import role_required
from disrupt.dashboard import charts
from disrupt.dashboard.forms import StatisticsFilterForm
from disrupt.dashboard.hosting import HOST_TYPES, hosting_figures
from disrupt.dashboard.report import (
    REPORT_LANGUAGES,
    organisation_of,
    report_context,
    report_years,
    transparency_report,
)
from disrupt.dashboard.services import platform_list, resolve_period, takedown_statistics
from disrupt.dashboard.tables import (
    TABLE_IDS,
    dashboard_tables,
    display_columns,
    raw_value,
    with_activity,
)
from disrupt.request import db_session, now

bp = Blueprint("dashboard", __name__, url_prefix="/console/dashboard")


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def _selection() -> tuple[StatisticsFilterForm, dict[str, Any], bool]:
    form = StatisticsFilterForm(formdata=request.args)
    platforms = platform_list(db_session())
    form.platform.choices = [("", "All platforms")] + [(str(p[0]), p[1]) for p in platforms]
    valid = form.validate()
    current = now()
    selection: dict[str, Any] = {"since": None, "until": None, "platform_id": None,
                                 "by": "month"}
    if valid:
        period = form.period.data
        since, until = resolve_period(None if period in ("all", "custom") else period,
                                      form.at.data or current.date(),
                                      form.since.data if period == "custom" else None,
                                      form.until.data if period == "custom" else None)
        selection.update(since=since, until=until, by=form.by.data,
                         platform_id=int(form.platform.data) if form.platform.data else None)
    return form, selection, valid


def _statistics(selection: dict[str, Any]) -> dict[str, Any]:
    return takedown_statistics(db_session(), now=now(), **selection)


def _charts(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "trend": charts.line_chart(
            "chart-trend", "Takedown rate by period of the first request",
            [(row["period"], row["takedown_rate"]) for row in stats["trend"]], fmt=_pct),
        "platforms": charts.bar_chart(
            "chart-platforms", "Takedown rate per platform with a removal request",
            [(row["platform"], row["takedown_rate"])
             for row in with_activity(stats["platforms"])[0]],
            maximum=1.0, fmt=_pct),
        "time": charts.bar_chart(
            "chart-time", "URLs by time to removal (upper bound)",
            [(row["label"], row["upper_bound"]) for row in stats["time_to_removal"]]),
        "funnel": charts.bar_chart(
            "chart-funnel", "Funnel",
            [(row["label"], row["count"]) for row in stats["funnel"]]),
    }


@bp.get("/")
@role_required()
def index():
    form, selection, valid = _selection()
    stats = _statistics(selection)
    hosting = hosting_figures(db_session(), since=selection["since"] or date.min,
                              until=selection["until"] or date.max)
    return render_template(
        "dashboard/index.html", form=form, stats=stats, tables=dashboard_tables(stats),
        charts=_charts(stats), display_columns=display_columns, raw_value=raw_value,
        with_activity=with_activity, hosting=hosting, host_types=HOST_TYPES,
        query=request.args.to_dict(), years=report_years(db_session(), now()),
    ), (200 if valid else 400)


@bp.get("/stats.json")
@role_required()
def stats_json():
    form, selection, valid = _selection()
    if not valid:
        return jsonify({"errors": form.errors}), 400
    return jsonify(_statistics(selection))


@bp.get("/export/<table_id>.<fmt>")
@role_required()
def export(table_id: str, fmt: str):
    if table_id not in TABLE_IDS or fmt not in ("csv", "json"):
        abort(404)
    form, selection, valid = _selection()
    if not valid:
        return jsonify({"errors": form.errors}), 400
    table = next(t for t in dashboard_tables(_statistics(selection)) if t.id == table_id)
    if fmt == "json":
        return jsonify(table.to_json())
    return Response(table.to_csv(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="disrupt-{table_id}.csv"'})


@bp.get("/report/<int:year>")
@role_required()
def report(year: int):
    if not 2000 <= year <= 2100:
        abort(404)
    language = request.args.get("lang", "en")
    if language not in REPORT_LANGUAGES:
        abort(404)
    figures = transparency_report(db_session(), year=year, now=now())
    with force_locale(language):
        return render_template("dashboard/report.html", standalone_css=None,
                               **report_context(figures, language,
                                                organisation_of(current_app.config)))


@bp.get("/report/<int:year>.json")
@role_required()
def report_json(year: int):
    if not 2000 <= year <= 2100:
        abort(404)
    figures = transparency_report(db_session(), year=year, now=now())
    return Response(json.dumps(figures, sort_keys=True), mimetype="application/json")
