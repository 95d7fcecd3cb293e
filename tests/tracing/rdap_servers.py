"""Simulated RDAP servers on 127.0.0.x answering real RFC 9083 JSON: IANA's bootstrap, a
domain registry, two RIRs (the first redirects to the second, which rate-limits once), and a
site behind a CDN. Real HTTP servers; only the Internet is simulated."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SITE_IP = "127.0.0.60"


def vcard(**props: str) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"],
                      *[[key, {}, "text", value] for key, value in props.items()]]]


class Server:
    def __init__(self, ip: str, routes: dict[str, Any]) -> None:
        self.ip, self.routes, self.hits = ip, routes, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.hits.append(self.path)
                route = owner.routes.get(self.path)
                if callable(route):
                    route = route(len([h for h in owner.hits if h == self.path]))
                if route is None:
                    self.send_response(404)
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
        self.port = self.server.server_address[1]
        self.base = f"http://{ip}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RDAPWorld:
    def __init__(self) -> None:
        rdap_json = {"Content-Type": "application/rdap+json"}
        self.rir_b = Server("127.0.0.53", {})
        self.rir_b.routes[f"/ip/{SITE_IP}"] = lambda n: (
            (429, {"Retry-After": "120"}, b"slow down") if n == 1 else (200, rdap_json, {
                "objectClassName": "ip network", "handle": "NET-127-0-0-0-EXAMPLE",
                "startAddress": "127.0.0.0", "endAddress": "127.0.0.255", "ipVersion": "v4",
                "name": "CLOUDFLARENET-EXAMPLE", "country": "nl",
                "links": [{"rel": "self", "href": f"{self.rir_b.base}/ip/127.0.0.0"}],
                "entities": [
                    {"objectClassName": "entity", "handle": "ORG-EH1", "roles": ["registrant"],
                     "vcardArray": vcard(fn="Cloudflare, Inc."),
                     "entities": [{"objectClassName": "entity", "roles": ["abuse"],
                                   "vcardArray": vcard(fn="Abuse desk",
                                                       email="abuse@cloudflare.example")}]},
                ]}))
        self.rir_a = Server("127.0.0.52", {
            f"/ip/{SITE_IP}": (301, {"Location": f"{self.rir_b.base}/ip/{SITE_IP}"}, b"")})
        self.registry = Server("127.0.0.51", {
            "/domain/victimsite.test": (200, rdap_json, {
                "objectClassName": "domain", "ldhName": "victimsite.test",
                "entities": [{
                    "objectClassName": "entity", "roles": ["registrar"],
                    "publicIds": [{"type": "IANA Registrar ID", "identifier": "9999"}],
                    "vcardArray": vcard(fn="Example Registrar, Inc."),
                    "entities": [{"objectClassName": "entity", "roles": ["abuse"],
                                  "vcardArray": vcard(fn="Registrar abuse",
                                                      email="abuse@registrar.example")}]}]})})
        self.bootstrap = Server("127.0.0.50", {
            "/dns.json": (200, {}, {"version": "1.0", "services": [
                [["example"], ["https://rdap.example/"]],
                [["test"], [f"{self.registry.base}/"]]]}),
            "/ipv4.json": (200, {}, {"version": "1.0", "services": [
                [["10.0.0.0/8"], ["https://rdap.elsewhere.example/"]],
                [["127.0.0.0/8"], [f"{self.rir_a.base}/"]]]}),
            "/ipv6.json": (200, {}, {"version": "1.0", "services": []}),
        })
        self.site = Server(SITE_IP, {"/": (200, {"Server": "cloudflare", "CF-RAY": "8c1d-CDG"},
                                           b"<html>home</html>")})
        self.servers = [self.rir_a, self.rir_b, self.registry, self.bootstrap, self.site]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
