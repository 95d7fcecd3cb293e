"""Fetch one submitted URL through the network guard.

Every hop is parsed, its scheme and port checked, its host resolved once by
:func:`~disrupt.monitoring.guard.resolve_host`, and the request is sent to *the
address that was checked*: the URL's host is replaced by the IP, the real name
goes into the ``Host`` header and, for https, into the ``sni_hostname`` request
extension (the TLS server name on the worker's :mod:`~disrupt.monitoring.wire`
transport), so TLS SNI and certificate verification use the real name.
Redirects are followed by hand, each hop checked again. Limits: redirects
(and loops), bytes, and one total deadline for the whole fetch – enforced by a
watchdog that shuts the socket down, so a server trickling headers or body
byte by byte cannot hold a worker past it.

``fetch`` never raises for network problems; it returns a :class:`FetchResult`
whose ``error`` is one of :data:`ERRORS`.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import ssl
import threading
import time
import urllib.parse
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx

from disrupt.monitoring.guard import (
    GuardRefused,
    check_ip,
    check_port,
    check_scheme,
    parse_ip_literal,
    resolve_host,
)
from disrupt.monitoring.wire import WireResponse, WireTransport

#: Values of ``FetchResult.error``. "guard" covers malformed URLs too
#: (``refused_reason="bad_url"``): the guard cannot vouch for what it cannot read.
#: "dns" is a name that did not resolve (NXDOMAIN, SERVFAIL, no address, a lookup past
#: the deadline): a network failure that may pass, not a refusal.
ERRORS = frozenset(
    {"timeout", "connection", "tls", "protocol", "too_many_redirects", "guard", "dns"}
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                  "image/webp,image/apng,*/*;q=0.8")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    truncated: bool = False
    redirect_chain: list[tuple[str, int]] = field(default_factory=list)
    elapsed_ms: int = 0
    error: str | None = None
    error_detail: str = ""
    refused_reason: str | None = None
    #: The checked address the last hop connected (or would have connected) to.
    peer_ip: str | None = None
    #: The TLS certificate (DER) the last https hop's server presented (evidence captures).
    peer_certificate: bytes | None = None


class _Deadline(Exception):
    pass


class _DNSFailure(Exception):
    pass


class _Watchdogs:
    """One thread per process that fires the watchdogs whose deadline passed.

    A thread per fetch (``threading.Timer``) costs more CPU than the fetch itself; here
    a fetch only pushes its deadline onto a heap. Cancelled watchdogs are dropped when
    they make up half of the heap, so it stays about as large as the fetches in flight.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._seq = itertools.count()
        self._pid = -1
        self._cancelled = 0

    def add(self, due: float, watchdog: _Watchdog) -> None:
        with self._cond:
            if self._pid != os.getpid():  # first use, or a forked child without the thread
                self._pid = os.getpid()
                self._heap.clear()
                threading.Thread(target=self._run, name="fetch-watchdogs", daemon=True).start()
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (due, next(self._seq), watchdog))
            if earliest is None or due < earliest:
                self._cond.notify()

    def cancelled(self) -> None:
        with self._cond:
            self._cancelled += 1
            if self._cancelled > 64 and 2 * self._cancelled > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                expired = []
                while self._heap and self._heap[0][0] <= now:
                    watchdog = heapq.heappop(self._heap)[2]
                    if watchdog.cancelled:
                        self._cancelled = max(0, self._cancelled - 1)
                    else:
                        expired.append(watchdog)
                if not expired:
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
                    continue
            for watchdog in expired:
                watchdog.fire()


_WATCHDOGS = _Watchdogs()


class _Watchdog:
    """Shuts down every socket of the fetch when the total deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.cancelled = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.certificate: bytes | None = None
        _WATCHDOGS.add(time.monotonic() + max(seconds, 0.0), self)

    def fire(self) -> None:
        with self._lock:
            if self.cancelled:
                return
            self.expired = True
            for sock in self._sockets:
                self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        # The plain socket method: for an SSLSocket it shuts the descriptor
        # down without touching the TLS object another thread is reading with.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def watch(self, sock: socket.socket) -> None:
        """Learn a socket as soon as it exists (the wire transport's sockets)."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shutdown(sock)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore ``trace`` extension: learn each socket as soon as it exists."""
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        if event == "connection.start_tls.complete" and stream is not None:
            ssl_object = stream.get_extra_info("ssl_object")
            with contextlib.suppress(AttributeError, ValueError):
                self.certificate = ssl_object.getpeercert(True)  # DER; no keyword on _SSLSocket
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            self.watch(sock)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            self._sockets.clear()
        _WATCHDOGS.cancelled()


class _BodyDecoder:
    """Content-Encoding gzip/deflate decoded with bounded output (no zip bombs)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding.strip().lower()
        self._first = self.encoding == "deflate"
        self._z: Any = None
        if self.encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._z = zlib.decompressobj()

    def decode(self, data: bytes, room: int) -> tuple[bytes, bool]:
        """At most ``room`` + 1 bytes of output; True when more output is pending."""
        if self._z is None:
            return data, False
        try:
            out = self._z.decompress(data, room + 1)
        except zlib.error:
            if self._first:
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib header
                self._first = False
                return self.decode(data, room)
            raise
        self._first = False
        return out, bool(self._z.unconsumed_tail)


def _headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _tls_error(exc: BaseException) -> bool:
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(current, ssl.SSLError | ssl.CertificateError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _host_header(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return host if url.port is None else f"{host}:{url.port}"


def fetch(
    url: str,
    *,
    allow_loopback: bool,
    timeout: float = 15.0,
    max_bytes: int = 5_000_000,
    max_redirects: int = 5,
    user_agent: str,
    method: str = "GET",
    client: httpx.Client | httpx.BaseTransport | WireTransport | None = None,
) -> FetchResult:
    """Fetch ``url`` hop by hop through the network guard (see the module docstring).

    ``timeout`` is the total for the whole fetch, redirects included. The body
    is read up to ``max_bytes`` (``truncated`` says when it was cut; that is not
    an error). Only GET and HEAD are allowed. A ``client`` passed in must not use
    a proxy (``trust_env=False``); the default is a fresh client per fetch,
    without proxies or persistent cookies. ``client`` may also be a transport
    without a proxy, or the :class:`~disrupt.monitoring.wire.WireTransport` of
    :func:`shared_transport`: requests then go straight to it, without the client's
    cookie, auth and redirect layers (a worker's checks spend less CPU that way; no
    cookie is ever sent, as with a fresh client).
    """
    method = method.upper()
    if method not in ("GET", "HEAD"):
        raise ValueError("fetch only sends GET or HEAD requests")
    start = time.monotonic()
    deadline = start + timeout
    result = FetchResult(url=url, final_url=url)
    own_client = client is None
    http: httpx.Client | httpx.BaseTransport | WireTransport = (
        client if client is not None else httpx.Client(trust_env=False, follow_redirects=False))
    watchdog = _Watchdog(timeout)
    try:
        _follow(http, result, watchdog, deadline, own_client=own_client, method=method,
                allow_loopback=allow_loopback, max_bytes=max_bytes,
                max_redirects=max_redirects, user_agent=user_agent, timeout=timeout)
    finally:
        watchdog.cancel()
        if own_client:
            http.close()
        result.elapsed_ms = int((time.monotonic() - start) * 1000)
    return result


def shared_transport() -> WireTransport:
    """The transport a worker shares between its checks (see :mod:`disrupt.monitoring.wire`:
    no proxy, no cookies, no pooled connections, no cap on parallel connections)."""
    return WireTransport()


def _fail(result: FetchResult, error: str, detail: str, reason: str | None = None) -> None:
    result.error = error
    result.error_detail = detail
    result.refused_reason = reason


def _failure(exc: Exception, watchdog: _Watchdog,
             timeout: float) -> tuple[str, str, str | None]:
    """(error, detail, refused reason) for an exception raised by a hop."""
    late = ("timeout", f"no complete answer within {timeout:g}s", None)
    if isinstance(exc, GuardRefused):
        return "guard", str(exc), exc.reason
    if isinstance(exc, _DNSFailure):
        return "dns", str(exc), None
    if isinstance(exc, _Deadline | TimeoutError | httpx.TimeoutException) or watchdog.expired:
        return late
    if isinstance(exc, httpx.ConnectError):
        return ("tls" if _tls_error(exc) else "connection"), str(exc), None
    if _tls_error(exc):
        return "tls", str(exc), None
    if isinstance(exc, httpx.RemoteProtocolError) and "disconnected" in str(exc):
        return "connection", str(exc), None  # closed without answering
    if isinstance(exc, httpx.ProtocolError | zlib.error):
        return "protocol", str(exc) or type(exc).__name__, None
    return "connection", str(exc) or type(exc).__name__, None


def _follow(
    http: httpx.Client | httpx.BaseTransport | WireTransport,
    result: FetchResult,
    watchdog: _Watchdog,
    deadline: float,
    *,
    own_client: bool,
    method: str,
    allow_loopback: bool,
    max_bytes: int,
    max_redirects: int,
    user_agent: str,
    timeout: float,
) -> None:
    current = result.url
    visited: set[str] = set()
    while True:
        result.final_url = current
        visited.add(current)
        parsed: httpx.URL | None = None
        with contextlib.suppress(httpx.InvalidURL, ValueError, TypeError, UnicodeError):
            parsed = httpx.URL(current)  # unreadable ones are refused by _one_hop
            visited.add(str(parsed))
        try:
            _one_hop(http, result, watchdog, deadline, current, parsed, own_client=own_client,
                     method=method, allow_loopback=allow_loopback, max_bytes=max_bytes,
                     user_agent=user_agent)
        except (GuardRefused, _DNSFailure, _Deadline, TimeoutError, httpx.HTTPError, zlib.error,
                OSError) as exc:
            _fail(result, *_failure(exc, watchdog, timeout))
            return

        location = result.headers.get("location")
        if result.status not in REDIRECT_STATUSES or not location:
            return
        result.redirect_chain.append((current, result.status))
        try:
            base = parsed if parsed is not None else httpx.URL(current)
            target = base.join(location.strip()).copy_with(fragment=None)
        except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as exc:
            _fail(result, "guard", f"redirect to an unreadable URL {location!r}: {exc}", "bad_url")
            return
        following = str(target)
        if following in visited:
            _fail(result, "too_many_redirects", f"redirect loop back to {following}")
            return
        if len(result.redirect_chain) > max_redirects:
            _fail(result, "too_many_redirects", f"more than {max_redirects} redirects")
            return
        current = following


def _refuse_unreadable(url: str, allow_loopback: bool, exc: Exception) -> NoReturn:
    """httpx cannot read the URL. Name the address if it is one ("0177.0.0.1"
    is an IP literal httpx refuses), else refuse as "bad_url"."""
    try:
        host = urllib.parse.urlsplit(url).hostname
        literal = parse_ip_literal(host) if host else None
    except ValueError:
        literal = None
    if literal is not None:
        check_ip(literal, allow_loopback=allow_loopback)
    raise GuardRefused("bad_url", f"Refused an unreadable URL: {exc}")


def _send(http: httpx.Client | httpx.BaseTransport | WireTransport, method: str,
          target: httpx.URL, ip: str, port: int, tls_name: str | None, headers: dict[str, str],
          watchdog: _Watchdog, *, deadline: float, remaining: float,
          own_client: bool) -> httpx.Response | WireResponse:
    """Send one request to the checked address ``ip``:``port``; the answer's body is
    not read yet."""
    if isinstance(http, WireTransport):
        response = http.open(method, ip=ip, port=port, tls_name=tls_name,
                             target=target.raw_path, headers=list(headers.items()),
                             deadline=deadline, watch=watchdog.watch)
        if tls_name is not None and isinstance(response.sock, ssl.SSLSocket):
            watchdog.certificate = response.sock.getpeercert(True)
        return response
    extensions: dict[str, Any] = {"trace": watchdog.trace}
    if tls_name is not None:
        extensions["sni_hostname"] = tls_name
    address = target.copy_with(host=ip, port=port, username=None, password=None,
                               fragment=None)
    if isinstance(http, httpx.BaseTransport):
        extensions["timeout"] = httpx.Timeout(remaining).as_dict()
        return http.handle_request(
            httpx.Request(method, address, headers=headers, extensions=extensions))
    if own_client:
        http.cookies.clear()  # cookies are stored per IP here; never share them across hosts
    request = http.build_request(method, address, headers=headers,
                                 timeout=httpx.Timeout(remaining), extensions=extensions)
    return http.send(request, stream=True, follow_redirects=False)


def _one_hop(
    http: httpx.Client | httpx.BaseTransport | WireTransport,
    result: FetchResult,
    watchdog: _Watchdog,
    deadline: float,
    current: str,
    parsed: httpx.URL | None,
    *,
    own_client: bool,
    method: str,
    allow_loopback: bool,
    max_bytes: int,
    user_agent: str,
) -> None:
    result.status, result.headers, result.body, result.truncated = None, {}, b"", False
    target = parsed
    if target is None:
        try:
            target = httpx.URL(current)
        except (httpx.InvalidURL, ValueError, TypeError, UnicodeError) as exc:
            _refuse_unreadable(current, allow_loopback, exc)
    check_scheme(target.scheme)
    try:
        host = target.raw_host.decode("ascii")
    except UnicodeDecodeError:
        raise GuardRefused("bad_url", "Refused a URL whose host is not ASCII.") from None
    if not host:
        raise GuardRefused("bad_url", "Refused a URL without a host.")
    # Port 0 is a port (the guard refuses it), not "no port": only None means the default.
    port = DEFAULT_PORTS[target.scheme] if target.port is None else target.port
    check_port(port)

    remaining = deadline - time.monotonic()
    if remaining <= 0 or watchdog.expired:
        raise _Deadline
    try:
        ip = resolve_host(host, port, allow_loopback=allow_loopback, timeout=remaining)
    except GuardRefused as exc:
        if exc.reason == "unresolvable":
            raise _DNSFailure(str(exc)) from None
        raise
    except TimeoutError as exc:
        raise _DNSFailure(str(exc)) from None
    result.peer_ip = ip

    remaining = deadline - time.monotonic()
    if remaining <= 0 or watchdog.expired:
        raise _Deadline
    headers = {
        "Host": _host_header(target),
        "User-Agent": user_agent,
        # What a browser sends (the checker must not stand out: README "URL monitoring").
        "Accept": BROWSER_ACCEPT,
        "Accept-Language": "en-US,en;q=0.9",
        "Accept-Encoding": "identity",
        # One request per connection: a pooled connection verified for one
        # name must never carry a request for another name on the same IP.
        "Connection": "close",
    }
    tls_name = host.strip("[]") if target.scheme == "https" else None
    response = _send(http, method, target, ip, port, tls_name, headers, watchdog,
                     deadline=deadline, remaining=remaining, own_client=own_client)
    try:
        result.status = response.status_code
        result.headers = _headers(response.headers if isinstance(response, WireResponse)
                                  else response.headers.multi_items())
        result.peer_certificate = watchdog.certificate if target.scheme == "https" else None
        if method == "HEAD" or (
            response.status_code in REDIRECT_STATUSES and "location" in result.headers
        ):
            return
        decoder = _BodyDecoder(result.headers.get("content-encoding", "identity"))
        body = bytearray()
        for chunk in response.iter_raw():
            if watchdog.expired or time.monotonic() > deadline:
                raise _Deadline
            room = max_bytes - len(body)
            data, pending = decoder.decode(chunk, room)
            if len(data) > room or pending:
                body += data[:room]
                result.truncated = True
                break
            body += data  # exactly full is not truncated unless more bytes follow
        if watchdog.expired:
            raise _Deadline
        result.body = bytes(body)
    finally:
        response.close()
