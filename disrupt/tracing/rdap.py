"""A small RDAP client (RFC 7480–9083, bootstrap RFC 9224) over the checker's guarded fetch.

Who holds the network an address is in (its name, country and abuse contact), and which
registrar a domain is registered with (and the registrar's abuse contact). The IANA
bootstrap files say which server answers for a TLD or an address block; RIRs redirect
between each other and the guarded fetch follows (and checks) every hop. Answers are JSON
read under a byte cap; entities are walked to a bounded depth.
"""
from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: (url) -> (HTTP status or None, body bytes, error text or "", Retry-After seconds or None)
Getter = Callable[[str], "RDAPAnswer"]
MAX_ENTITY_DEPTH = 4


@dataclass(frozen=True)
class RDAPAnswer:
    url: str
    status: int | None
    body: bytes = b""
    error: str = ""
    retry_after: float | None = None


class RDAPError(Exception):
    """A lookup that gave no usable answer; ``retry_after`` when the server asked us to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Contact:
    name: str | None = None
    email: str | None = None


@dataclass
class NetworkInfo:
    handle: str | None
    name: str | None
    country: str | None
    holder: str | None
    abuse: Contact = field(default_factory=Contact)
    source: str = ""


@dataclass
class RegistrarInfo:
    name: str | None
    iana_id: str | None
    abuse: Contact = field(default_factory=Contact)
    source: str = ""


def _json(answer: RDAPAnswer, what: str) -> dict[str, Any]:
    if answer.error:
        raise RDAPError(f"{what}: {answer.error}")
    if answer.status == 429:
        raise RDAPError(f"{what}: rate limited (HTTP 429)", answer.retry_after or 60.0)
    if answer.status != 200:
        raise RDAPError(f"{what}: HTTP {answer.status}")
    try:
        data = json.loads(answer.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RDAPError(f"{what}: not JSON") from exc
    if not isinstance(data, dict):
        raise RDAPError(f"{what}: not an RDAP object")
    return data


class Bootstrap:
    """IANA's bootstrap registries (dns.json, ipv4.json, ipv6.json) under ``base_url``."""

    def __init__(self, base_url: str, get: Getter) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.get = get
        self._files: dict[str, list[tuple[list[str], list[str]]]] = {}

    def _services(self, name: str) -> list[tuple[list[str], list[str]]]:
        if name not in self._files:
            data = _json(self.get(self.base_url + name), f"bootstrap {name}")
            services = []
            for entry in data.get("services") or []:
                if (isinstance(entry, list) and len(entry) >= 2
                        and all(isinstance(part, list) for part in entry[:2])):
                    services.append(([str(k).lower() for k in entry[0]],
                                     [str(u) for u in entry[1]]))
            self._files[name] = services
        return self._files[name]

    @staticmethod
    def _pick(urls: list[str]) -> str:
        https = [u for u in urls if u.startswith("https://")]
        url = (https or urls)[0]
        return url if url.endswith("/") else url + "/"

    def for_domain(self, domain: str) -> str:
        labels = domain.lower().rstrip(".").split(".")
        best: tuple[int, list[str]] | None = None
        for keys, urls in self._services("dns.json"):
            for key in keys:
                size = key.count(".") + 1
                if labels[-size:] == key.split(".") and (best is None or size > best[0]):
                    best = (size, urls)
        if best is None:
            raise RDAPError(f"no RDAP server for .{labels[-1]}")
        return self._pick(best[1])

    def for_ip(self, address: str) -> str:
        ip = ipaddress.ip_address(address)
        name = "ipv4.json" if ip.version == 4 else "ipv6.json"
        best: tuple[int, list[str]] | None = None
        for keys, urls in self._services(name):
            for key in keys:
                try:
                    network = ipaddress.ip_network(key, strict=False)
                except ValueError:
                    continue
                if ip in network and (best is None or network.prefixlen > best[0]):
                    best = (network.prefixlen, urls)
        if best is None:
            raise RDAPError(f"no RDAP server for {address}")
        return self._pick(best[1])


def _vcard(entity: dict[str, Any]) -> dict[str, str]:
    card: dict[str, str] = {}
    array = entity.get("vcardArray")
    if isinstance(array, list) and len(array) == 2 and isinstance(array[1], list):
        for prop in array[1][:200]:
            if isinstance(prop, list) and len(prop) >= 4 and isinstance(prop[3], str):
                card.setdefault(str(prop[0]).lower(), prop[3])
    return card


def _entities(obj: dict[str, Any], depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    if depth >= MAX_ENTITY_DEPTH:
        return
    for entity in (obj.get("entities") or [])[:100]:
        if isinstance(entity, dict):
            yield entity, depth
            yield from _entities(entity, depth + 1)


def _roles(entity: dict[str, Any]) -> set[str]:
    return {str(r).lower() for r in entity.get("roles") or [] if isinstance(r, str)}


def _contact(entity: dict[str, Any]) -> Contact:
    card = _vcard(entity)
    email = card.get("email", "").removeprefix("mailto:") or None
    return Contact(name=card.get("fn") or None, email=email)


def _self_link(data: dict[str, Any], fallback: str) -> str:
    for link in data.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return fallback


def parse_network(data: dict[str, Any], source: str) -> NetworkInfo:
    holder = abuse = None
    for entity, _depth in _entities(data):
        roles = _roles(entity)
        if holder is None and roles & {"registrant", "administrative"}:
            holder = _contact(entity).name
        if abuse is None and "abuse" in roles:
            abuse = _contact(entity)
    country = data.get("country")
    return NetworkInfo(handle=_str(data.get("handle")), name=_str(data.get("name")),
                       country=country.upper()[:2] if isinstance(country, str) else None,
                       holder=holder, abuse=abuse or Contact(), source=_self_link(data, source))


def parse_domain(data: dict[str, Any], source: str) -> RegistrarInfo:
    for entity, depth in _entities(data):
        if depth == 0 and "registrar" in _roles(entity):
            abuse = next((_contact(inner) for inner, _ in _entities(entity)
                          if "abuse" in _roles(inner)), Contact())
            iana = next((_str(p.get("identifier")) for p in entity.get("publicIds") or []
                         if isinstance(p, dict) and "iana" in str(p.get("type", "")).lower()),
                        None)
            return RegistrarInfo(name=_contact(entity).name, iana_id=iana, abuse=abuse,
                                 source=_self_link(data, source))
    return RegistrarInfo(name=None, iana_id=None, source=_self_link(data, source))


def _str(value: Any) -> str | None:
    return str(value)[:200] if isinstance(value, str | int) and str(value) else None


def lookup_network(bootstrap: Bootstrap, address: str) -> NetworkInfo:
    url = bootstrap.for_ip(address) + "ip/" + address
    answer = bootstrap.get(url)
    return parse_network(_json(answer, f"network of {address}"), answer.url)


def lookup_registrar(bootstrap: Bootstrap, domain: str) -> RegistrarInfo:
    url = bootstrap.for_domain(domain) + "domain/" + domain
    answer = bootstrap.get(url)
    return parse_domain(_json(answer, f"domain {domain}"), answer.url)
