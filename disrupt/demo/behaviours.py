"""A simulated platform that misbehaves in every way the URL checker must survive: one
route per behaviour of DESIGN.md §6 (tests and manual `disrupt check-url` runs).

``BehaviourServer(case_image, other_image).start()`` serves on 127.0.0.1 (a free port);
``ROUTES`` lists the paths. ``SoftNotFoundServer`` is a second site that answers
200 "Sorry, this page isn't available" for every unknown path (a soft 404)."""
from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

LOGIN_PAGE = (b"<html><head><title>Log in</title></head><body><form method=post>"
              b"<input name=user><input type=password name=pw></form></body></html>")
CAPTCHA_PAGE = (b"<html><head><title>Just a moment</title></head><body>"
                b"<div class=\"g-recaptcha\" data-sitekey=\"x\"></div></body></html>")
MARKER_PAGE = (b"<html><head><title>PicShare</title></head><body><h1>This content "
               b"isn't available right now</h1></body></html>")
SOFT_404_PAGE = (b"<html><head><title>PicShare</title></head><body><div class=nav>Home "
                 b"Explore Upload</div><h1>Sorry, this page isn't available.</h1><p>The link "
                 b"you followed may be broken, or the page may have been removed. Go back to "
                 b"PicShare and keep exploring what people share.</p><p>Requested: %s</p>"
                 b"</body></html>")


def page_with_image(src: str, title: str = "A photo") -> bytes:
    return (f"<html><head><title>{title}</title><meta property=\"og:image\" content=\"{src}\">"
            f"</head><body><div class=nav>Home Explore Upload</div><h1>{title}</h1>"
            f"<img src=\"/static/logo.png\" width=\"32\" height=\"32\">"
            f"<img src=\"{src}\" width=\"800\" height=\"600\"><p>Shared by someone, 3 likes "
            f"and 2 comments. Report this photo.</p></body></html>").encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _BaseSite:
    def __init__(self, ip: str = "127.0.0.1") -> None:
        self.ip = ip
        self.hits: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://{self.ip}:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def handle(self, h: _Handler, path: str) -> None:
        raise NotImplementedError

    def start(self) -> Any:
        site = self

        class Handler(_Handler):
            pass

        Handler.site = site
        self._server = _Server((self.ip, 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name=f"site-{self.ip}").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site: _BaseSite

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes = b"", content_type: str = "text/html",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def redirect(self, location: str, status: int = 302) -> None:
        self.send(status, b"", headers={"Location": location})

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        with self.site._lock:
            self.site.hits.append((time.monotonic(), path))
        try:
            self.site.handle(self, path)
        except OSError:
            self.close_connection = True

    do_HEAD = do_GET


class BehaviourServer(_BaseSite):
    """One route per behaviour. ``case_image`` is the victim's picture (its hashes are the
    case's); ``other_image`` is a different picture (a replacement or a placeholder)."""

    ROUTES = (
        "/media/ok.jpg", "/media/404.jpg", "/media/410.jpg", "/media/451.jpg",
        "/media/placeholder-redirect.jpg", "/media/login-redirect.jpg", "/media/401.jpg",
        "/media/403.jpg", "/media/429.jpg", "/media/503.jpg", "/media/slow.jpg",
        "/media/reset.jpg", "/media/endless.jpg", "/media/loop.jpg", "/media/private.jpg",
        "/media/undecodable.jpg", "/page/ok", "/page/replaced", "/page/marker",
        "/page/captcha", "/page/endless", "/page/broken-image",
    )

    def __init__(self, case_image: bytes, other_image: bytes, *, ip: str = "127.0.0.1",
                 slow_seconds: float = 3.0, retry_after: int = 7200) -> None:
        super().__init__(ip)
        self.case_image, self.other_image = case_image, other_image
        self.slow_seconds, self.retry_after = slow_seconds, retry_after
        #: Paths that answer 404 from now on / serve the case image again (takedowns and
        #: re-uploads in tests).
        self.gone: set[str] = set()

    def handle(self, h: _Handler, path: str) -> None:  # noqa: C901 - a table of routes
        if path in self.gone:
            return h.send(404, b"not found")
        jpeg = "image/jpeg"
        if path in ("/media/ok.jpg", "/img/case.jpg"):
            return h.send(200, self.case_image, jpeg)
        if path in ("/img/other.jpg", "/static/removed.jpg"):
            return h.send(200, self.other_image, jpeg)
        if path in ("/media/undecodable.jpg", "/img/broken.jpg"):
            return h.send(200, b"\xff\xd8\xff\xe0 truncated nonsense" * 4, jpeg)
        if path in ("/media/404.jpg", "/media/410.jpg", "/media/451.jpg", "/media/401.jpg",
                    "/media/403.jpg", "/media/503.jpg"):
            return h.send(int(path[7:10]), b"status page")
        if path == "/media/429.jpg":
            return h.send(429, b"slow down", headers={"Retry-After": str(self.retry_after)})
        if path == "/media/placeholder-redirect.jpg":
            return h.redirect("/static/removed.jpg")
        if path == "/media/login-redirect.jpg":
            return h.redirect("/accounts/login?next=/media/login-redirect.jpg")
        if path == "/accounts/login":
            return h.send(200, LOGIN_PAGE)
        if path == "/media/slow.jpg":
            time.sleep(self.slow_seconds)
            return h.send(200, self.case_image, jpeg)
        if path == "/media/reset.jpg":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            return None
        if path in ("/media/endless.jpg", "/page/endless"):
            h.send_response(200)
            h.send_header("Content-Type", jpeg if path.endswith(".jpg") else "text/html")
            h.end_headers()
            chunk = b"\xff\xd8\xff\xe0" + b"\0" * 65532 if path.endswith(".jpg") else \
                b"<p>more and more</p>" * 3000
            try:
                while True:
                    h.wfile.write(chunk)
            except OSError:
                pass
            h.close_connection = True
            return None
        if path == "/media/loop.jpg":
            return h.redirect("/media/loop-2.jpg")
        if path == "/media/loop-2.jpg":
            return h.redirect("/media/loop.jpg")
        if path == "/media/private.jpg":
            return h.redirect("http://10.0.0.7/internal/admin")
        if path == "/page/ok":
            return h.send(200, page_with_image("/img/case.jpg"))
        if path == "/page/replaced":
            return h.send(200, page_with_image("/img/other.jpg"))
        if path == "/page/broken-image":
            return h.send(200, page_with_image("/img/broken.jpg"))
        if path == "/page/marker":
            return h.send(200, MARKER_PAGE)
        if path == "/page/captcha":
            return h.send(200, CAPTCHA_PAGE)
        return h.send(404, b"<html><body>Not found</body></html>")


class SoftNotFoundServer(_BaseSite):
    """A site that answers 200 with a "not available" page for every unknown path;
    ``pages`` maps paths to real pages."""

    def __init__(self, case_image: bytes, *, ip: str = "127.0.0.1") -> None:
        super().__init__(ip)
        self.case_image = case_image
        self.pages: dict[str, bytes] = {"/p/live": page_with_image("/img/live.jpg")}

    def handle(self, h: _Handler, path: str) -> None:
        if path == "/img/live.jpg":
            return h.send(200, self.case_image, "image/jpeg")
        if path in self.pages:
            return h.send(200, self.pages[path])
        return h.send(200, SOFT_404_PAGE % path.encode())
