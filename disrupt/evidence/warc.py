"""One capture as a WARC file (warcio): warcinfo, the request as sent, the response (headers
and the bounded body), the TLS certificate of the host, the check's verdict as metadata, and
picture bytes only when the caller was allowed to keep them. Pure: no database, no network."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SOFTWARE = "DISRUPT evidence capture (warcio 1.7.5)"


@dataclass(frozen=True)
class PageCapture:
    """What the guarded fetch brought back, and what the capture says about it."""

    url: str
    final_url: str
    request_headers: dict[str, str]
    status: int | None
    headers: dict[str, str]
    body: bytes
    truncated: bool
    redirect_chain: list[tuple[str, int]]
    peer_ip: str | None
    certificate: bytes | None
    error: str | None
    verdict: dict[str, Any]
    pictures: list[dict[str, Any]]
    #: (url, content type, bytes) of pictures kept with the victim's consent (adult case).
    picture_bytes: list[tuple[str, str, bytes]] = field(default_factory=list)


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_warc(page: PageCapture, *, captured_at: datetime, trigger: str) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=False)
    date = {"WARC-Date": _date(captured_at)}
    writer.write_record(writer.create_warcinfo_record("capture.warc", {
        "software": SOFTWARE, "format": "WARC File Format 1.1", "trigger": trigger,
        "isPartOf": "disrupt-evidence"}))
    target = page.final_url or page.url
    path = _request_target(target)
    request = StatusAndHeaders(f"GET {path} HTTP/1.1", list(page.request_headers.items()),
                               is_http_request=True)
    writer.write_record(writer.create_warc_record(
        target, "request", http_headers=request, warc_headers_dict=dict(date),
        payload=io.BytesIO(b"")))
    if page.status is not None:
        headers = [(k, v) for k, v in page.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(len(page.body))))
        response = StatusAndHeaders(f"{page.status} -", headers, protocol="HTTP/1.1")
        extra = dict(date)
        if page.peer_ip:
            extra["WARC-IP-Address"] = page.peer_ip
        if page.truncated:
            extra["WARC-Truncated"] = "length"
        writer.write_record(writer.create_warc_record(
            target, "response", payload=io.BytesIO(page.body), http_headers=response,
            warc_headers_dict=extra, length=len(page.body)))
    if page.certificate:
        writer.write_record(writer.create_warc_record(
            f"urn:x-tls-certificate:{target}", "resource", payload=io.BytesIO(page.certificate),
            warc_headers_dict={**date, "Content-Type": "application/pkix-cert"},
            length=len(page.certificate)))
    for url, content_type, data in page.picture_bytes:
        writer.write_record(writer.create_warc_record(
            url, "resource", payload=io.BytesIO(data),
            warc_headers_dict={**date, "Content-Type": content_type or "application/octet-stream"},
            length=len(data)))
    metadata = json.dumps({
        "requested_url": page.url, "final_url": target,
        "redirect_chain": [list(hop) for hop in page.redirect_chain],
        "http_status": page.status, "fetch_error": page.error, "truncated": page.truncated,
        "verdict": page.verdict, "pictures": page.pictures,
        "picture_bytes_kept": [url for url, _, _ in page.picture_bytes],
    }, sort_keys=True, indent=1).encode()
    writer.write_record(writer.create_warc_record(
        target, "metadata", payload=io.BytesIO(metadata),
        warc_headers_dict={**date, "Content-Type": "application/json"}, length=len(metadata)))
    return out.getvalue()


def _request_target(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
