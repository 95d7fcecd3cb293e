"""The checker's network guard also vouches for the other features' outbound requests (an
API notice to a platform): they ask through `events.outbound_address`, since they cannot
import this package."""
from __future__ import annotations

import httpx

from disrupt.events import outbound_address
from disrupt.monitoring.fetch import DEFAULT_PORTS
from disrupt.monitoring.guard import GuardRefused, check_port, check_scheme, resolve_host


class OutboundRefused(ValueError):
    """The guard's refusal, as a ValueError the asking feature can catch."""


def checked_address(url: str, *, allow_loopback: bool, timeout: float,
                    **_: object) -> tuple[str, int]:
    """The (IP address, port) to connect to for `url`, checked as the checker checks a
    reported URL; raises OutboundRefused."""
    try:
        target = httpx.URL(url)
        check_scheme(target.scheme)
        host = target.host
        if not host:
            raise GuardRefused("bad_url", "Refused a URL without a host.")
        port = DEFAULT_PORTS[target.scheme] if target.port is None else target.port
        check_port(port)
        return resolve_host(host, port, allow_loopback=allow_loopback, timeout=timeout), port
    except (GuardRefused, httpx.InvalidURL, TimeoutError, UnicodeError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise OutboundRefused(f"refused by the network guard ({reason})") from exc


def connect() -> None:
    outbound_address.connect(checked_address)
