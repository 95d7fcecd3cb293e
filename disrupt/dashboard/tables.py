"""The tables of the dashboard: one structure rendered as the page, the CSV and the JSON,
so the three always say the same."""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from disrupt.csv_export import SafeWriter

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
    return str(value)


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
                     (("legal_basis", "Legal basis", "text"),), stats["legal_bases"]),
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
                      ("platform", "Platform", "text"), ("legal_basis", "Legal basis", "text"),
                      ("status", "Status", "text"), ("sent_at", "Sent", "text"),
                      ("deadline_at", "Deadline", "text"),
                      ("hours_overdue", "Hours overdue", "hours"),
                      ("urls_online", "URLs online", "int")),
                  stats["overdue_requests"]),
        StatTable("hash_exchange", "Hash exchange: hashes per platform by the platform's newest "
                  f"feedback ({stats['hash_exchange']['blocked_somewhere']} blocked somewhere)", (
                      ("platform", "Platform", "text"), ("blocked", "Blocked", "int"),
                      ("not_blocked", "Not blocked", "int"),
                      ("pending_review", "Pending review", "int")),
                  stats["hash_exchange"]["platforms"]),
    ]


TABLE_IDS = ("overall", "trend", "platforms", "legal_bases", "age_groups", "case_groups",
             "time_to_removal", "funnel", "overdue_requests", "hash_exchange")
