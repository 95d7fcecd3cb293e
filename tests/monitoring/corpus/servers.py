"""Real HTTP servers on 127.0.0.x for the verdict corpus: one per simulated platform or
CDN, each answering by path from a table of replies (and a fallback for unknown paths:
a 404, or the templated 200 page of a site that answers every path)."""
from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0      # seconds before answering (slow hosts)
    reset: bool = False     # close the connection with a TCP reset instead


def html(body: bytes | str, status: int = 200) -> Reply:
    return Reply(status, body.encode() if isinstance(body, str) else body)


def image(data: bytes, content_type: str = "image/jpeg", **options: Any) -> Reply:
    return Reply(200, data, content_type, **options)


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, b"", headers={"Location": location})


NOT_FOUND = Reply(404, b"<html><head><title>Not found</title></head><body><h1>404</h1>"
                       b"</body></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Host:
    """One simulated platform on its own loopback address and a free port."""

    def __init__(self, name: str, ip: str,
                 fallback: Callable[[str], Reply] = lambda _path: NOT_FOUND) -> None:
        self.name, self.ip, self.fallback = name, ip, fallback
        self.pages: dict[str, Reply] = {}
        self.hits: list[str] = []
        self._server: _Server | None = None

    @property
    def base(self) -> str:
        assert self._server is not None, "start() the host first"
        return f"http://{self.ip}:{self._server.server_address[1]}"

    def reply(self, path: str) -> Reply:
        return self.pages.get(path) or self.fallback(path)

    def start(self) -> Host:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                host.hits.append(path)
                answer = host.reply(path)
                self.close_connection = True
                try:
                    if answer.delay:
                        time.sleep(answer.delay)
                    if answer.reset:
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                   struct.pack("ii", 1, 0))
                        self.connection.close()
                        return
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(answer.body)
                except OSError:
                    pass

            do_HEAD = do_GET

        self._server = _Server((self.ip, 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name=f"corpus-{self.name}").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
