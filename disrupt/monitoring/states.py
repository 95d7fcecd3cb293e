"""The URL state machine of DESIGN.md §6, applied to one ReportedURL after one check."""
from __future__ import annotations

from datetime import datetime, timedelta

from disrupt.cases.models import ReportedURL

# A verdict that proves nothing keeps a state that earlier checks established.
_ESTABLISHED = ("online", "removal_suspected", "removed")


def apply_verdict(
    url: ReportedURL, verdict: str, *, now: datetime, confirm_after: timedelta, reason: str,
    rule: str | None = None, invalid_after: timedelta | None = None,
) -> str:
    """Move `url` to its next state; returns the transition name for the timeline.

    Network failures (rule ``network``) are indeterminate until they have lasted
    `invalid_after` without a break; the URL is then invalid (no longer checked)."""
    previous = url.state
    url.check_count += 1
    url.last_checked_at = now
    url.state_reason = reason[:200]
    if verdict == "online" and rule == "media_match" and url.picture_confirmed_at is None:
        url.picture_confirmed_at = now
    if verdict == "indeterminate" and rule == "network":
        if url.network_failing_since is None:
            url.network_failing_since = now
        elif invalid_after is not None and now - url.network_failing_since >= invalid_after:
            verdict = "invalid"
            since = url.network_failing_since.strftime("%Y-%m-%d")
            url.state_reason = f"network failures since {since}: {reason}"[:200]
    elif verdict != "invalid":
        url.network_failing_since = None
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
