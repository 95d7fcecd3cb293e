"""The URL state machine of DESIGN.md §6, applied to one ReportedURL after one check."""
from __future__ import annotations

from datetime import datetime, timedelta

from disrupt.cases.models import ReportedURL

# A verdict that proves nothing keeps a state that earlier checks established.
_ESTABLISHED = ("online", "removal_suspected", "removed")


def apply_verdict(
    url: ReportedURL, verdict: str, *, now: datetime, confirm_after: timedelta, reason: str
) -> str:
    """Move `url` to its next state; returns the transition name for the timeline."""
    previous = url.state
    url.check_count += 1
    url.last_checked_at = now
    url.state_reason = reason[:200]
    if verdict == "indeterminate":
        url.indeterminate_streak += 1
        if previous not in _ESTABLISHED:
            url.state = "indeterminate"
        return "indeterminate"
    url.indeterminate_streak = 0
    if verdict == "online":
        url.last_seen_online_at = now
        if url.first_seen_online_at is None:
            url.first_seen_online_at = now
        url.removal_suspected_at = None
        url.state = "online"
        if previous == "removed":
            url.reappeared = True
            url.reappeared_at = now
            return "reappeared"
        return "online"
    if verdict == "removed":
        if previous == "removed":
            return "still_removed"
        if previous == "removal_suspected" and url.removal_suspected_at is not None:
            if now - url.removal_suspected_at >= confirm_after:
                url.state = "removed"
                url.removed_at = url.removal_suspected_at
                return "removed"
            return "removal_suspected"
        url.state = "removal_suspected"
        url.removal_suspected_at = now
        return "removal_suspected"
    if verdict in ("restricted", "invalid"):
        url.state = verdict
        return verdict
    raise ValueError(f"unknown verdict {verdict!r}")
