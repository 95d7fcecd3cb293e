"""The tests' RDAP world, built from the demo's simulated servers (disrupt/demo/rdap.py):
IANA's bootstrap, a domain registry, two RIRs (the first redirects to the second, which
rate-limits the first query of each address), and a site behind a CDN."""
from __future__ import annotations

from disrupt.demo.rdap import Network, RDAPWorld, Registrar, Server

SITE_IP = "127.0.0.60"


class TestWorld(RDAPWorld):
    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        super().__init__(
            networks={SITE_IP: Network(handle="NET-127-0-0-0-EXAMPLE",
                                       name="CLOUDFLARENET-EXAMPLE", country="NL",
                                       holder="Cloudflare, Inc.",
                                       abuse_email="abuse@cloudflare.example")},
            domains={"victimsite.test": Registrar(name="Example Registrar, Inc.",
                                                  iana_id="9999",
                                                  abuse_email="abuse@registrar.example")},
            tld="test", rate_limit_first=True)
        self.site = Server(SITE_IP, {"/": (200, {"Server": "cloudflare", "CF-RAY": "8c1d-CDG"},
                                           b"<html>home</html>")})
        self.servers.append(self.site)
