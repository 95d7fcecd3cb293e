"""Addresses on no registered platform: who a notice could go to instead, read from the
host's trace (its network's holder, or the CDN in front), or why nobody can be offered."""
from __future__ import annotations

from dataclasses import dataclass, field

from disrupt.cases.models import Case, ReportedURL
from disrupt.platforms.hosting import HOST_KINDS, BasisAdvice, legal_bases_for_country
from disrupt.tracing.cdn import cdn_from_holder
from disrupt.tracing.models import HostTrace


@dataclass(frozen=True)
class Recipient:
    kind: str  # a key of HOST_KINDS
    name: str
    email: str
    country: str | None

    @property
    def label(self) -> str:
        return f"Send to the {HOST_KINDS[self.kind]} ({self.name}, {self.email})"


@dataclass
class UnknownHost:
    host: str
    urls: list[ReportedURL]
    recipients: list[Recipient] = field(default_factory=list)
    #: why nothing is offered, or what is left out (a CDN without an abuse e-mail)
    reason: str | None = None
    advice: BasisAdvice | None = None


def recipients_from_trace(trace: HostTrace | None) -> tuple[list[Recipient], str | None]:
    """Who the trace says a notice can go to, and a sentence for what it cannot offer."""
    if trace is None or trace.traced_at is None:
        return [], "Not traced yet: the worker traces every new host, then the hosting " \
                   "provider is offered here."
    network = trace.network or {}
    if not network:
        problems = "; ".join(str(p) for p in trace.problems or []) or "no answer"
        return [], f"The trace found no network for this host ({problems})."
    holder = network.get("holder") or network.get("name")
    email = (network.get("abuse") or {}).get("email")
    country = network.get("country")
    if not email:
        return [], f"The network's holder ({holder or 'unnamed'}) gives no abuse e-mail " \
                   "in its RDAP record: nobody to send a notice to."
    if not holder:
        return [], "The network has no holder's name in its RDAP record."
    if cdn_from_holder(network.get("holder"), network.get("name")):
        # The address is the CDN's: the origin's host is hidden behind it.
        return [Recipient("cdn", holder, email, country)], None
    hosting = Recipient("hosting", holder, email, country)
    if trace.cdn:
        return [hosting], (f"{trace.cdn} is in front, but the trace has no abuse e-mail for "
                           "it: only the hosting provider is offered.")
    return [hosting], None


def unknown_hosts(case: Case, traces: dict[str, HostTrace]) -> list[UnknownHost]:
    """The case's addresses on no platform, by host, with their possible recipients."""
    by_host: dict[str, list[ReportedURL]] = {}
    for url in case.urls:
        if url.platform_id is None:
            by_host.setdefault(url.host or "", []).append(url)
    hosts = []
    for host, urls in sorted(by_host.items()):
        if not host:
            hosts.append(UnknownHost(host, urls, reason="No host name in this address."))
            continue
        recipients, reason = recipients_from_trace(traces.get(host))
        advice = legal_bases_for_country(recipients[0].country) if recipients else None
        hosts.append(UnknownHost(host, urls, recipients, reason, advice))
    return hosts
