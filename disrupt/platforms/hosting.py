"""Hosts no platform covers: the registry learns their hosting provider or CDN from plain
values (a name, an abuse e-mail, a country, the host) read from a trace by the caller, and
the legal basis a notice to it rests on follows its country. Never commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.platforms.models import Platform
from disrupt.platforms.services import (
    PlatformError,
    add_platform,
    normalize_domain,
    reattach_urls,
    update_platform,
)

#: What a learned platform is; the model has no such field, so it is written in its notes.
HOST_KINDS = {"hosting": "hosting provider", "cdn": "CDN"}

#: EU member states and the other EEA countries (ISO 3166-1 alpha-2; RIPE also writes "EU").
EEA_COUNTRIES = frozenset((
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "EU",
))


@dataclass(frozen=True)
class BasisAdvice:
    """The legal bases offered for a host's country, the default first, and why when the
    country has no basis of its own."""

    bases: tuple[str, ...]
    note: str | None = None


#: Countries with a basis of their own; every other EEA country gets DSA art. 16 alone.
COUNTRY_BASES: dict[str, tuple[str, ...]] = {
    "FR": ("dsa_art16", "lcen_art6"),
    "US": ("take_it_down",),
}


def legal_bases_for_country(country: str | None) -> BasisAdvice:
    code = (country or "").strip().upper()
    if code in COUNTRY_BASES:
        return BasisAdvice(COUNTRY_BASES[code])
    if code in EEA_COUNTRIES:
        return BasisAdvice(("dsa_art16",))
    where = f"the host's country ({code})" if code else "an unknown country"
    return BasisAdvice(("dsa_art16",), f"No legal basis of its own for {where}: DSA art. 16 is "
                       "offered as the default, which binds a provider serving people in the "
                       "EU; check what applies there.")


def learn_host_provider(session: Session, *, name: str, email: str, host: str, kind: str,
                        country: str | None, now: datetime) -> Platform:
    """The platform for ``host``'s hosting provider or CDN, created or reused by name, with
    ``host`` among its domains; every reported URL on the host is attached to it. A reused
    platform keeps the contact an admin gave it, and gets ``email`` only if it had none."""
    if kind not in HOST_KINDS:
        raise PlatformError(f"unknown kind of host {kind!r}")
    name = " ".join(name.split())[:120]
    if not name:
        raise PlatformError("the trace names no holder for this network", "name")
    domain = normalize_domain(host)
    code = (country or "").strip().upper()[:10] or None
    learned = (f"{now:%Y-%m-%d}: learned from a host trace as the {HOST_KINDS[kind]} of "
               f"{domain} (abuse contact {email}).")
    platform = session.scalar(select(Platform).where(Platform.name == name))
    if platform is None:
        platform = add_platform(
            session, name=name, domains=[domain], channel="email", contact=email,
            jurisdiction=code, default_legal_basis=legal_bases_for_country(code).bases[0],
            notes=f"Kind: {HOST_KINDS[kind]}.\n{learned}")
        reattach_urls(session)
        return platform
    fields: dict[str, object] = {}
    if domain not in {d.domain for d in platform.domains}:
        fields["domains"] = [d.domain for d in platform.domains] + [domain]
        fields["notes"] = "\n".join(filter(None, [platform.notes, learned]))
    if platform.channel == "none" or not platform.contact:
        fields.update(channel="email", contact=email)
    return update_platform(session, platform, **fields) if fields else platform
