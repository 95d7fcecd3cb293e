"""A simulated CDN on its own 127.0.0.x address in front of a small site the registry does
not know: it forwards every request to the origin (a SimulatedPlatform on another address)
and answers with the CDN's response headers, as a reverse proxy does. Notices to its abuse
address are forwarded to the origin, as CDNs forward abuse reports to the site's host."""
from __future__ import annotations

import contextlib
import http.client
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from disrupt.demo.simulator import SimulatedPlatform

#: What a Cloudflare edge adds to every answer (the tracer reads them: disrupt/tracing/cdn.py).
EDGE_HEADERS = {"Server": "cloudflare", "CF-Cache-Status": "DYNAMIC"}


class SimulatedCDN:
    def __init__(self, name: str, ip: str, origin: SimulatedPlatform) -> None:
        self.name, self.ip, self.origin = name, ip, origin
        self.reply_text: str | None = None  # a CDN does not answer; the origin acts
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the CDN first"
        return f"http://{self.ip}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def host_media(self, path: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Put a file on the origin; its address is the CDN's."""
        self.origin.host_media(path, data, content_type)
        return self.url(path)

    def receive_notice(self, key: str, urls: list[str], channel: str, subject: str = "") -> bool:
        """Forwarded to the origin, with the CDN's addresses turned into the origin's."""
        origin = urlsplit(self.origin.base_url)
        mine = [urlsplit(u) for u in urls]
        forwarded = [urlunsplit(u._replace(netloc=origin.netloc)) for u in mine
                     if u.hostname == self.ip]
        return self.origin.receive_notice(key, forwarded, channel, subject)

    def start(self) -> SimulatedCDN:
        handler = type("Handler", (_EdgeHandler,), {"cdn": self})
        self._server = ThreadingHTTPServer((self.ip, 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name=f"cdn-{self.name}").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _EdgeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cdn: SimulatedCDN

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        origin = urlsplit(self.cdn.origin.base_url)
        status, content_type, body = 502, "text/plain", b"origin unreachable"
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection(origin.hostname or "", origin.port,
                                                    timeout=5)
            try:
                connection.request(self.command, self.path, headers={"Host": origin.netloc})
                answer = connection.getresponse()
                status = answer.status
                content_type = answer.getheader("Content-Type", "application/octet-stream")
                body = answer.read()
            finally:
                connection.close()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in EDGE_HEADERS.items():
            self.send_header(name, value)
        self.send_header("CF-RAY", f"{secrets.token_hex(8)}-CDG")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET
