"""The worker's wire transport (disrupt/monitoring/wire.py) reads answers byte for byte as
they arrive: servers on 127.0.0.1 send exact bytes, and fetch() must name every answer
and failure as it does with httpx (tests/monitoring/test_fetch.py runs its tests on both)."""
from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from disrupt.monitoring.fetch import FetchResult, fetch
from disrupt.monitoring.wire import MAX_HEAD_BYTES, WireResponse, WireTransport, _parse_head
from tests.monitoring.test_fetch import _tls_server

UA = "DISRUPT-checker/test"


class RawServer:
    """Answers each connection with the bytes given for its request path, then closes."""

    def __init__(self, answers: dict[str, bytes]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        break
                    head += data
                self.requests.append(head)
                path = head.split(b" ", 2)[1].decode() if head.count(b" ") >= 2 else "/"
                with contextlib.suppress(OSError):
                    conn.sendall(self.answers.get(path, b"HTTP/1.1 404 Not Found\r\n"
                                                        b"Content-Length: 0\r\n\r\n"))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.sock.close()


ANSWERS = {
    "/length": b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n"
               b"helloIGNORED",
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n",
    "/close": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    "/interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "/short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part",
    "/bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "/cut-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\nonly a part",
    "/endless-trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
                         + b"X-Trailer: t\r\n" * 20_000,  # past MAX_HEAD_BYTES, no blank line
    "/gzip-te": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
    "/two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    "/same-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
    "/huge-head": b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n",
    "/bad-header": b"HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 0\r\n\r\n",
    "/folded": b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n  two\r\nSet-Cookie: a=1\r\n"
               b"Set-Cookie: b=2\r\nContent-Length: 0\r\n\r\n",
    "/bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "/no-content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "/redirect": b"HTTP/1.1 302 Found\r\nLocation: /length\r\nContent-Length: 0\r\n\r\n",
    "/garbage": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "/nothing": b"",
    "/latin1": b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n",
}


@pytest.fixture
def raw() -> Iterator[RawServer]:
    server = RawServer(ANSWERS)
    yield server
    server.close()


def get(url: str, transport: WireTransport | None = None, **kwargs: object) -> FetchResult:
    kwargs.setdefault("max_bytes", 1_000_000)
    kwargs.setdefault("timeout", 5.0)
    return fetch(url, allow_loopback=True, user_agent=UA,
                 client=transport or WireTransport(), **kwargs)


def test_the_request_is_what_a_browser_sends_to_the_checked_address(raw: RawServer) -> None:
    r = get(raw.url("/length"))
    assert (r.status, r.body, r.error) == (200, b"hello", None)
    lines = raw.requests[0].decode().split("\r\n")
    assert lines[0] == "GET /length HTTP/1.1"
    assert lines[1] == f"Host: 127.0.0.1:{raw.port}"
    assert f"User-Agent: {UA}" in lines and "Connection: close" in lines
    assert not any(line.lower().startswith("cookie") for line in lines)


@pytest.mark.parametrize(("path", "body"), [
    ("/length", b"hello"),  # bytes past Content-Length are not read as the body
    ("/chunked", b"hello, world"),
    ("/close", b"until the end"),
    ("/interim", b"ok"),  # 1xx answers are skipped
    ("/same-lengths", b"abc"),
    ("/bare-lf", b"ok"),
    ("/no-content", b""),
])
def test_bodies_are_framed_as_http_says(raw: RawServer, path: str, body: bytes) -> None:
    r = get(raw.url(path))
    assert r.error is None, r
    assert r.body == body and not r.truncated


def test_head_does_not_wait_for_a_body(raw: RawServer) -> None:
    r = get(raw.url("/short"), method="HEAD")
    assert (r.status, r.body, r.error) == (200, b"", None)


@pytest.mark.parametrize("path", ["/gzip-te", "/two-lengths", "/huge-head", "/bad-header",
                                  "/garbage"])
def test_malformed_heads_are_protocol_errors(raw: RawServer, path: str) -> None:
    r = get(raw.url(path))
    assert r.error == "protocol" and r.status is None, r


@pytest.mark.parametrize("path", ["/short", "/bad-chunk", "/cut-chunk"])
def test_malformed_bodies_are_protocol_errors(raw: RawServer, path: str) -> None:
    r = get(raw.url(path))
    assert r.error == "protocol" and r.status == 200 and r.body == b"", r


def test_trailers_are_capped_like_the_head(raw: RawServer) -> None:
    r = get(raw.url("/endless-trailers"))
    assert r.error == "protocol" and "trailers too long" in r.error_detail, r


def test_closed_without_an_answer_is_a_connection_error(raw: RawServer) -> None:
    r = get(raw.url("/nothing"))
    assert r.error == "connection" and r.status is None


def test_headers_folded_repeated_and_not_utf8(raw: RawServer) -> None:
    assert get(raw.url("/folded")).headers["x-folded"] == "one two"
    assert get(raw.url("/folded")).headers["set-cookie"] == "a=1, b=2"
    assert get(raw.url("/latin1")).headers["x-name"] == "caf\xe9"


def test_the_byte_cap_holds_on_a_chunked_body(raw: RawServer) -> None:
    r = get(raw.url("/chunked"), max_bytes=7)
    assert r.body == b"hello, " and r.truncated


def test_redirects_are_followed_by_fetch(raw: RawServer) -> None:
    r = get(raw.url("/redirect"))
    assert r.body == b"hello" and r.redirect_chain == [(raw.url("/redirect"), 302)]


def test_a_connection_is_never_reused(raw: RawServer) -> None:
    transport = WireTransport()
    for _ in range(3):
        assert get(raw.url("/length"), transport).status == 200
    assert len(raw.requests) == 3  # one accepted connection per request


def _trusting(tmp_path: Path, name: str) -> WireTransport:
    return WireTransport(ssl.create_default_context(cafile=str(tmp_path / f"{name}.pem")))


def test_https_uses_the_real_name_for_sni_and_verification(tmp_path: Path) -> None:
    sni: list[str | None] = []
    for srv in _tls_server(tmp_path, "localhost", sni):
        r = get(f"https://localhost:{srv.port}/ok", _trusting(tmp_path, "localhost"))
        assert r.error is None, r
        assert r.status == 200 and r.body == b"hello, world"
        assert sni == ["localhost"]
        assert srv.seen[-1][1]["Host"] == f"localhost:{srv.port}"
        assert r.peer_certificate and r.peer_certificate[:1] == b"\x30"  # DER


def test_https_certificate_for_another_name_is_a_tls_error(tmp_path: Path) -> None:
    for srv in _tls_server(tmp_path, "other.test", []):
        r = get(f"https://localhost:{srv.port}/ok", _trusting(tmp_path, "other.test"))
        assert r.error == "tls", r
        assert srv.seen == []


def test_https_slow_headers_stop_at_the_deadline(tmp_path: Path) -> None:
    for srv in _tls_server(tmp_path, "localhost", []):
        r = get(f"https://localhost:{srv.port}/slow-headers", _trusting(tmp_path, "localhost"),
                timeout=1.0)
        assert r.error == "timeout", r
        assert r.elapsed_ms < 3000


def _tiny_chunks(n: int) -> float:
    """CPU to decode n one-byte chunks that all arrived with the head (one buffer: a reader
    that re-slices its buffer per chunk copies it n times)."""
    body = b"1\r\nx\r\n" * n + b"0\r\n\r\n"
    mine, theirs = socket.socketpair()
    theirs.close()
    with mine:
        response = WireResponse(200, [], mine, body, "chunked")
        start = time.process_time()
        assert sum(len(part) for part in response.iter_raw()) == n
        return time.process_time() - start


def _folded(n: int) -> float:
    """CPU to read a head whose one header is folded over n lines."""
    head = b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n" + b" b\r\n" * n + b"Content-Length: 0"
    assert len(head) < MAX_HEAD_BYTES
    start = time.process_time()
    status, headers = _parse_head(head)
    assert status == 200 and len(headers[0][1]) == 2 * n + 1
    return time.process_time() - start


@pytest.mark.parametrize(("reader", "small", "times"), [(_tiny_chunks, 5_000, 4),
                                                      (_folded, 2_000, 12)])
def test_hostile_framing_is_read_in_linear_time(reader, small: int, times: int) -> None:
    """``times`` the input costs about ``times`` the CPU; quadratic would be times²."""
    reader(small)  # warm up
    one = min(reader(small) for _ in range(3))
    many = min(reader(small * times) for _ in range(3))
    assert many < 2 * times * max(one, 0.0005), (reader.__name__, one, many)
    assert many < 2.0, (reader.__name__, many)  # a safety net only
