"""One check of one URL: fetch it through the network guard and give a verdict."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from disrupt.monitoring.fetch import FetchResult, fetch

DETECTOR_VERSION = "status-1"


@dataclass(frozen=True)
class CheckSettings:
    allow_loopback: bool = False
    timeout: float = 15.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    user_agent: str = "DISRUPT-checker"

    @classmethod
    def from_config(cls, config: Any) -> CheckSettings:
        return cls(
            allow_loopback=bool(config["ALLOW_LOOPBACK"]),
            timeout=float(config["CHECK_TIMEOUT"]),
            max_bytes=int(config["CHECK_MAX_BYTES"]),
            max_redirects=int(config["CHECK_MAX_REDIRECTS"]),
            user_agent=config["USER_AGENT"],
        )


@dataclass
class CheckOutcome:
    verdict: str
    reason: str
    http_status: int | None
    final_url: str | None
    elapsed_ms: int
    body_digest: str | None = None
    distance: int | None = None
    redirect_chain: list[tuple[str, int]] = field(default_factory=list)
    retry_after: timedelta | None = None
    detector_version: str = DETECTOR_VERSION

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["retry_after"] = self.retry_after.total_seconds() if self.retry_after else None
        data["redirect_chain"] = [list(hop) for hop in self.redirect_chain]
        return data


def _retry_after(headers: dict[str, str]) -> timedelta | None:
    value = headers.get("retry-after")
    if value and value.strip().isdigit():
        return timedelta(seconds=min(int(value.strip()), 7 * 24 * 3600))
    return None


def judge(result: FetchResult) -> CheckOutcome:
    """Status-code rules: only what proves removal counts as removed (DESIGN.md §6)."""
    base = dict(
        http_status=result.status,
        final_url=result.final_url,
        elapsed_ms=result.elapsed_ms,
        body_digest=hashlib.sha256(result.body).hexdigest() if result.body else None,
        redirect_chain=list(result.redirect_chain),
        retry_after=_retry_after(result.headers or {}),
    )
    if result.error == "guard":
        return CheckOutcome("invalid", f"refused by the network guard: {result.refused_reason}",
                            **base)
    if result.error:
        return CheckOutcome("indeterminate", f"{result.error}: {result.error_detail}"[:200], **base)
    status = result.status or 0
    if status in (404, 410):
        return CheckOutcome("removed", f"HTTP {status}", **base)
    if status == 451:
        return CheckOutcome("restricted", "HTTP 451 unavailable for legal reasons", **base)
    if 200 <= status < 300:
        return CheckOutcome("online", f"HTTP {status}", **base)
    return CheckOutcome("indeterminate", f"HTTP {status} proves nothing", **base)


def check_url(url: str, settings: CheckSettings) -> CheckOutcome:
    result = fetch(
        url,
        allow_loopback=settings.allow_loopback,
        timeout=settings.timeout,
        max_bytes=settings.max_bytes,
        max_redirects=settings.max_redirects,
        user_agent=settings.user_agent,
    )
    return judge(result)
