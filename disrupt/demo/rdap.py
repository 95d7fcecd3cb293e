"""Simulated RDAP servers on 127.0.0.x answering real RFC 9083 JSON, for the demo and the
tests: IANA's bootstrap registry (RFC 9224), a domain registry, and two RIRs — the first
redirects every address query to the second, which may rate-limit the first query (HTTP 429,
Retry-After). Real HTTP servers; only the Internet is simulated."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RDAP_JSON = {"Content-Type": "application/rdap+json"}
#: (status, headers, body: bytes or a JSON-able value), or a callable taking how many times
#: this path was asked (1 for the first) and returning that.
Route = tuple[int, dict[str, str], Any] | Callable[[int], tuple[int, dict[str, str], Any]]


def vcard(**props: str) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"],
                      *[[key, {}, "text", value] for key, value in props.items()]]]


class Server:
    """An HTTP server on ``ip`` answering a table of routes (exact paths), recording hits."""

    def __init__(self, ip: str, routes: dict[str, Route]) -> None:
        self.ip, self.routes = ip, routes
        self.hits: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.hits.append(self.path)
                route = owner.routes.get(self.path)
                if callable(route):
                    route = route(owner.hits.count(self.path))
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, headers, body = route
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((ip, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://{ip}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True,
                         name=f"rdap-{ip}").start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Network:
    """What an RIR says about the network an address is in."""

    handle: str
    name: str
    country: str
    holder: str
    abuse_email: str
    start: str = "127.0.0.0"
    end: str = "127.0.0.255"


@dataclass(frozen=True)
class Registrar:
    """What a registry says about a domain's registrar."""

    name: str
    iana_id: str
    abuse_email: str


def network_object(network: Network, self_url: str) -> dict[str, Any]:
    return {
        "objectClassName": "ip network", "handle": network.handle,
        "startAddress": network.start, "endAddress": network.end, "ipVersion": "v4",
        "name": network.name, "country": network.country.lower(),
        "links": [{"rel": "self", "href": self_url}],
        "entities": [
            {"objectClassName": "entity", "handle": f"ORG-{network.handle}",
             "roles": ["registrant"], "vcardArray": vcard(fn=network.holder),
             "entities": [{"objectClassName": "entity", "roles": ["abuse"],
                           "vcardArray": vcard(fn="Abuse desk", email=network.abuse_email)}]},
        ]}


def domain_object(domain: str, registrar: Registrar) -> dict[str, Any]:
    return {
        "objectClassName": "domain", "ldhName": domain,
        "entities": [{
            "objectClassName": "entity", "roles": ["registrar"],
            "publicIds": [{"type": "IANA Registrar ID", "identifier": registrar.iana_id}],
            "vcardArray": vcard(fn=registrar.name),
            "entities": [{"objectClassName": "entity", "roles": ["abuse"],
                          "vcardArray": vcard(fn="Registrar abuse",
                                              email=registrar.abuse_email)}]}]}


class RDAPWorld:
    """The bootstrap (``bootstrap.base + "/"`` is RDAP_BOOTSTRAP_URL), the registry for
    ``tld``, and the RIRs answering for 127.0.0.0/8 with ``networks`` (by address)."""

    def __init__(self, *, networks: dict[str, Network], domains: dict[str, Registrar],
                 tld: str = "test", rate_limit_first: bool = False,
                 ips: tuple[str, str, str, str] = ("127.0.0.50", "127.0.0.51", "127.0.0.52",
                                                   "127.0.0.53")) -> None:
        self.rir_b = Server(ips[3], {})
        for address, network in networks.items():
            self.rir_b.routes[f"/ip/{address}"] = self._network_route(network, rate_limit_first)
        self.rir_a = Server(ips[2], {
            f"/ip/{address}": (301, {"Location": f"{self.rir_b.base}/ip/{address}"}, b"")
            for address in networks})
        self.registry = Server(ips[1], {
            f"/domain/{domain}": (200, RDAP_JSON, domain_object(domain, registrar))
            for domain, registrar in domains.items()})
        self.bootstrap = Server(ips[0], {
            "/dns.json": (200, {}, {"version": "1.0", "services": [
                [["example"], ["https://rdap.example/"]],
                [[tld], [f"{self.registry.base}/"]]]}),
            "/ipv4.json": (200, {}, {"version": "1.0", "services": [
                [["10.0.0.0/8"], ["https://rdap.elsewhere.example/"]],
                [["127.0.0.0/8"], [f"{self.rir_a.base}/"]]]}),
            "/ipv6.json": (200, {}, {"version": "1.0", "services": []}),
        })
        self.servers = [self.rir_a, self.rir_b, self.registry, self.bootstrap]

    @property
    def bootstrap_url(self) -> str:
        return self.bootstrap.base + "/"

    def _network_route(self, network: Network, rate_limit_first: bool) -> Route:
        self_url = f"{self.rir_b.base}/ip/{network.start}"

        def answer(count: int) -> tuple[int, dict[str, str], Any]:
            if rate_limit_first and count == 1:
                return 429, {"Retry-After": "120"}, b"slow down"
            return 200, RDAP_JSON, network_object(network, self_url)

        return answer

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
