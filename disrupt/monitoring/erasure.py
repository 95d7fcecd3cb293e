"""The monitoring feature's part of an erasure: a check keeps its date, verdict and rule
(the statistics), not where the address led, the server's IP or a reason that quotes the
address; the soft-404 fingerprints probed next to her addresses are deleted (a cache:
re-probed when needed). Never commits."""
from __future__ import annotations

import urllib.parse
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from disrupt.events import case_erased
from disrupt.monitoring.models import HostFingerprint, URLCheck

ERASED_TEXT = "erased"

PERSONAL = {
    "url_checks": ("reason", "final_url", "redirect_chain", "media_url", "peer_ip",
                   "body_digest", "media_digest"),
    # The probe's path is the folder of her address.
    "host_fingerprints": ("origin", "probe_url", "final_url", "text_simhash", "text_digest",
                          "body_digest"),
}
NOT_PERSONAL = {
    "url_checks": ("verdict", "rule", "content_type", "detector_version", "worker"),
    "host_fingerprints": ("kind",),
    "host_slots": ("host", "holder"),  # a host name and a worker's name, per site
}


def on_case_erased(case: object, *, session: Session, now: datetime,
                   urls: dict[int, str], **_: object) -> None:
    if not urls:
        return
    session.execute(update(URLCheck).where(URLCheck.reported_url_id.in_(list(urls))).values(
        reason=ERASED_TEXT, final_url=None, redirect_chain=None, media_url=None,
        peer_ip=None, body_digest=None, media_digest=None))
    origins = {_origin(url) for url in urls.values()} - {""}
    if origins:
        session.execute(delete(HostFingerprint).where(HostFingerprint.origin.in_(origins)))


def _origin(url: str) -> str:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.netloc else ""


def connect() -> None:
    case_erased.connect(on_case_erased)
