"""Reading the organisation's mailbox over IMAP (TLS only) or from a Maildir on this machine,
and making a message safe to keep: its text (HTML turned into text in one pass), its
attachments' names and SHA-256 (never their bytes). The mailbox is written by outsiders, so
everything is bounded: messages per run, bytes per message, MIME parts and depth, characters
kept, time spent parsing. Nothing is ever changed in the mailbox: the IMAP folder is opened
read-only and bodies are read with BODY.PEEK, so not even the \\Seen flag moves; a Maildir's
files are only opened for reading (never moved from new/ to cur/, flagged or deleted)."""
from __future__ import annotations

import contextlib
import email
import email.errors
import email.header
import email.message
import email.parser
import email.utils
import hashlib
import html
import imaplib
import mailbox
import os
import re
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_MESSAGE_BYTES = 2_000_000   # larger messages: only their headers are read
MAX_HEADER_BYTES = 64_000
MAX_MESSAGES_PER_RUN = 50
MAX_BODY_CHARS = 50_000
MAX_PARTS = 100
MAX_DEPTH = 8
PARSE_SECONDS = 2.0
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class MailboxError(Exception):
    """The mailbox could not be read (connection, TLS, login, folder)."""


@dataclass(frozen=True)
class MailboxSettings:
    host: str
    port: int
    user: str
    password: str
    folder: str
    ca_file: str | None
    timeout: float

    @classmethod
    def from_config(cls, config: Any) -> MailboxSettings:
        return cls(host=config["IMAP_HOST"], port=int(config["IMAP_PORT"]),
                   user=config["IMAP_USER"], password=config["IMAP_PASSWORD"],
                   folder=config["IMAP_FOLDER"], ca_file=config.get("IMAP_CA_FILE") or None,
                   timeout=float(config["SEND_TIMEOUT_SECONDS"]))


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes
    size: int
    headers_only: bool  # too large: only its headers were read


@dataclass(frozen=True)
class FetchedBatch:
    uidvalidity: int
    messages: list[FetchedMessage]


def _connect(settings: MailboxSettings) -> imaplib.IMAP4_SSL:
    context = ssl.create_default_context(cafile=settings.ca_file)
    try:
        imap = imaplib.IMAP4_SSL(settings.host, settings.port, ssl_context=context,
                                 timeout=settings.timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"IMAP {settings.host}:{settings.port}: {exc}") from exc
    try:
        imap.login(settings.user, settings.password)
    except (OSError, imaplib.IMAP4.error) as exc:
        _close(imap)
        raise MailboxError(f"IMAP login as {settings.user}: {exc}") from exc
    return imap


def _close(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        imap.logout()


def _fetched_bytes(data: list[Any]) -> dict[int, tuple[bytes, bytes]]:
    """uid -> (the FETCH response line, its literal) from imaplib's answer."""
    found: dict[int, tuple[bytes, bytes]] = {}
    for item in data:
        if isinstance(item, tuple) and len(item) >= 2:
            uid = _UID.search(item[0])
            if uid:
                found[int(uid.group(1))] = (item[0], item[1])
        elif isinstance(item, bytes):
            uid = _UID.search(item)
            if uid and _SIZE.search(item):
                found[int(uid.group(1))] = (item, b"")
    return found


def fetch_new(settings: MailboxSettings, *, uidvalidity: int | None, after_uid: int,
              limit: int = MAX_MESSAGES_PER_RUN) -> FetchedBatch:
    """The messages after ``after_uid`` (all of them when the folder's UIDVALIDITY is not
    ``uidvalidity``), oldest first, at most ``limit``."""
    imap = _connect(settings)
    try:
        status, _ = imap.select(_quoted(settings.folder), readonly=True)
        if status != "OK":
            raise MailboxError(f"IMAP folder {settings.folder!r} cannot be opened")
        answer = imap.response("UIDVALIDITY")[1]
        if not answer or not isinstance(answer[0], bytes) or not answer[0].isdigit():
            raise MailboxError(f"IMAP folder {settings.folder!r} gave no UIDVALIDITY")
        current = int(answer[0])
        if current != uidvalidity:
            after_uid = 0
        status, data = imap.uid("SEARCH", f"UID {after_uid + 1}:*")
        if status != "OK":
            raise MailboxError(f"IMAP search in {settings.folder!r} failed")
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > after_uid)
        uids = uids[:limit]
        messages: list[FetchedMessage] = []
        if uids:
            status, data = imap.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)")
            sizes = {uid: int(_SIZE.search(line).group(1))
                     for uid, (line, _) in _fetched_bytes(data).items() if _SIZE.search(line)}
            for uid in uids:
                size = sizes.get(uid, MAX_MESSAGE_BYTES + 1)
                headers_only = size > MAX_MESSAGE_BYTES
                part = f"BODY.PEEK[HEADER]<0.{MAX_HEADER_BYTES}>" if headers_only \
                    else "BODY.PEEK[]"
                status, data = imap.uid("FETCH", str(uid), f"({part})")
                raw = _fetched_bytes(data).get(uid, (b"", b""))[1] if status == "OK" else b""
                messages.append(FetchedMessage(uid, raw[:MAX_MESSAGE_BYTES], size,
                                               headers_only))
        return FetchedBatch(current, messages)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"IMAP {settings.folder!r}: {exc}") from exc
    finally:
        _close(imap)


# --- a Maildir on this machine --------------------------------------------------------------

def maildir_folder(path: str) -> str:
    """The name a Maildir's messages are filed under (``mailbox_messages.folder``)."""
    name = "maildir:" + os.path.abspath(path)
    if len(name) > 200:
        name = "maildir:sha256:" + hashlib.sha256(name.encode()).hexdigest()
    return name


def maildir_uid(key: str) -> int:
    """A message's number in ``mailbox_messages.uid``: the first 63 bits of the SHA-256 of
    its Maildir key (its file name without the ":2,FLAGS" part), so it stays the same when
    another mail client marks it read or moves it from new/ to cur/."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8", "replace")).digest()[:8]) >> 1


def _open_maildir(path: str) -> mailbox.Maildir:
    if not all(os.path.isdir(os.path.join(path, sub)) for sub in ("cur", "new")):
        raise MailboxError(f"{path!r} is not a Maildir (no cur/ and new/ folders)")
    return mailbox.Maildir(path, factory=None, create=False)


def list_maildir(path: str) -> list[tuple[int, str]]:
    """(uid, key) of every message in the Maildir (new/ and cur/), oldest delivery first
    as far as the keys tell."""
    try:
        keys = _open_maildir(path).keys()
    except OSError as exc:
        raise MailboxError(f"Maildir {path!r}: {exc}") from exc
    return sorted(((maildir_uid(key), key) for key in keys),
                  key=lambda item: _delivery_order(item[1]))


_KEY_TIME = re.compile(r"(\d{1,12})\.([^.]*)")
_KEY_MICROSECONDS = re.compile(r"M(\d{1,6})")


def _delivery_order(key: str) -> tuple[int, int, str]:
    """A key starts with its delivery time in seconds ("1733400000.M123456P42Q1.host" for
    Python and Dovecot, "…V801I2a3bM123456.host" for Postfix); the microseconds are not
    zero-padded, so they are compared as numbers. Other keys sort first, by name."""
    found = _KEY_TIME.match(key)
    if found is None:
        return 0, 0, key
    micro = _KEY_MICROSECONDS.search(found.group(2))
    return int(found.group(1)), int(micro.group(1)) if micro else 0, key


def read_maildir(path: str, wanted: list[tuple[int, str]],
                 limit: int | None = None) -> list[FetchedMessage]:
    """Up to ``limit`` messages of ``wanted`` (uid, key), read-only and bounded like the
    IMAP path: a message over MAX_MESSAGE_BYTES is read up to its headers. A message that
    cannot be opened (gone since the listing, unreadable) is skipped, so it never holds up
    the ones after it."""
    box = _open_maildir(path)
    limit = MAX_MESSAGES_PER_RUN if limit is None else limit
    messages: list[FetchedMessage] = []
    for uid, key in wanted:
        if len(messages) >= limit:
            break
        try:
            with contextlib.closing(box.get_file(key)) as fh:
                fh.seek(0, 2)
                size = fh.tell()
                fh.seek(0)
                headers_only = size > MAX_MESSAGE_BYTES
                raw = fh.read(MAX_HEADER_BYTES if headers_only else MAX_MESSAGE_BYTES)
        except (KeyError, OSError):
            continue
        if headers_only:
            end = raw.find(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.find(b"\n\n")
            raw = raw if end < 0 else raw[:end + 2]  # the headers, as IMAP's BODY[HEADER]
        messages.append(FetchedMessage(uid, raw, size, headers_only))
    return messages


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- making a message safe to keep ------------------------------------------------------------

@dataclass
class ParsedMessage:
    message_id: str = ""
    sender: str = ""
    subject: str = ""
    in_reply_to: str = ""
    references: str = ""
    sent_at: datetime | None = None
    body: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _header(message: email.message.Message, name: str, limit: int = 2000) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value)[:limit])))
    except (LookupError, ValueError, UnicodeError, email.errors.HeaderParseError):
        text = str(value)
    return " ".join(text.split())[:limit]


_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table",
               "blockquote", "pre", "hr", "section", "article", "ul", "ol"}
_SKIPPED_TAGS = ("script", "style", "head", "title")


def html_to_text(markup: str) -> str:
    """Text of an HTML body in one left-to-right pass (str.find only: linear time on any
    input); block elements become line breaks, scripts and styles are dropped."""
    out: list[str] = []
    position, length = 0, len(markup)
    while position < length:
        start = markup.find("<", position)
        if start < 0:
            out.append(html.unescape(markup[position:]))
            break
        out.append(html.unescape(markup[position:start]))
        if markup.startswith("<!--", start):
            end = markup.find("-->", start + 4)
            position = length if end < 0 else end + 3
            continue
        end = markup.find(">", start + 1)
        if end < 0:
            break
        tag = markup[start + 1:end].strip().lstrip("/").split(None, 1)
        name = tag[0].lower().rstrip("/") if tag else ""
        position = end + 1
        if name in _SKIPPED_TAGS and not markup[start + 1:end].lstrip().startswith("/"):
            close = _find_ci(markup, f"</{name}", position)
            position = length if close < 0 else close
        elif name in _BLOCK_TAGS:
            out.append("\n")
    text = "".join(out)
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _find_ci(text: str, needle: str, start: int) -> int:
    """Case-insensitive find without lowering the whole text again and again."""
    first = text.find(needle, start)
    upper = text.find(needle.upper(), start)
    candidates = [i for i in (first, upper) if i >= 0]
    return min(candidates) if candidates else -1


def _decoded(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _filename(part: email.message.Message) -> str:
    try:
        name = part.get_filename() or ""
    except (LookupError, ValueError, UnicodeError):
        name = ""
    with contextlib.suppress(LookupError, ValueError, UnicodeError, email.errors.HeaderParseError):
        name = str(email.header.make_header(email.header.decode_header(name)))
    return " ".join(name.split())[:200] or "(no name)"


def parse_message(raw: bytes, *, headers_only: bool = False, size: int | None = None,
                  clock: Any = time.monotonic) -> ParsedMessage:
    """Never raises: what cannot be read is named in ``problems`` and left out."""
    parsed = ParsedMessage()
    deadline = clock() + PARSE_SECONDS
    try:
        message = email.message_from_bytes(raw[:MAX_MESSAGE_BYTES])
    except (RecursionError, MemoryError, ValueError, LookupError, TypeError) as exc:
        parsed.problems.append(f"unreadable message ({type(exc).__name__}): only its headers "
                               "were read")
        headers_only = True
        try:
            message = email.parser.BytesHeaderParser().parsebytes(raw[:MAX_HEADER_BYTES])
        except Exception:  # noqa: BLE001 - outsiders' bytes: keep nothing rather than crash
            return parsed
    _read_headers(parsed, message)
    if headers_only:
        if not parsed.problems:
            parsed.problems.append(f"too large ({size or len(raw)} bytes): only its headers "
                                   "were read")
        return parsed
    texts, htmls = _read_parts(parsed, message, deadline=deadline, clock=clock)
    if not texts and htmls:
        texts = [html_to_text(h) for h in htmls]
    body = "\n\n".join(t.replace("\r\n", "\n").strip() for t in texts if t.strip())
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS]
        parsed.problems.append(f"text cut at {MAX_BODY_CHARS} characters")
    parsed.body = body.replace("\x00", "")
    return parsed


def _read_headers(parsed: ParsedMessage, message: email.message.Message) -> None:
    parsed.message_id = _header(message, "Message-ID", 300)
    parsed.sender = _header(message, "From", 300)
    parsed.subject = _header(message, "Subject", 300)
    parsed.in_reply_to = _header(message, "In-Reply-To", 2000)
    parsed.references = _header(message, "References", 10_000)
    try:
        date = email.utils.parsedate_to_datetime(_header(message, "Date", 200))
        parsed.sent_at = date.astimezone(UTC) if date.tzinfo else date.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        parsed.sent_at = None


def _read_parts(parsed: ParsedMessage, message: email.message.Message, *, deadline: float,
                clock: Any) -> tuple[list[str], list[str]]:
    """The plain-text and HTML parts' text; attachments' names and digests into ``parsed``.
    Walked without recursion, up to MAX_PARTS parts, MAX_DEPTH levels and the deadline."""
    texts: list[str] = []
    htmls: list[str] = []
    stack: list[tuple[email.message.Message, int]] = [(message, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS or depth > MAX_DEPTH or clock() > deadline:
            parsed.problems.append("too many or too deeply nested parts: the rest was not read")
            break
        try:
            if part.is_multipart():
                children = part.get_payload()
                if isinstance(children, list):
                    stack.extend((child, depth + 1) for child in reversed(children))
                continue
            disposition = (part.get("Content-Disposition") or "").lower()
            kind = part.get_content_type()
            if "attachment" in disposition or part.get_filename() or \
                    not kind.startswith("text/"):
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
                parsed.attachments.append({"name": _filename(part),
                                           "sha256": hashlib.sha256(data).hexdigest(),
                                           "size": len(data)})
            elif kind == "text/html":
                htmls.append(_decoded(part)[:MAX_BODY_CHARS * 4])
            else:
                texts.append(_decoded(part)[:MAX_BODY_CHARS])
        except (RecursionError, ValueError, LookupError, TypeError, AttributeError) as exc:
            parsed.problems.append(f"a part could not be read ({type(exc).__name__})")
    return texts, htmls
