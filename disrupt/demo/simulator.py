"""Simulated platforms on 127.0.0.x for the demo and the tests: each hosts images, receives
notices (by its HTTP API, or by e-mail through a local SMTP server) and takes content down
after a delay, or never; an e-mail platform may answer a notice by e-mail, as platforms do.
Notices are de-duplicated by their idempotency key, and the log of what was received is the
proof that nothing arrived twice. The SMTP server also delivers the organisation's own mail
(the platforms' answers) into a Maildir, which the demo's worker reads."""
from __future__ import annotations

import contextlib
import email
import email.policy
import json
import mailbox
import os
import re
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

URL_LINE = re.compile(r"^\s*-\s+(https?://\S+)\s*$", re.MULTILINE)
SAFE_KEY = re.compile(r"[A-Za-z0-9._-]{1,80}")


@dataclass
class ReceivedNotice:
    key: str
    channel: str
    urls: list[str]
    received_at: float
    subject: str = ""


@dataclass
class SimulatedPlatform:
    """One platform: `takedown_after` seconds after a notice, its URLs answer 404;
    None means it never acts."""

    name: str
    ip: str = "127.0.0.1"
    takedown_after: float | None = 0.0
    removed_status: int = 404
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    notices: list[ReceivedNotice] = field(default_factory=list)
    duplicates: int = 0
    fail_next_api_calls: int = 0
    # What the next API calls do, in order: "error" (500, nothing recorded), "slow" (record,
    # then answer after slow_seconds: the sender times out although the notice arrived),
    # "ok". Then every call is "ok".
    api_script: list[str] = field(default_factory=list)
    slow_seconds: float = 2.0
    api_calls: list[tuple[str, str]] = field(default_factory=list)  # (key, what happened)
    reply_status: str | None = "acknowledged"  # the decision the API answers with
    #: The e-mail it answers an e-mail notice with (to the notice's sender, In-Reply-To its
    #: Message-ID), ``reply_after`` seconds later; None: when it takes the content down.
    reply_text: str | None = None
    reply_after: float | None = None
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- content -----------------------------------------------------------------------
    def host_media(self, path: str, data: bytes, content_type: str = "image/jpeg") -> str:
        self.media[path] = (data, content_type)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the platform first"
        return f"http://{self.ip}:{self._server.server_address[1]}"

    @property
    def notice_endpoint(self) -> str:
        return self.url("/api/notices")

    def take_down(self, paths: list[str]) -> None:
        with self._lock:
            self.removed.update(paths)

    # -- notices -----------------------------------------------------------------------
    def receive_notice(self, key: str, urls: list[str], channel: str, subject: str = "") -> bool:
        """Record a notice once per key and schedule the takedown; False for a repeat."""
        with self._lock:
            if any(n.key == key for n in self.notices):
                self.duplicates += 1
                return False
            self.notices.append(ReceivedNotice(key, channel, urls, time.time(), subject))
        paths = [urlsplit(u).path for u in urls
                 if urlsplit(u).hostname == self.ip and urlsplit(u).path in self.media]
        if self.takedown_after is not None and paths:
            timer = threading.Timer(self.takedown_after, self.take_down, args=(paths,))
            timer.daemon = True
            timer.start()
        return True

    # -- server ------------------------------------------------------------------------
    def start(self, port: int = 0) -> SimulatedPlatform:
        handler = type("Handler", (_PlatformHandler,), {"platform": self})
        self._server = ThreadingHTTPServer((self.ip, port), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name=f"platform-{self.name}").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _PlatformHandler(BaseHTTPRequestHandler):
    """A platform's web server: its media, its notice log (GET /api/notices) and its notice
    API (POST /api/notices, de-duplicated by Idempotency-Key)."""

    protocol_version = "HTTP/1.1"
    platform: SimulatedPlatform

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        platform = self.platform
        path = urlsplit(self.path).path
        if path == "/api/notices":
            log = [n.__dict__ for n in platform.notices]
            self._send(200, json.dumps(log).encode(), "application/json")
        elif path in platform.media and path not in platform.removed:
            data, content_type = platform.media[path]
            self._send(200, data, content_type)
        elif path in platform.removed:
            self._send(platform.removed_status, b"This content has been removed.")
        else:
            self._send(404, b"Not found")

    do_HEAD = do_GET

    def _next_step(self, key: str) -> str:
        platform = self.platform
        with platform._lock:
            step = platform.api_script.pop(0) if platform.api_script else "ok"
            if platform.fail_next_api_calls > 0:
                platform.fail_next_api_calls -= 1
                step = "error"
            platform.api_calls.append((key, step))
        return step

    def do_POST(self) -> None:  # noqa: N802
        platform = self.platform
        if urlsplit(self.path).path != "/api/notices":
            self._send(404, b"Not found")
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Idempotency-Key", "")
        step = self._next_step(key)
        if step == "error":
            self._send(500, b"temporary failure")
            return
        try:
            payload = json.loads(body)
            urls = [str(u) for u in payload["urls"]]
        except (ValueError, KeyError, TypeError):
            self._send(400, b"bad notice")
            return
        if not key:
            self._send(400, b"Idempotency-Key header required")
            return
        fresh = platform.receive_notice(key, urls, "api", payload.get("subject", ""))
        if step == "slow":
            time.sleep(platform.slow_seconds)
        answer: dict[str, Any] = {"received": True, "duplicate": not fresh,
                                  "reference": f"{platform.name}-{key[:8]}"}
        if platform.reply_status:
            answer["status"] = platform.reply_status
        with contextlib.suppress(OSError):  # the sender gave up waiting ("slow")
            self._send(202 if fresh else 200, json.dumps(answer).encode(), "application/json")


class NoticeReceiver(Protocol):
    """Who an e-mail address delivers notices to: a platform, or a CDN forwarding them."""

    name: str
    reply_text: str | None

    def receive_notice(self, key: str, urls: list[str], channel: str,
                       subject: str = "") -> bool: ...


class _MailHandler:
    def __init__(self, mailbox: NoticeMailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        key = str(message.get("Message-ID", "")).strip()
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        urls = URL_LINE.findall(text)
        for recipient in envelope.rcpt_tos:
            platform = self.mailbox.by_address.get(recipient.lower())
            if platform is not None and platform.receive_notice(
                    key, urls, "email", str(message.get("Subject", ""))):
                self.mailbox.schedule_reply(platform, recipient, message)
            maildir = self.mailbox.maildirs.get(recipient.lower())
            if maildir is not None:
                maildir.add(envelope.content)  # tmp/, then new/: a mail server's delivery
        self.mailbox.messages.append(message)
        self.mailbox.keep(message, envelope.content)
        return "250 Message accepted for delivery"


class NoticeMailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that delivers notices to the simulated
    platforms by their e-mail address, and the mail of the addresses given to `deliver_to`
    into a Maildir."""

    def __init__(self, port: int | None = None, folder: Path | None = None) -> None:
        self.port = port or free_port()
        self.by_address: dict[str, NoticeReceiver] = {}
        self.maildirs: dict[str, mailbox.Maildir] = {}
        self.messages: list[email.message.EmailMessage] = []
        #: Where every message received is kept as a file, so an evaluator can read what a
        #: platform and a victim's mailbox received (notices: notice-<key>.eml).
        self.folder = folder
        self._controller: Controller | None = None

    def keep(self, message: email.message.EmailMessage, raw: bytes) -> Path | None:
        if self.folder is None:
            return None
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = str(message.get("X-Disrupt-Idempotency-Key", "")).strip()
        if SAFE_KEY.fullmatch(key):
            name = f"notice-{key}.eml"
        else:
            name = f"mail-{len(self.messages):04d}.eml"
        path = self.folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        return path

    def register(self, address: str, platform: NoticeReceiver) -> str:
        self.by_address[address.lower()] = platform
        return address

    def deliver_to(self, address: str, maildir: Path) -> str:
        """Mail to ``address`` is delivered into the Maildir ``maildir`` (created 0700)."""
        maildir.parent.mkdir(parents=True, exist_ok=True)
        self.maildirs[address.lower()] = mailbox.Maildir(str(maildir), create=True)
        return address

    def schedule_reply(self, platform: NoticeReceiver, address: str,
                       notice: email.message.EmailMessage) -> None:
        if not platform.reply_text:
            return
        delay = getattr(platform, "reply_after", None)
        if delay is None:
            delay = (getattr(platform, "takedown_after", None) or 0.0) + 0.5
        timer = threading.Timer(delay, self.send_reply,
                                args=(platform.name, address, platform.reply_text, notice))
        timer.daemon = True
        timer.start()

    def send_reply(self, name: str, address: str, text: str,
                   notice: email.message.EmailMessage) -> None:
        """The platform's answer, by SMTP through this server, as its mail system sends it:
        to the notice's sender, threaded by In-Reply-To/References, quoting the notice."""
        reply = EmailMessage()
        reply["From"] = f"{name} <{address}>"
        reply["To"] = str(notice.get("From", ""))
        reply["Subject"] = f"Re: {notice.get('Subject', '')}"
        reply["Date"] = format_datetime(datetime.now(UTC))
        reply["Message-ID"] = make_msgid(domain=address.rsplit("@", 1)[-1])
        reply["In-Reply-To"] = reply["References"] = str(notice.get("Message-ID", ""))
        body = notice.get_body(preferencelist=("plain",))
        quoted = "\n".join(f"> {line}" for line in
                           (body.get_content() if body is not None else "").splitlines()[:60])
        reply.set_content(f"{text}\n\nOn {notice.get('Date', '')}, {notice.get('From', '')} "
                          f"wrote:\n{quoted}\n")
        recipient = parseaddr(str(notice.get("From", "")))[1]
        with contextlib.suppress(OSError, smtplib.SMTPException), \
                smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.send_message(reply, from_addr=address, to_addrs=[recipient])

    def start(self) -> NoticeMailbox:
        self._controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
