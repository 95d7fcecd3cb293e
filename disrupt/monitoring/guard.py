"""Network guard: which addresses and ports the URL checker may connect to.

The checker fetches URLs that strangers submitted, so every connection must go
to an address on the public Internet, never to the network the service runs in
(DESIGN.md §6). The rules:

* **Addresses** – only globally reachable unicast addresses. Everything in the
  IANA special-purpose registries that is not globally reachable is refused,
  explicitly (the answer of :mod:`ipaddress` differs between Python versions and
  misses several ranges), and addresses that *embed* an IPv4 address
  (IPv4-mapped, IPv4-compatible, SIIT, NAT64, 6to4) are judged by the IPv4
  address they carry. Native IPv6 must be inside 2000::/3, the only block IANA
  allocates global unicast from. ``allow_loopback=True`` (tests, the demo:
  ``DISRUPT_ALLOW_LOOPBACK=1``) lets through 127.0.0.0/8, ::1 and the
  IPv4-mapped forms of 127.0.0.0/8 – nothing else.
* **Ports** – 80, 443, and 1024–65535 minus the ports the Fetch Standard calls
  "bad ports" (what a browser refuses: X11, IRC, SIP, NFS, …). Ports below 1024
  other than 80/443 are mail, SSH, DNS, LDAP…: no web page lives there, and an
  HTTP request to them is a protocol-smuggling attempt.
* **Names** – resolved once. If *any* of the addresses a name resolves to is
  refused, the name is refused: a name that mixes public and private addresses
  is either misconfigured or an attack, and picking "the public one" would make
  the answer depend on resolver ordering. The caller then connects to the very
  address that was checked (no second lookup, so no DNS rebinding).
* **Numeric hosts** – hosts such as ``2130706433``, ``0177.0.0.1``, ``0x7f.1``
  or ``127.1`` are read the way ``inet_aton``/the OS resolver and browsers read
  them (they all mean 127.0.0.1) and checked as the address they denote; a host
  that looks numeric but is not a valid address is refused instead of being
  handed to DNS.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable

from disrupt.urls.ip import IPAddress, parse_ip_literal

#: Machine-readable reasons carried by :class:`GuardRefused`.
REASONS = frozenset(
    {
        "non_http_scheme",
        "bad_port",
        "bad_host",
        "bad_url",
        "unresolvable",
        "loopback",
        "private_address",
        "link_local",
        "metadata",
        "cgnat",
        "unspecified",
        "multicast",
        "broadcast",
        "documentation",
        "benchmarking",
        "unique_local",
        "site_local",
        "reserved",
        "translated",
    }
)

ALLOWED_SCHEMES = frozenset({"http", "https"})

#: Fetch Standard "bad ports" at or above 1024 (https://fetch.spec.whatwg.org/#bad-port).
BAD_HIGH_PORTS = frozenset(
    {1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566,
     6665, 6666, 6667, 6668, 6669, 6697, 10080}
)


class GuardRefused(Exception):
    """The guard refused a scheme, port, host or address.

    ``reason`` is a short machine code from :data:`REASONS`; ``str(exc)`` is a
    sentence for logs and caseworkers.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"GuardRefused({self.reason!r}, {self.message!r})"


def _nets(*specs: tuple[str, str]) -> list[tuple[ipaddress._BaseNetwork, str]]:
    return [(ipaddress.ip_network(net), reason) for net, reason in specs]


# Order matters: the first match gives the reason (specific before general).
_METADATA_V4 = {ipaddress.IPv4Address("169.254.169.254"), ipaddress.IPv4Address("169.254.170.2"),
                ipaddress.IPv4Address("100.100.100.200"), ipaddress.IPv4Address("192.0.0.192")}
_METADATA_V6 = {ipaddress.IPv6Address("fd00:ec2::254")}

_V4_REFUSED = _nets(
    ("0.0.0.0/8", "unspecified"),           # "this network"; 0.0.0.0 reaches the local host
    ("10.0.0.0/8", "private_address"),
    ("100.64.0.0/10", "cgnat"),             # shared address space (RFC 6598)
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link_local"),
    ("172.16.0.0/12", "private_address"),
    ("192.0.0.0/24", "reserved"),           # IETF protocol assignments
    ("192.0.2.0/24", "documentation"),      # TEST-NET-1
    ("192.31.196.0/24", "reserved"),        # AS112
    ("192.52.193.0/24", "reserved"),        # AMT
    ("192.88.99.0/24", "reserved"),         # deprecated 6to4 relay anycast
    ("192.168.0.0/16", "private_address"),
    ("192.175.48.0/24", "reserved"),        # AS112 direct delegation
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),   # TEST-NET-2
    ("203.0.113.0/24", "documentation"),    # TEST-NET-3
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)

_V6_REFUSED = _nets(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("100::/64", "reserved"),               # discard-only
    ("2001::/32", "translated"),            # Teredo
    ("2001::/23", "reserved"),              # IETF protocol assignments
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "reserved"),              # SRv6 SIDs
    ("fc00::/7", "unique_local"),
    ("fe80::/10", "link_local"),
    ("fec0::/10", "site_local"),
    ("ff00::/8", "multicast"),
)

_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_V4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")   # SIIT (RFC 2765)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")

_MESSAGES = {
    "loopback": "is a loopback address (this machine)",
    "private_address": "is a private network address",
    "link_local": "is a link-local address",
    "metadata": "is a cloud metadata service address",
    "cgnat": "is in the carrier-grade NAT shared range",
    "unspecified": "is an unspecified/'this network' address",
    "multicast": "is a multicast address",
    "broadcast": "is the broadcast address",
    "documentation": "is reserved for documentation",
    "benchmarking": "is reserved for benchmarking",
    "unique_local": "is an IPv6 unique local address",
    "site_local": "is an IPv6 site-local address",
    "reserved": "is in a reserved or special-purpose range",
    "translated": "is an IPv4/IPv6 translation address",
}


def _refuse(ip: IPAddress, reason: str, via: str = "") -> GuardRefused:
    what = f"{ip} ({via})" if via else str(ip)
    return GuardRefused(reason, f"Refused address {what}: it {_MESSAGES[reason]}.")


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    """The refusal reason for an IPv4 address, or None if it is globally reachable."""
    if ip in _METADATA_V4:
        return "metadata"
    for net, reason in _V4_REFUSED:
        if ip in net:
            return reason
    if not ip.is_global:  # belt and braces: anything Python knows to be non-global
        return "reserved"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, with the name of the form."""
    n = int(ip)
    if ip in _V4_MAPPED:
        return ipaddress.IPv4Address(n & 0xFFFFFFFF), "IPv4-mapped"
    if ip in _V4_TRANSLATED:
        return ipaddress.IPv4Address(n & 0xFFFFFFFF), "IPv4-translated"
    if ip in _NAT64:
        return ipaddress.IPv4Address(n & 0xFFFFFFFF), "NAT64"
    if ip in _NAT64_LOCAL:
        # RFC 6052 /48 layout: octets 6-7 and 9-10 carry the address (octet 8 is "u").
        b = ip.packed
        return ipaddress.IPv4Address(bytes([b[6], b[7], b[9], b[10]])), "local-use NAT64"
    if ip in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((n >> 80) & 0xFFFFFFFF), "6to4"
    if ip in _V4_COMPATIBLE and n > 1:
        return ipaddress.IPv4Address(n & 0xFFFFFFFF), "IPv4-compatible"
    return None


def _as_ip(ip: str | IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    text = str(ip).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise GuardRefused("bad_host", f"Refused {text!r}: not an IP address.") from None


def check_ip(ip: str | IPAddress, *, allow_loopback: bool) -> None:
    """Raise :class:`GuardRefused` unless ``ip`` is a globally reachable address.

    With ``allow_loopback`` only 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 are let
    through in addition; every other refusal stands.
    """
    addr = _as_ip(ip)
    if isinstance(addr, ipaddress.IPv4Address):
        reason = _v4_reason(addr)
        if reason is None or (reason == "loopback" and allow_loopback):
            return
        raise _refuse(addr, reason)

    if addr.scope_id:
        # A zone index only makes sense for link-local addresses.
        raise _refuse(addr, "link_local")
    if addr in _METADATA_V6:
        raise _refuse(addr, "metadata")
    if addr == ipaddress.IPv6Address("::1"):
        if allow_loopback:
            return
        raise _refuse(addr, "loopback")

    embedded = _embedded_v4(addr)
    if embedded is not None:
        v4, form = embedded
        reason = _v4_reason(v4)
        via = f"{form} form of {v4}"
        if form == "IPv4-mapped":
            # The kernel connects an AF_INET6 socket to ::ffff:a.b.c.d as a.b.c.d.
            if reason is None or (reason == "loopback" and allow_loopback):
                return
            raise _refuse(addr, reason, via)
        if reason is not None:
            raise _refuse(addr, reason, via)
        if form in ("NAT64", "6to4"):
            return  # public IPv4 behind a well-known, globally routed translation prefix
        raise _refuse(addr, "translated", via)  # deprecated / local-use forms

    for net, reason in _V6_REFUSED:
        if addr in net:
            raise _refuse(addr, reason)
    if addr not in _V6_GLOBAL_UNICAST or not addr.is_global:
        raise _refuse(addr, "reserved")


def check_scheme(scheme: str) -> None:
    """Raise :class:`GuardRefused` ("non_http_scheme") unless scheme is http or https."""
    if scheme.lower() not in ALLOWED_SCHEMES:
        raise GuardRefused(
            "non_http_scheme", f"Refused scheme {scheme!r}: only http and https are fetched."
        )


def port_allowed(port: int) -> bool:
    """80, 443 and 1024–65535 except the Fetch Standard's bad ports."""
    if port in (80, 443):
        return True
    return 1024 <= port <= 65535 and port not in BAD_HIGH_PORTS


def check_port(port: int) -> None:
    """Raise :class:`GuardRefused` ("bad_port") for a port the checker never connects to."""
    if not isinstance(port, int) or not port_allowed(port):
        raise GuardRefused(
            "bad_port", f"Refused port {port!r}: only 80, 443 and unprivileged ports are fetched."
        )


def _getaddrinfo(host: str, port: int, timeout: float | None) -> list[str]:
    def lookup() -> list[str]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [info[4][0] for info in infos]

    if timeout is None:
        return lookup()
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = lookup()
        except BaseException as exc:  # handed over to the calling thread
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(max(timeout, 0.0))
    if worker.is_alive():
        raise TimeoutError(f"resolving {host!r} took longer than {timeout:.1f}s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def _unique(addresses: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for a in addresses:
        seen.setdefault(a, None)
    return list(seen)


def _resolve_name(host: str, name: str, port: int, timeout: float | None) -> list[str]:
    """The addresses of a public domain name, looked up once; refused names raise."""
    if "." not in name and name != "localhost":
        # A single label would be completed with the resolver's search domains,
        # i.e. looked up inside the local network.
        raise GuardRefused("bad_host", f"Refused host {host!r}: not a public domain name.")
    if any(c in name for c in "/\\@%? \t\r\n\x00#"):
        raise GuardRefused("bad_host", f"Refused host {host!r}: invalid characters.")
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        raise GuardRefused(
            "bad_host", f"Refused host {host!r}: internationalised names must be punycode."
        ) from None
    try:
        addresses = _unique(_getaddrinfo(name, port, timeout))
    except TimeoutError:
        raise
    except (UnicodeError, OSError) as exc:  # socket.gaierror is an OSError
        raise GuardRefused("unresolvable", f"Could not resolve {host!r}: {exc}.") from None
    if not addresses:
        raise GuardRefused("unresolvable", f"Could not resolve {host!r}: no address.")
    return addresses


def resolve_host(
    host: str, port: int, *, allow_loopback: bool, timeout: float | None = None
) -> str:
    """Resolve ``host`` once and return the checked address to connect to.

    Raises :class:`GuardRefused` when the port is refused, the host is
    malformed or unresolvable, or *any* resolved address is refused. IPv4-mapped
    IPv6 results are returned as the IPv4 address they stand for. ``timeout``
    bounds the lookup (``TimeoutError``); the lookup thread is abandoned then.
    """
    check_port(port)
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name.endswith(".") and not name.endswith(".."):
        name = name[:-1]
    if not name:
        raise GuardRefused("bad_host", "Refused an empty host name.")

    try:
        literal = parse_ip_literal(name)
    except ValueError as exc:
        raise GuardRefused("bad_host", f"Refused host {host!r}: {exc}.") from None
    addresses = ([str(literal)] if literal is not None
                 else _resolve_name(host, name, port, timeout))

    checked: list[IPAddress] = []
    for text in addresses:
        addr = _as_ip(text)
        try:
            check_ip(addr, allow_loopback=allow_loopback)
        except GuardRefused as exc:
            if literal is None:
                message = f"{host!r} resolves to a refused address. {exc}"
                raise GuardRefused(exc.reason, message) from None
            raise
        checked.append(addr)

    first = checked[0]
    if isinstance(first, ipaddress.IPv6Address) and first.ipv4_mapped is not None:
        return str(first.ipv4_mapped)
    return str(first)
