"""One HTTP/1.1 request and its answer on a raw socket: the lean path of a worker's
fetches (issue 18: httpx, httpcore and h11 cost more CPU per check than the check).

It only carries bytes: the network guard, the redirects, the byte cap and the total
deadline stay in :mod:`disrupt.monitoring.fetch`, which calls :meth:`WireTransport.open`
with the address it checked. One request per connection (``Connection: close``), no
proxy, no cookies, no cap on parallel connections (the caller's politeness caps them
per host). Failures raise the httpx exceptions that httpcore raises for the same
failure, so that ``fetch`` names them the same way ("connection", "tls", "protocol",
"timeout"). The answer's head is capped (:data:`MAX_HEAD_BYTES`, as httpcore does).
"""
from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

#: The status line and headers of an answer, at most (httpcore's limit).
MAX_HEAD_BYTES = 100 * 1024
#: A chunk-size line or a trailer line of a chunked body, at most.
MAX_CHUNK_LINE = 4096
READ_BYTES = 64 * 1024

_STATUS_LINE = re.compile(r"HTTP/1\.[01] ([0-9]{3})(?: [^\r\n]*)?")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(r"\r?\n")
_NO_BODY_STATUSES = frozenset({101, 204, 304})


@dataclass
class WireResponse:
    """An answer whose body has not been read yet: :meth:`iter_raw` reads it as it comes
    (chunked transfer decoded, Content-Encoding not), :meth:`close` closes the socket."""

    status_code: int
    headers: list[tuple[str, str]]
    sock: socket.socket
    _buffer: bytes
    _framing: str  # "none", "length", "chunked" or "close"
    _length: int = 0

    def iter_raw(self) -> Iterator[bytes]:
        if self._framing == "length":
            yield from self._by_length()
        elif self._framing == "chunked":
            yield from _Chunked(self).chunks()
        elif self._framing == "close":
            if self._buffer:
                yield self._buffer
            while data := self.recv():
                yield data

    def _by_length(self) -> Iterator[bytes]:
        left = self._length
        data, self._buffer = self._buffer[:left], b""
        while True:
            if data:
                left -= len(data)
                yield data
            if left <= 0:
                return
            data = self.recv()
            if not data:
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body: "
                    f"received {self._length - left} bytes, expected {self._length}")
            data = data[:left]

    def recv(self) -> bytes:
        try:
            return self.sock.recv(READ_BYTES)
        except (TimeoutError, BlockingIOError) as exc:  # BlockingIOError: SO_RCVTIMEO
            raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _Chunked:
    """A chunked body, decoded as it is read. Linear in the bytes received whatever their
    shape: the buffer is read through a position (never re-sliced per chunk), a line is
    searched for only in bytes not searched yet, chunk-size lines and trailers are bounded.
    """

    def __init__(self, response: WireResponse) -> None:
        self.response = response
        self.buffer = bytearray(response._buffer)
        self.pos = 0
        response._buffer = b""

    def _line(self) -> bytes:
        searched = 0  # bytes after self.pos known to hold no line end (_more may compact)
        while (end := self.buffer.find(b"\n", self.pos + searched)) < 0:
            searched = len(self.buffer) - self.pos
            if searched > MAX_CHUNK_LINE:
                raise httpx.RemoteProtocolError("chunk header too long")
            self._more()
        if end - self.pos > MAX_CHUNK_LINE:
            raise httpx.RemoteProtocolError("chunk header too long")
        line = bytes(self.buffer[self.pos:end])
        self.pos = end + 1
        return line.rstrip(b"\r")

    def _more(self) -> None:
        data = self.response.recv()
        if not data:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body: "
                "incomplete chunked read")
        if self.pos > READ_BYTES and self.pos * 2 > len(self.buffer):
            del self.buffer[:self.pos]  # what was read goes, at most once per byte
            self.pos = 0
        self.buffer += data

    def _take(self, size: int) -> bytes:
        if self.pos >= len(self.buffer):
            self._more()
        data = bytes(self.buffer[self.pos:self.pos + size])
        self.pos += len(data)
        return data

    def chunks(self) -> Iterator[bytes]:
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16 or not all(
                    c in b"0123456789abcdefABCDEF" for c in size_text):
                raise httpx.RemoteProtocolError(f"bad chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                trailers = 0
                while line := self._line():  # until the blank line, within the head's cap
                    trailers += len(line)
                    if trailers > MAX_HEAD_BYTES:
                        raise httpx.RemoteProtocolError("trailers too long")
                return
            while size:
                data = self._take(size)
                size -= len(data)
                yield data
            if self._line():
                raise httpx.RemoteProtocolError("chunk not followed by CRLF")


def _parse_head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines = _LINE_END.split(text)
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise httpx.RemoteProtocolError(f"illegal status line: {lines[0][:80]!r}")
    fields: list[tuple[str, list[str]]] = []  # folded lines joined once, at the end
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and fields:  # obsolete line folding
            fields[-1][1].append(line.strip(" \t"))
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise httpx.RemoteProtocolError(f"illegal header line: {line[:80]!r}")
        fields.append((name, [value.strip(" \t")]))
    return int(match.group(1)), [(name, " ".join(parts)) for name, parts in fields]


def _framing(method: str, status: int,
             headers: list[tuple[str, str]]) -> tuple[str, int]:
    """How the body is delimited (RFC 9112 §6.3): ("none" | "length" | "chunked" |
    "close", the length)."""
    if method == "HEAD" or status < 200 or status in _NO_BODY_STATUSES:
        return "none", 0
    encodings = [v.strip().lower() for n, v in headers if n.lower() == "transfer-encoding"]
    if encodings:
        if ",".join(encodings).replace(" ", "") != "chunked":
            raise httpx.RemoteProtocolError(f"unsupported Transfer-Encoding {encodings!r}")
        return "chunked", 0
    lengths = {part.strip() for n, v in headers if n.lower() == "content-length"
               for part in v.split(",")}
    if not lengths:
        return "close", 0
    if len(lengths) > 1 or not all(part.isdigit() and part.isascii() for part in lengths):
        raise httpx.RemoteProtocolError(f"bad Content-Length {sorted(lengths)!r}")
    return "length", int(lengths.pop())


class WireTransport:
    """What a worker's checks share: the TLS context (see the module docstring)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context if ssl_context is not None else \
            httpx.create_ssl_context()

    def close(self) -> None:
        """Nothing to close: no connection outlives its request."""

    def open(self, method: str, *, ip: str, port: int, tls_name: str | None, target: bytes,
             headers: list[tuple[str, str]], deadline: float,
             watch: Callable[[socket.socket], None]) -> WireResponse:
        """Send the request to ``ip``:``port`` (TLS with SNI and verification for
        ``tls_name`` when given) and read the answer's head. ``watch`` is given every
        socket as soon as it exists (the caller's watchdog shuts it down at the deadline).
        """
        request = _request_bytes(method, target, headers)
        sock = self._connect(ip, port, tls_name, deadline, watch)
        try:
            try:
                sock.sendall(request)
            except (TimeoutError, BlockingIOError) as exc:
                raise httpx.WriteTimeout(str(exc) or "write timed out") from exc
            except OSError as exc:
                raise httpx.WriteError(str(exc) or type(exc).__name__) from exc
            return self._read_head(method, sock)
        except BaseException:
            with contextlib.suppress(OSError):
                sock.close()
            raise

    def _connect(self, ip: str, port: int, tls_name: str | None, deadline: float,
                 watch: Callable[[socket.socket], None]) -> socket.socket:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            watch(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _backstop_timeouts(sock, deadline)
            try:
                sock.connect((ip, port))
            except (TimeoutError, BlockingIOError) as exc:
                raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
            except OSError as exc:
                raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
            if tls_name is None:
                return sock
            tls = self.ssl_context.wrap_socket(sock, server_hostname=tls_name,
                                               do_handshake_on_connect=False)
        except BaseException:
            sock.close()
            raise
        try:
            watch(tls)
            tls.do_handshake()
        except (TimeoutError, BlockingIOError) as exc:
            tls.close()
            raise httpx.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        except OSError as exc:  # ssl.SSLError and ssl.CertificateError are OSErrors
            tls.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return tls

    @staticmethod
    def _read_head(method: str, sock: socket.socket) -> WireResponse:
        """The answer's head, after any interim answers; all of them together within
        MAX_HEAD_BYTES. Linear in the bytes received: each byte is searched once."""
        response = WireResponse(0, [], sock, b"", "none")
        buffer, start, scanned = bytearray(), 0, 0
        while True:
            # A head ends at a blank line; its "\r\n\r\n" may straddle two reads.
            while (end := _HEAD_END.search(buffer, max(start, scanned - 3))) is None:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise httpx.RemoteProtocolError("the answer's head is too long")
                scanned = len(buffer)
                data = response.recv()
                if not data:
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response." if not buffer
                        else "peer closed connection without sending a complete head")
                buffer += data
            if end.start() > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("the answer's head is too long")
            status, headers = _parse_head(bytes(buffer[start:end.start()]))
            start = scanned = end.end()
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer (100 Continue, 103 Early Hints)
            framing, length = _framing(method, status, headers)
            response.status_code, response.headers = status, headers
            response._buffer = bytes(buffer[start:])
            response._framing, response._length = framing, length
            return response


def _backstop_timeouts(sock: socket.socket, deadline: float) -> None:
    """A blocking socket whose every send and receive the kernel stops a second after the
    deadline. The caller's watchdog shuts the socket down at the deadline itself; a
    Python-level timeout would instead make each call a poll() and the call, two waits
    for the GIL where one does (a worker runs hundreds of these at once)."""
    if sock.gettimeout() is not None:
        sock.settimeout(None)
    seconds = max(deadline - time.monotonic(), 0.0) + 1.0
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _request_bytes(method: str, target: bytes, headers: list[tuple[str, str]]) -> bytes:
    if any(c in target for c in b" \r\n\x00") or not target.startswith(b"/"):
        raise httpx.LocalProtocolError(f"illegal request target {target[:80]!r}")
    lines = [method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    for name, value in headers:
        if any(c in value for c in "\r\n\x00"):
            raise httpx.LocalProtocolError(f"illegal value of header {name}")
        lines.append(f"{name}: {value}".encode("latin-1"))
    return b"\r\n".join(lines) + b"\r\n\r\n"
