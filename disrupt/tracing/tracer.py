"""Tracing one host: resolve it, ask RDAP who holds each network and which registrar holds
the domain, and look at the site's answer for a CDN. Network I/O only through the checker's
guarded fetch (every hop checked, bytes and time capped)."""
from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from disrupt.monitoring.fetch import FetchResult, fetch
from disrupt.monitoring.guard import GuardRefused, check_ip, parse_ip_literal
from disrupt.platforms.hosts import icann_registrable_domain
from disrupt.tracing.cdn import cdn_from_headers, cdn_from_holder
from disrupt.tracing.rdap import (
    Bootstrap,
    RDAPAnswer,
    RDAPError,
    lookup_network,
    lookup_registrar,
)

RDAP_MAX_BYTES = 1_000_000
Resolver = Callable[[str], list[str]]
#: ``site_turn(host)`` holds the host's politeness turn around the request to the site
#: itself, yielding False when no turn came (the site is then not asked).
SiteTurn = Callable[[str], AbstractContextManager[bool]]


@dataclass(frozen=True)
class TraceSettings:
    bootstrap_url: str
    allow_loopback: bool = False
    timeout: float = 15.0
    user_agent: str = "DISRUPT RDAP client"

    @classmethod
    def from_config(cls, config: Any) -> TraceSettings:
        return cls(bootstrap_url=config["RDAP_BOOTSTRAP_URL"],
                   allow_loopback=bool(config["ALLOW_LOOPBACK"]),
                   timeout=float(config["CHECK_TIMEOUT"]))


@dataclass
class TraceResult:
    host: str
    addresses: list[str] = field(default_factory=list)
    network: dict[str, Any] | None = None
    registrar: dict[str, Any] | None = None
    cdn: str | None = None
    cdn_evidence: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    retry_after: float | None = None

    @property
    def status(self) -> str:
        if not self.problems:
            return "ok"
        return "partial" if self.network or self.registrar or self.addresses else "failed"


def system_resolver(host: str) -> list[str]:
    seen: dict[str, None] = {}
    for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM):
        seen.setdefault(str(info[4][0]), None)
    return list(seen)


class Tracer:
    def __init__(self, settings: TraceSettings, *, now: Callable[[], datetime],
                 resolve: Resolver = system_resolver,
                 site_turn: SiteTurn = lambda host: nullcontext(True)) -> None:
        self.settings = settings
        self.now = now
        self.resolve = resolve
        self.site_turn = site_turn

    def _fetch(self, url: str, max_bytes: int) -> FetchResult:
        s = self.settings
        return fetch(url, allow_loopback=s.allow_loopback, timeout=s.timeout,
                     max_bytes=max_bytes, user_agent=s.user_agent)

    def trace(self, host: str, origin: str) -> TraceResult:
        result = TraceResult(host=host)

        def get(url: str) -> RDAPAnswer:
            fetched = self._fetch(url, RDAP_MAX_BYTES)
            result.evidence.append({"url": fetched.final_url or url, "status": fetched.status,
                                    "at": self.now().isoformat()})
            retry = fetched.headers.get("retry-after", "") if fetched.headers else ""
            error = fetched.error and f"{fetched.error}: {fetched.error_detail}"[:200]
            if fetched.truncated:
                error = f"answer larger than {RDAP_MAX_BYTES} bytes"
            return RDAPAnswer(url=fetched.final_url or url, status=fetched.status,
                              body=fetched.body, error=error or "",
                              retry_after=float(retry) if retry.isdigit() else None)

        bootstrap = Bootstrap(self.settings.bootstrap_url, get)
        literal = parse_ip_literal(host)
        try:
            addresses = [str(literal)] if literal is not None else self.resolve(host)
            for address in addresses:
                check_ip(address, allow_loopback=self.settings.allow_loopback)
            result.addresses = addresses
        except (OSError, GuardRefused) as exc:
            result.problems.append(f"addresses: {type(exc).__name__}: {str(exc)[:120]}")
        if result.addresses:
            self._part(result, "network", lambda: asdict(
                lookup_network(bootstrap, result.addresses[0])))
        domain = None if literal is not None else icann_registrable_domain(host)
        if domain:
            self._part(result, "registrar", lambda: asdict(lookup_registrar(bootstrap, domain)))
        self._cdn(result, origin)
        return result

    @staticmethod
    def _part(result: TraceResult, name: str, lookup: Callable[[], dict[str, Any]]) -> None:
        try:
            setattr(result, name, lookup())
        except (RDAPError, ValueError) as exc:
            result.problems.append(f"{name}: {str(exc)[:160]}")
            retry = getattr(exc, "retry_after", None)
            if retry:
                result.retry_after = max(result.retry_after or 0.0, retry)

    def _cdn(self, result: TraceResult, origin: str) -> None:
        """From the headers of the site's own answer (its home page, not the victim's
        page), else from the name of the network's holder."""
        network = result.network or {}
        holder = cdn_from_holder(network.get("holder"), network.get("name"))
        answer = None
        if result.addresses:
            with self.site_turn(result.host) as turn:
                answer = self._fetch(origin + "/", 65_536) if turn else None
        if answer is not None:
            found = cdn_from_headers(answer.headers or {}) if not answer.error else None
            if found:
                result.cdn, result.cdn_evidence = found[0], f"response header {found[1]}"
                return
        if holder:
            result.cdn, result.cdn_evidence = holder, "the network's holder"
