"""The network guard: addresses, ports, host forms. No traffic leaves the machine:
names other than "localhost" are answered by a stand-in for getaddrinfo."""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

from disrupt.monitoring import guard
from disrupt.monitoring.fetch import fetch
from disrupt.monitoring.guard import (
    REASONS,
    GuardRefused,
    check_ip,
    check_port,
    check_scheme,
    parse_ip_literal,
    port_allowed,
    resolve_host,
)

# (address, reason with allow_loopback off)
REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private_address"),
    ("10.255.255.255", "private_address"),
    ("100.64.0.1", "cgnat"),
    ("100.127.255.254", "cgnat"),
    ("100.100.100.200", "metadata"),          # Alibaba Cloud
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.0.1", "link_local"),
    ("169.254.169.254", "metadata"),          # AWS, GCP, Azure, OpenStack
    ("169.254.170.2", "metadata"),            # ECS task metadata
    ("172.16.0.1", "private_address"),
    ("172.31.255.255", "private_address"),
    ("192.0.0.1", "reserved"),
    ("192.0.0.192", "metadata"),              # Oracle Cloud
    ("192.0.2.1", "documentation"),
    ("192.88.99.1", "reserved"),
    ("192.168.1.1", "private_address"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),         # IPv4-mapped
    ("::ffff:10.0.0.1", "private_address"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("::127.0.0.1", "loopback"),              # IPv4-compatible (deprecated)
    ("::10.0.0.1", "private_address"),
    ("::8.8.8.8", "translated"),
    ("::ffff:0:127.0.0.1", "loopback"),       # SIIT IPv4-translated
    ("64:ff9b::127.0.0.1", "loopback"),       # NAT64 well-known prefix
    ("64:ff9b::10.0.0.1", "private_address"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("64:ff9b::100.64.0.1", "cgnat"),
    ("64:ff9b:1:808:8:800::", "translated"),  # local-use NAT64 (8.8.8.8) is never global
    ("64:ff9b:1:7f00:0:100::", "loopback"),   # ... and carries 127.0.0.1 (RFC 6052 /48)
    ("2002:7f00:1::", "loopback"),            # 6to4 of 127.0.0.1
    ("2002:a00:1::1", "private_address"),
    ("2002:c0a8:101::", "private_address"),
    ("2002:a9fe:a9fe::", "metadata"),
    ("2001::1", "translated"),                # Teredo
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "translated"),
    ("2001:2::1", "reserved"),                # benchmarking
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "reserved"),                   # discard-only
    ("5f00::1", "reserved"),
    ("4000::1", "reserved"),                  # outside 2000::/3
    ("fc00::1", "unique_local"),
    ("fd12:3456:789a::1", "unique_local"),
    ("fd00:ec2::254", "metadata"),            # AWS IMDS over IPv6
    ("fe80::1", "link_local"),
    ("fe80::1%eth0", "link_local"),
    ("fec0::1", "site_local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "151.101.1.140",
    "100.63.255.255",      # just below CGNAT
    "100.128.0.0",         # just above
    "172.32.0.1",          # just outside 172.16/12
    "198.20.0.1",          # just outside 198.18/15
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4007:80a::200e",
    "::ffff:8.8.8.8",      # IPv4-mapped public address
    "64:ff9b::8.8.8.8",    # NAT64 of a public address
    "2002:808:808::1",     # 6to4 of a public address
]

LOOPBACK_ONLY = ["127.0.0.1", "127.0.0.53", "127.255.255.254", "::1", "::ffff:127.0.0.1",
                 "::ffff:127.1.2.3"]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses(address: str, reason: str) -> None:
    with pytest.raises(GuardRefused) as info:
        check_ip(address, allow_loopback=False)
    assert info.value.reason == reason
    assert info.value.reason in REASONS
    assert str(info.value)


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_allow_loopback_lets_only_loopback_through(address: str, reason: str) -> None:
    if address in LOOPBACK_ONLY:
        check_ip(address, allow_loopback=True)
        return
    with pytest.raises(GuardRefused) as info:
        check_ip(address, allow_loopback=True)
    assert info.value.reason == reason


@pytest.mark.parametrize("address", LOOPBACK_ONLY)
def test_loopback_forms(address: str) -> None:
    check_ip(address, allow_loopback=True)
    with pytest.raises(GuardRefused, match="loopback"):
        check_ip(address, allow_loopback=False)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_accepted(address: str) -> None:
    check_ip(address, allow_loopback=False)
    check_ip(ipaddress.ip_address(address), allow_loopback=False)


def test_address_objects_and_brackets() -> None:
    with pytest.raises(GuardRefused):
        check_ip(ipaddress.IPv4Address("10.1.2.3"), allow_loopback=True)
    with pytest.raises(GuardRefused):
        check_ip("[::1]", allow_loopback=False)
    with pytest.raises(GuardRefused) as info:
        check_ip("not-an-ip", allow_loopback=True)
    assert info.value.reason == "bad_host"


def test_reasons_from_spec_exist() -> None:
    for reason in ("private_address", "loopback", "link_local", "unresolvable", "bad_port",
                   "non_http_scheme"):
        assert reason in REASONS


# --- ports and schemes -------------------------------------------------------------

@pytest.mark.parametrize("port", [80, 443, 1024, 8080, 8443, 32768, 65535])
def test_ports_allowed(port: int) -> None:
    check_port(port)


@pytest.mark.parametrize("port", [0, 1, 21, 22, 23, 25, 53, 110, 143, 389, 445, 587, 993, 1023,
                                  2049, 5060, 6000, 6667, 10080, 65536, -1])
def test_ports_refused(port: int) -> None:
    assert not port_allowed(port)
    with pytest.raises(GuardRefused) as info:
        check_port(port)
    assert info.value.reason == "bad_port"


@pytest.mark.parametrize("scheme", ["ftp", "file", "gopher", "javascript", "data", "ws", ""])
def test_schemes_refused(scheme: str) -> None:
    with pytest.raises(GuardRefused) as info:
        check_scheme(scheme)
    assert info.value.reason == "non_http_scheme"
    check_scheme("HTTPS")
    check_scheme("http")


# --- host forms --------------------------------------------------------------------

# What inet_aton (the OS resolver) and browsers make of odd numeric hosts.
NUMERIC_FORMS = [
    ("2130706433", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0x7F.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("10.1", "10.0.0.1"),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ("2852039166", "169.254.169.254"),
    ("0251.0376.0251.0376", "169.254.169.254"),
    ("3232235777", "192.168.1.1"),
    ("8.8.8.8", "8.8.8.8"),
]


@pytest.mark.parametrize(("host", "address"), NUMERIC_FORMS)
def test_numeric_hosts_read_like_the_os(host: str, address: str) -> None:
    assert str(parse_ip_literal(host)) == address
    assert socket.inet_ntoa(socket.inet_aton(host)) == address


@pytest.mark.parametrize("host", ["example.com", "1.example", "a1", "localhost", "0x.example"])
def test_names_are_not_ip_literals(host: str) -> None:
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.0.0.1", "0x1g.1", "4294967296", "08.0.0.1",
                                  "1.2.3.0400", "1..2", "[::1", "fe80::1%25eth0"])
def test_malformed_numeric_hosts(host: str) -> None:
    with pytest.raises(ValueError):
        parse_ip_literal(host)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """getaddrinfo answers from a table; "localhost" goes to the real resolver
    (/etc/hosts); anything else fails the test rather than reach the network."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def fake(host: str, port: object, *args: object, **kwargs: object) -> list[tuple]:
        if host in table:
            out = []
            for ip in table[host]:
                fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
                out.append((fam, socket.SOCK_STREAM, 6, "", (ip, port)))
            return out
        if host == "localhost":
            return real(host, port, *args, **kwargs)
        pytest.fail(f"unexpected DNS lookup of {host!r}")

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    yield table


HOST_FORMS = [
    ("2130706433", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("0x7f.1", "loopback"),
    ("127.1", "loopback"),
    ("127.0.0.1.", "loopback"),
    ("0x7f000001", "loopback"),
    ("0", "unspecified"),
    ("localhost", "loopback"),
    ("LOCALHOST", "loopback"),
    ("localhost.", "loopback"),
    ("[::1]", "loopback"),
    ("::1", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("[::ffff:7f00:1]", "loopback"),
    ("[64:ff9b::7f00:1]", "loopback"),
    ("169.254.169.254", "metadata"),
    ("0xa9.0xfe.0xa9.0xfe", "metadata"),
    ("2852039166", "metadata"),
    ("[fd00:ec2::254]", "metadata"),
    ("10.1", "private_address"),
    ("1.2.3.4.5", "bad_host"),
    ("999999999999", "bad_host"),
    ("intranet", "bad_host"),            # single label: resolver search domains
    ("", "bad_host"),
    ("evil.example", "private_address"),     # resolves to 10.0.0.1
    ("loop.example", "loopback"),            # resolves to 127.0.0.1
    ("mixed.example", "loopback"),           # one public, one loopback address
    ("mapped.example", "metadata"),          # AAAA ::ffff:169.254.169.254
    ("nat64.example", "private_address"),    # AAAA 64:ff9b::192.168.0.1
    ("metadata.google.internal", "metadata"),
    ("nowhere.example", "unresolvable"),
]


def _fill(table: dict[str, list[str]]) -> None:
    table.update({
        "evil.example": ["10.0.0.1"],
        "loop.example": ["127.0.0.1"],
        "mixed.example": ["93.184.216.34", "127.0.0.1"],
        "mapped.example": ["::ffff:169.254.169.254"],
        "nat64.example": ["64:ff9b::c0a8:1"],
        "metadata.google.internal": ["169.254.169.254"],
        "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "public-mapped.example": ["::ffff:93.184.216.34"],
    })


@pytest.mark.parametrize(("host", "reason"), HOST_FORMS)
def test_resolve_host_refuses(fake_dns: dict[str, list[str]], host: str, reason: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(fake_dns)
    if host == "nowhere.example":
        def nxdomain(*args: object, **kwargs: object) -> list[str]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        monkeypatch.setattr(guard, "_getaddrinfo", nxdomain)
    with pytest.raises(GuardRefused) as info:
        resolve_host(host, 443, allow_loopback=False)
    assert info.value.reason == reason


def test_resolve_host_loopback_setting(fake_dns: dict[str, list[str]]) -> None:
    _fill(fake_dns)
    assert resolve_host("2130706433", 8080, allow_loopback=True) == "127.0.0.1"
    assert resolve_host("0x7f.1", 8080, allow_loopback=True) == "127.0.0.1"
    assert resolve_host("[::1]", 8080, allow_loopback=True) == "::1"
    assert resolve_host("[::ffff:127.0.0.1]", 8080, allow_loopback=True) == "127.0.0.1"
    assert ipaddress.ip_address(resolve_host("localhost", 8080, allow_loopback=True)).is_loopback
    assert resolve_host("loop.example", 8080, allow_loopback=True) == "127.0.0.1"
    # Public + loopback: with loopback allowed every address passes; the first is used.
    assert resolve_host("mixed.example", 8080, allow_loopback=True) == "93.184.216.34"
    for host in ("evil.example", "mapped.example", "nat64.example", "169.254.169.254"):
        with pytest.raises(GuardRefused):
            resolve_host(host, 8080, allow_loopback=True)


def test_resolve_host_returns_first_checked_address(fake_dns: dict[str, list[str]]) -> None:
    _fill(fake_dns)
    assert resolve_host("public.example", 443, allow_loopback=False) == "93.184.216.34"
    assert resolve_host("PUBLIC.EXAMPLE.", 443, allow_loopback=False) == "93.184.216.34"
    assert resolve_host("public-mapped.example", 443, allow_loopback=False) == "93.184.216.34"
    assert resolve_host("8.8.8.8", 80, allow_loopback=False) == "8.8.8.8"
    assert resolve_host("[2606:4700:4700::1111]", 443, allow_loopback=False) == \
        "2606:4700:4700::1111"


def test_resolve_host_refuses_bad_port_before_resolving(fake_dns: dict[str, list[str]]) -> None:
    with pytest.raises(GuardRefused) as info:
        resolve_host("smtp.example", 25, allow_loopback=False)
    assert info.value.reason == "bad_port"


def test_resolve_host_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    def slow(*args: object, **kwargs: object) -> list[tuple]:
        time.sleep(2)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        resolve_host("slow.example", 443, allow_loopback=False, timeout=0.2)
    assert time.monotonic() - started < 1.0


# --- URL forms through fetch(): refused before any connection ------------------------

URL_FORMS = [
    ("http://127.0.0.1:8080/", "loopback"),
    ("http://2130706433:8080/", "loopback"),
    ("http://0177.0.0.1:8080/", "loopback"),
    ("http://0x7f.1:8080/", "loopback"),
    ("http://127.1:8080/", "loopback"),
    ("http://localhost:8080/", "loopback"),
    ("https://localhost/", "loopback"),
    ("http://[::1]:8080/", "loopback"),
    ("http://[::ffff:127.0.0.1]:8080/", "loopback"),
    ("http://[0:0:0:0:0:ffff:7f00:1]:8080/", "loopback"),
    ("http://[64:ff9b::7f00:1]:8080/", "loopback"),
    ("http://[2002:7f00:1::]:8080/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
    ("http://[::ffff:a9fe:a9fe]/", "metadata"),
    ("http://10.0.0.1/", "private_address"),
    ("http://192.168.0.1:8443/", "private_address"),
    ("http://100.64.0.1/", "cgnat"),
    ("http://0.0.0.0:8080/", "unspecified"),
    ("http://[fe80::1]/", "link_local"),
    ("http://[fc00::1]/", "unique_local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://8.8.8.8:22/", "bad_port"),
    ("http://8.8.8.8:25/", "bad_port"),
    ("ftp://8.8.8.8/", "non_http_scheme"),
    ("file:///etc/passwd", "non_http_scheme"),
    ("gopher://8.8.8.8:70/", "non_http_scheme"),
    ("http://intranet/", "bad_host"),
]


@pytest.mark.parametrize(("url", "reason"), URL_FORMS)
def test_url_forms_refused_without_connecting(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch, fake_dns: dict[str, list[str]]
) -> None:
    def no_connect(*args: object, **kwargs: object) -> socket.socket:
        pytest.fail(f"a connection was attempted for {url}")

    monkeypatch.setattr(socket, "create_connection", no_connect)
    result = fetch(url, allow_loopback=False, user_agent="test", timeout=5)
    assert (result.error, result.refused_reason) == ("guard", reason), result
    assert result.status is None
