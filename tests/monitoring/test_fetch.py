"""fetch() against real HTTP(S) servers on 127.0.0.1; nothing leaves the loopback range."""
from __future__ import annotations

import datetime
import gzip
import http.server
import ipaddress
import json
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from disrupt.monitoring import guard
from disrupt.monitoring.fetch import ERRORS, FetchResult, fetch, shared_transport
from disrupt.monitoring.wire import WireTransport

UA = "DISRUPT-checker/test"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _redirect(self, location: str, status: int = 302) -> None:
        self._send(status, b"", {"Location": location})

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append((self.path, dict(self.headers.items())))
        path, _, query = self.path.partition("?")
        route = ROUTES.get(path)
        if route is None and path.startswith("/chain/"):
            n = int(path.rsplit("/", 1)[1])
            return self._redirect("/ok" if n == 0 else f"/chain/{n - 1}")
        if route is None:
            return self._send(404, b"not here")
        route(self, query)


def _slow_body(h: _Handler, _q: str) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.end_headers()
    try:
        for _ in range(200):  # 40 s at most
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(0.2)
    except OSError:
        pass
    h.close_connection = True


def _slow_headers(h: _Handler, _q: str) -> None:
    try:
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(200):
            h.wfile.write(b"X-Drip: 1\r\n")
            h.wfile.flush()
            time.sleep(0.2)
    except OSError:
        pass
    h.close_connection = True


def _endless(h: _Handler, _q: str) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    h.end_headers()
    chunk = b"\0" * 65536
    try:
        while True:
            h.wfile.write(chunk)
    except OSError:
        pass
    h.close_connection = True


def _reset(h: _Handler, _q: str) -> None:
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def _close(h: _Handler, _q: str) -> None:
    h.connection.shutdown(socket.SHUT_RDWR)
    h.close_connection = True


def _garbage(h: _Handler, _q: str) -> None:
    h.wfile.write(b"SSH-2.0-OpenSSH_9.6 not http at all\r\n\r\n")
    h.wfile.flush()
    h.close_connection = True


def _to(h: _Handler, query: str) -> None:
    from urllib.parse import parse_qs

    h._redirect(parse_qs(query)["url"][0])


def _raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


def _gzip_bomb(h: _Handler, _q: str) -> None:
    h._send(200, gzip.compress(b"\0" * 20_000_000), {"Content-Encoding": "gzip"})


ROUTES: dict[str, Callable[[_Handler, str], None]] = {
    "/ok": lambda h, q: h._send(200, b"hello, world", {"Content-Type": "text/plain",
                                                       "X-Mixed-Case": "Yes"}),
    "/missing": lambda h, q: h._send(404, b"gone"),
    "/gone": lambda h, q: h._send(410, b""),
    "/echo": lambda h, q: h._send(200, json.dumps(dict(h.headers.items())).encode()),
    "/loop-a": lambda h, q: h._redirect("/loop-b", 301),
    "/loop-b": lambda h, q: h._redirect("/loop-a", 301),
    "/self": lambda h, q: h._redirect("/self", 307),
    "/to": _to,
    "/no-location": lambda h, q: h._send(302, b"nowhere"),
    "/gzip": lambda h, q: h._send(200, gzip.compress(b"compressed page"),
                                  {"Content-Encoding": "gzip"}),
    "/gzip-bomb": _gzip_bomb,
    "/deflate": lambda h, q: h._send(200, zlib.compress(b"zlib deflate"),
                                     {"Content-Encoding": "deflate"}),
    "/raw-deflate": lambda h, q: h._send(200, _raw_deflate(b"raw deflate"),
                                         {"Content-Encoding": "deflate"}),
    "/exact": lambda h, q: h._send(200, b"a" * 1000),
    "/slow": _slow_body,
    "/slow-headers": _slow_headers,
    "/endless": _endless,
    "/reset": _reset,
    "/close": _close,
    "/garbage": _garbage,
}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[tuple[str, dict[str, str]]]

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self.server_address[1]


def _serve(address: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> Iterator[_Server]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    server_cls = type("S", (_Server,), {"address_family": family})
    server = server_cls((address, 0), _Handler)
    server.seen = []
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    yield from _serve()


#: The client `get` uses when a test names none: a fresh httpx client per fetch (what
#: `disrupt check-url` uses), or the wire transport the worker shares between its checks.
_DEFAULT_CLIENT: dict[str, WireTransport | None] = {"client": None}


@pytest.fixture(autouse=True, params=["httpx", "wire"])
def default_client(request: pytest.FixtureRequest) -> Iterator[None]:
    _DEFAULT_CLIENT["client"] = shared_transport() if request.param == "wire" else None
    yield
    _DEFAULT_CLIENT["client"] = None


def get(url: str, **kwargs: object) -> FetchResult:
    kwargs.setdefault("allow_loopback", True)
    kwargs.setdefault("timeout", 10.0)
    kwargs.setdefault("client", _DEFAULT_CLIENT["client"])
    return fetch(url, user_agent=UA, **kwargs)


class CountingTransport(httpx.BaseTransport):
    """Records every request that reaches the network layer."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# --- plain responses -----------------------------------------------------------

def test_200_body_headers_and_host(server: _Server) -> None:
    r = get(f"{server.base}/ok")
    assert r.error is None and r.error_detail == ""
    assert r.status == 200
    assert r.body == b"hello, world"
    assert r.headers["x-mixed-case"] == "Yes"
    assert all(k == k.lower() for k in r.headers)
    assert r.final_url == f"{server.base}/ok" and r.url == r.final_url
    assert r.redirect_chain == [] and not r.truncated
    assert r.peer_ip == "127.0.0.1"
    assert 0 <= r.elapsed_ms < 5000
    path, headers = server.seen[-1]
    assert path == "/ok"
    assert headers["User-Agent"] == UA
    assert headers["Host"] == f"127.0.0.1:{server.port}"


def test_404_and_410_are_results_not_errors(server: _Server) -> None:
    r = get(f"{server.base}/missing")
    assert (r.status, r.error, r.body) == (404, None, b"gone")
    assert get(f"{server.base}/gone").status == 410


def test_head_request(server: _Server) -> None:
    r = get(f"{server.base}/ok", method="HEAD")
    assert r.status == 200 and r.body == b"" and r.error is None
    with pytest.raises(ValueError):
        get(f"{server.base}/ok", method="POST")


def test_gzip_body_is_decoded(server: _Server) -> None:
    r = get(f"{server.base}/gzip")
    assert r.body == b"compressed page" and r.headers["content-encoding"] == "gzip"
    assert server.seen[-1][1]["Accept-Encoding"] == "identity"


def test_deflate_bodies_are_decoded(server: _Server) -> None:
    assert get(f"{server.base}/deflate").body == b"zlib deflate"
    assert get(f"{server.base}/raw-deflate").body == b"raw deflate"


def test_gzip_bomb_is_capped(server: _Server) -> None:
    r = get(f"{server.base}/gzip-bomb", max_bytes=100_000)
    assert r.error is None and r.truncated and len(r.body) == 100_000


def test_body_exactly_max_bytes_is_not_truncated(server: _Server) -> None:
    r = get(f"{server.base}/exact", max_bytes=1000)
    assert len(r.body) == 1000 and not r.truncated
    r = get(f"{server.base}/exact", max_bytes=999)
    assert len(r.body) == 999 and r.truncated


# --- redirects -------------------------------------------------------------------

def test_redirect_chain_is_followed_and_recorded(server: _Server) -> None:
    r = get(f"{server.base}/chain/3")
    assert r.error is None and r.status == 200 and r.body == b"hello, world"
    assert r.redirect_chain == [
        (f"{server.base}/chain/3", 302),
        (f"{server.base}/chain/2", 302),
        (f"{server.base}/chain/1", 302),
        (f"{server.base}/chain/0", 302),
    ]
    assert r.final_url == f"{server.base}/ok"


def test_too_many_redirects(server: _Server) -> None:
    assert get(f"{server.base}/chain/5", max_redirects=6).error is None
    server.seen.clear()
    r = get(f"{server.base}/chain/9", max_redirects=5)
    assert r.error == "too_many_redirects"
    assert len(r.redirect_chain) == 6
    assert len(server.seen) == 6  # the 7th hop is never requested


@pytest.mark.parametrize("start", ["/loop-a", "/self"])
def test_redirect_loop_is_detected(server: _Server, start: str) -> None:
    r = get(f"{server.base}{start}", max_redirects=50)
    assert r.error == "too_many_redirects" and "loop" in r.error_detail
    assert len(server.seen) <= 2


def test_redirect_without_location_is_the_answer(server: _Server) -> None:
    r = get(f"{server.base}/no-location")
    assert r.status == 302 and r.error is None and r.body == b"nowhere"


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://10.0.0.1/", "private_address"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data", "metadata"),
        ("http://0xa9fea9fe/latest/meta-data", "metadata"),
        ("http://192.168.0.1:8080/admin", "private_address"),
        ("http://100.64.0.1/", "cgnat"),
        ("http://[64:ff9b::a00:1]/", "private_address"),
        ("http://[::ffff:10.0.0.1]/", "private_address"),
        ("http://0.0.0.0:8080/", "unspecified"),
        ("ftp://example.com/file", "non_http_scheme"),
        ("file:///etc/passwd", "non_http_scheme"),
        ("gopher://127.0.0.1:25/", "non_http_scheme"),
        ("http://127.0.0.1:25/", "bad_port"),
        ("http://127.0.0.1:22/", "bad_port"),
        ("http://intranet/", "bad_host"),
    ],
)
def test_redirect_to_internal_targets_is_refused_before_connecting(
    server: _Server, target: str, reason: str
) -> None:
    transport = CountingTransport()
    with httpx.Client(transport=transport, trust_env=False) as client:
        r = get(f"{server.base}/to?url={target}", client=client)
    assert r.error == "guard", r
    assert r.refused_reason == reason
    assert r.redirect_chain == [(f"{server.base}/to?url={target}", 302)]
    assert httpx.URL(r.final_url) == httpx.URL(target)
    # Only the first hop reached the network layer.
    assert [str(req.url.host) for req in transport.sent] == ["127.0.0.1"]


def test_redirect_to_mapped_loopback(server: _Server) -> None:
    target = f"http://[::ffff:127.0.0.1]:{server.port}/ok"
    r = get(f"{server.base}/to?url={target}", allow_loopback=True)
    assert r.error is None and r.status == 200 and r.peer_ip == "127.0.0.1"
    assert server.seen[-1][1]["Host"] == f"[::ffff:127.0.0.1]:{server.port}"


def test_loopback_refused_without_the_setting(server: _Server) -> None:
    for url in (
        f"{server.base}/ok",
        f"http://localhost:{server.port}/ok",
        f"http://[::ffff:127.0.0.1]:{server.port}/ok",
        f"http://2130706433:{server.port}/ok",
        f"http://0177.0.0.1:{server.port}/ok",
        f"http://0x7f.1:{server.port}/ok",
        f"http://127.1:{server.port}/ok",
    ):
        r = get(url, allow_loopback=False)
        assert (r.error, r.refused_reason) == ("guard", "loopback"), url
        assert r.status is None
    assert server.seen == []


def test_connects_to_the_checked_address_resolving_once(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is resolved once; later answers are never used."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.0.0.1", "10.0.0.1"])
    lookups: list[str] = []

    def fake(host: str, *args: object, **kwargs: object) -> list[tuple]:
        if host == "victim.example":
            lookups.append(host)
            ip = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, args[0] if args else 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    r = get(f"http://victim.example:{server.port}/echo")
    assert r.error is None and r.status == 200
    assert lookups == ["victim.example"]
    assert json.loads(r.body)["Host"] == f"victim.example:{server.port}"
    assert r.final_url == f"http://victim.example:{server.port}/echo"


# --- limits and failures -----------------------------------------------------------

def test_endless_body_is_capped(server: _Server) -> None:
    r = get(f"{server.base}/endless", max_bytes=300_000)
    assert r.error is None and r.status == 200
    assert r.truncated and len(r.body) == 300_000


@pytest.mark.parametrize("path", ["/slow", "/slow-headers"])
def test_slow_server_stops_at_the_total_deadline(server: _Server, path: str) -> None:
    started = time.monotonic()
    r = get(f"{server.base}{path}", timeout=1.0)
    took = time.monotonic() - started
    assert r.error == "timeout", r
    assert 0.9 <= took < 3.0  # the server would go on for 40 s
    assert r.elapsed_ms < 3000


def test_deadline_covers_redirect_hops(server: _Server) -> None:
    started = time.monotonic()
    r = get(f"{server.base}/to?url=/slow", timeout=1.0)
    assert r.error == "timeout" and len(r.redirect_chain) == 1
    assert time.monotonic() - started < 3.0


def test_connection_reset(server: _Server) -> None:
    r = get(f"{server.base}/reset")
    assert r.error == "connection" and r.status is None


def test_closed_without_answer(server: _Server) -> None:
    r = get(f"{server.base}/close")
    assert r.error == "connection" and r.status is None


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = get(f"http://127.0.0.1:{port}/")
    assert r.error == "connection" and r.error_detail


def test_non_http_garbage(server: _Server) -> None:
    r = get(f"{server.base}/garbage")
    assert r.error == "protocol" and r.status is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1/", "bad_url"),
        ("http://exa mple.com/", "bad_host"),
        ("http://0300.0250.0.1/", "private_address"),  # httpx cannot read it; still named
        ("http://example.com:99999/", "bad_port"),
        ("", "non_http_scheme"),
    ],
)
def test_unreadable_url_is_refused(url: str, reason: str) -> None:
    r = get(url)
    assert (r.error, r.refused_reason) == ("guard", reason)


def test_errors_are_documented() -> None:
    assert {"timeout", "connection", "tls", "protocol", "too_many_redirects", "guard",
            "dns"} == ERRORS


@pytest.mark.parametrize("url", ["http://127.0.0.1:0/", "http://localhost:0/a.jpg",
                                 "https://127.0.0.1:0/"])
def test_port_zero_is_refused_not_read_as_the_default(url: str) -> None:
    transport = CountingTransport()
    r = get(url, client=transport)
    assert (r.error, r.refused_reason) == ("guard", "bad_port")
    assert transport.sent == []


def test_redirect_to_port_zero_is_refused(server: _Server) -> None:
    transport = CountingTransport()
    r = get(f"{server.base}/to?url=http://127.0.0.1:0/x", client=transport)
    assert (r.error, r.refused_reason) == ("guard", "bad_port")
    assert len(transport.sent) == 1


def test_connects_to_the_port_it_checked(server: _Server) -> None:
    transport = CountingTransport()
    r = get(f"{server.base}/ok", client=transport)
    assert r.status == 200
    assert transport.sent[0].url.port == server.port


@pytest.mark.parametrize("failure", [
    socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
    TimeoutError("resolving took too long"),
])
def test_dns_failure_is_a_network_error_not_a_refusal(
        monkeypatch: pytest.MonkeyPatch, failure: Exception) -> None:
    def resolver(*args: object, **kwargs: object) -> list[str]:
        raise failure  # the internet's DNS is the one part mocked

    monkeypatch.setattr(guard, "_getaddrinfo", resolver)
    r = get("http://photos.example/p/1.jpg")
    assert r.error == "dns" and r.refused_reason is None and r.status is None


# --- TLS: connect to the IP, verify the name --------------------------------------

def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _tls_server(tmp_path: Path, name: str, sni_seen: list[str | None]) -> Iterator[_Server]:
    cert, key = _certificate(tmp_path, name)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, server_name, _ctx: sni_seen.append(server_name)
    address = guard.resolve_host("localhost", 443, allow_loopback=True)
    yield from _serve(address, tls=ctx)


def _trusting_client(tmp_path: Path, name: str) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(tmp_path / f"{name}.pem"))
    return httpx.Client(verify=ctx, trust_env=False)


def test_https_uses_the_real_name_for_sni_and_verification(tmp_path: Path) -> None:
    sni: list[str | None] = []
    for srv in _tls_server(tmp_path, "localhost", sni):
        with _trusting_client(tmp_path, "localhost") as client:
            r = get(f"https://localhost:{srv.port}/ok", client=client)
        assert r.error is None, r
        assert r.status == 200 and r.body == b"hello, world"
        assert ipaddress.ip_address(r.peer_ip or "").is_loopback
        assert sni == ["localhost"]  # not the IP the connection went to
        assert srv.seen[-1][1]["Host"] == f"localhost:{srv.port}"


def test_https_certificate_for_another_name_is_a_tls_error(tmp_path: Path) -> None:
    sni: list[str | None] = []
    for srv in _tls_server(tmp_path, "other.test", sni):
        with _trusting_client(tmp_path, "other.test") as client:
            r = get(f"https://localhost:{srv.port}/ok", client=client)
        assert r.error == "tls", r
        assert srv.seen == []


def test_https_untrusted_certificate_is_a_tls_error(tmp_path: Path) -> None:
    sni: list[str | None] = []
    for srv in _tls_server(tmp_path, "localhost", sni):
        r = get(f"https://localhost:{srv.port}/ok")  # default trust store
        assert r.error == "tls", r


def test_https_slow_body_stops_at_the_deadline(tmp_path: Path) -> None:
    sni: list[str | None] = []
    for srv in _tls_server(tmp_path, "localhost", sni):
        with _trusting_client(tmp_path, "localhost") as client:
            started = time.monotonic()
            r = get(f"https://localhost:{srv.port}/slow-headers", client=client, timeout=1.0)
        assert r.error == "timeout", r
        assert time.monotonic() - started < 3.0
