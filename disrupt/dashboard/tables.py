"""The tables of the dashboard: one structure rendered as the page, the CSV and the JSON,
so the three always say the same."""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from disrupt.csv_export import SafeWriter
from disrupt.platforms.notices import LEGAL_BASIS_NAMES

FIGURE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("urls_notified", "URLs notified", "int"),
    ("takedown_rate", "Takedown rate", "rate"),
    ("removed", "Removed", "int"),
    ("online", "Online", "int"),
    ("removal_suspected", "Being confirmed", "int"),
    ("indeterminate", "Indeterminate", "int"),
    ("restricted", "Restricted", "int"),
    ("invalid", "Invalid", "int"),
    ("pending", "Not checked yet", "int"),
    ("median_hours_from", "Median from (h)", "hours"),
    ("median_hours_to", "Median to (h)", "hours"),
    ("p90_hours_from", "90th percentile from (h)", "hours"),
    ("p90_hours_to", "90th percentile to (h)", "hours"),
    ("mean_hours_upper", "Mean, upper bound (h)", "hours"),
    ("within_deadline_share", "Removed within deadline", "rate"),
    ("reappeared", "Reappeared", "int"),
    ("overdue", "Overdue URLs", "int"),
)


@dataclass(frozen=True)
class StatTable:
    id: str
    caption: str
    columns: tuple[tuple[str, str, str], ...]  # (key, label, kind)
    rows: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        keys = [key for key, _, _ in self.columns]
        return {"table": self.id, "caption": self.caption, "columns": keys,
                "rows": [{key: row.get(key) for key in keys} for row in self.rows]}

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = SafeWriter(out)
        writer.writerow([key for key, _, _ in self.columns])
        for row in self.rows:
            writer.writerow([csv_value(row.get(key)) for key, _, _ in self.columns])
        return out.getvalue()


def csv_value(value: Any) -> Any:
    """Numbers stay numbers (a negative one is no formula); text goes through safe_cell."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return raw_value(value)


def raw_value(value: Any) -> str:
    """The machine value written in CSV cells and in the page's data-value attributes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def display_value(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f} %"
    if kind == "hours" and isinstance(value, float):
        return f"{value:.1f}"
    if kind == "basis":
        return LEGAL_BASIS_NAMES.get(value, str(value))
    if kind == "when":
        return str(value)[:16].replace("T", " ") + " UTC"
    return str(value)


@dataclass(frozen=True)
class DisplayColumn:
    """One column as the page shows it: one value, or several values of the table shown
    together (the CSV and JSON keep one column per value)."""

    label: str
    keys: tuple[str, ...]
    kind: str
    title: str = ""

    def show(self, row: dict[str, Any]) -> str:
        values = [row.get(key) for key in self.keys]
        if self.kind == "range":
            low, high = values
            if low is None and high is None:
                return "—"
            return f"{'?' if low is None else f'{low:g}'}–{'?' if high is None else f'{high:g}'} h"
        if self.kind == "beside":
            shown = [f"{NOT_IN_RATE[key]} {value}" for key, value in zip(self.keys, values,
                                                                         strict=True) if value]
            return ", ".join(shown) or "none"
        return display_value(values[0], self.kind)


NOT_IN_RATE = {"removal_suspected": "being confirmed", "indeterminate": "indeterminate",
               "restricted": "restricted", "invalid": "invalid", "pending": "not checked yet"}
#: The figure columns as the page groups them, so that a table stays readable at 1280 px.
FIGURE_DISPLAY = (
    DisplayColumn("URLs notified", ("urls_notified",), "int"),
    DisplayColumn("Takedown rate", ("takedown_rate",), "rate"),
    DisplayColumn("Removed", ("removed",), "int"),
    DisplayColumn("Online", ("online",), "int"),
    DisplayColumn("Beside the rate", tuple(NOT_IN_RATE), "beside",
                  "Neither removed nor online: never counted in the rate"),
    DisplayColumn("Median time", ("median_hours_from", "median_hours_to"), "range",
                  "The range that holds the median time to removal"),
    DisplayColumn("90th percentile", ("p90_hours_from", "p90_hours_to"), "range",
                  "The range that holds the 90th percentile of the time to removal"),
    DisplayColumn("Mean (upper bound)", ("mean_hours_upper",), "hours"),
    DisplayColumn("Within deadline", ("within_deadline_share",), "rate"),
    DisplayColumn("Reappeared", ("reappeared",), "int"),
    DisplayColumn("Overdue", ("overdue",), "int"),
)


def display_columns(table: StatTable) -> tuple[DisplayColumn, ...]:
    """The page's columns for a table: its own first columns, then the grouped figures."""
    keys = [key for key, _, _ in table.columns]
    figure_keys = [key for key, _, _ in FIGURE_COLUMNS]
    if keys[-len(figure_keys):] != figure_keys:
        return tuple(DisplayColumn(label, (key,), kind) for key, label, kind in table.columns)
    first = table.columns[:-len(figure_keys)]
    return tuple(DisplayColumn(label, (key,), kind) for key, label, kind in first) \
        + FIGURE_DISPLAY


def with_activity(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Platforms with a notified URL in the selection, and the names of the others."""
    active = [row for row in rows if row.get("urls_notified")]
    idle = [str(row["platform"]) for row in rows if not row.get("urls_notified")]
    return active, idle


def dashboard_tables(stats: dict[str, Any]) -> list[StatTable]:
    def figure_table(table_id: str, caption: str, first: tuple[tuple[str, str, str], ...],
                     rows: list[dict[str, Any]]) -> StatTable:
        return StatTable(table_id, caption, first + FIGURE_COLUMNS, rows)

    return [
        figure_table("overall", "All URLs for which a removal request was sent",
                     (("scope", "Scope", "text"),),
                     [{"scope": "all platforms" if stats["scope"]["platform_id"] is None
                       else "this platform", **stats["overall"]}]),
        figure_table("trend", f"By {stats['scope']['by']} of the first request",
                     (("period", "Period", "text"),), stats["trend"]),
        figure_table("platforms", "Per platform", (("platform", "Platform", "text"),
                                                   ("deadline_hours", "Deadline (h)", "int")),
                     stats["platforms"]),
        figure_table("legal_bases", "Per legal basis of the first request",
                     (("legal_basis", "Legal basis", "basis"),), stats["legal_bases"]),
        figure_table("age_groups", "Minors separately", (("age_group", "Victim", "text"),),
                     stats["age_groups"]),
        figure_table("case_groups", "Cases still checked, withdrawn (no longer checked: last "
                     "state known) and erased (anonymous)", (("case_group", "Cases", "text"),),
                     stats["case_groups"]),
        StatTable("time_to_removal", "Time to removal: URLs per bucket of the upper bound and "
                  "of the lower bound", (
                      ("label", "Time", "text"), ("from_hours", "From (h)", "hours"),
                      ("to_hours", "To (h)", "hours"),
                      ("upper_bound", "URLs (upper bound)", "int"),
                      ("lower_bound", "URLs (lower bound)", "int")),
                  stats["time_to_removal"]),
        StatTable("funnel", "Funnel", (("stage", "Stage key", "text"), ("label", "Stage", "text"),
                                       ("count", "Count", "int")), stats["funnel"]),
        StatTable("overdue_requests", "Overdue requests (URLs still online after the deadline), "
                  "longest overdue first", (
                      ("request_id", "Request", "int"), ("case_id", "Case", "int"),
                      ("platform", "Platform", "text"), ("legal_basis", "Legal basis", "basis"),
                      ("status", "Status", "text"), ("sent_at", "Sent", "when"),
                      ("deadline_at", "Deadline", "when"),
                      ("hours_overdue", "Hours overdue", "hours"),
                      ("urls_online", "URLs online", "int")),
                  stats["overdue_requests"]),
    ] + _exchange_and_casework_tables(stats)


def _exchange_and_casework_tables(stats: dict[str, Any]) -> list[StatTable]:
    return [
        StatTable("hash_exchange", "Hash exchange: hashes per platform by the platform's newest "
                  f"feedback ({stats['hash_exchange']['blocked_somewhere']} blocked somewhere)", (
                      ("platform", "Platform", "text"), ("blocked", "Blocked", "int"),
                      ("not_blocked", "Not blocked", "int"),
                      ("pending_review", "Pending review", "int")),
                  stats["hash_exchange"]["platforms"]),
        StatTable("cases_by_outcome", f"People helped: the {stats['casework']['cases_opened']} "
                  "cases opened in the period, by outcome", (
                      ("outcome", "Outcome key", "text"), ("label", "Outcome", "text"),
                      ("cases", "Cases", "int")),
                  stats["casework"]["by_outcome"]),
        StatTable("hotline_speed", "Our own speed, for cases opened in the period (hours)", (
                      ("step", "Step key", "text"), ("label", "Step", "text"),
                      ("cases", "Cases", "int"), ("median_hours", "Median (h)", "hours"),
                      ("p90_hours", "90th percentile (h)", "hours")),
                  stats["casework"]["speed"]),
        StatTable("referrals", "Referrals to the authorities and partner hotlines in the period",
                  (("recipient", "Recipient key", "text"), ("label", "Recipient", "text"),
                   ("count", "Cases", "int")),
                  stats["casework"]["referrals"]),
    ]


TABLE_IDS = ("overall", "trend", "platforms", "legal_bases", "age_groups", "case_groups",
             "time_to_removal", "funnel", "overdue_requests", "hash_exchange",
             "cases_by_outcome", "hotline_speed", "referrals")
