"""Worker jobs for evidence: fetch the pending captures (outside any transaction), purge the
captures past retention. They own the transactions."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, update

from disrupt.cases.models import Case
from disrupt.db import Database
from disrupt.evidence.models import Capture
from disrupt.evidence.services import (
    MAX_PICTURES_KEPT,
    may_keep_picture_bytes,
    picture_consent,
    purge_expired,
    remove_files,
    store_capture,
)
from disrupt.evidence.warc import PageCapture, build_warc
from disrupt.monitoring.fetch import BROWSER_ACCEPT, fetch
from disrupt.security import DataCipher

log = logging.getLogger(__name__)


def evidence_folder(config: Any) -> Path:
    return Path(config["EVIDENCE_DIR"])


def _request_headers(url: str, user_agent: str) -> dict[str, str]:
    """The headers the guarded fetch sends (disrupt/monitoring/fetch.py)."""
    from urllib.parse import urlsplit

    return {"Host": urlsplit(url).netloc, "User-Agent": user_agent, "Accept": BROWSER_ACCEPT,
            "Accept-Language": "en-US,en;q=0.9", "Accept-Encoding": "identity",
            "Connection": "close"}


def _claim(db: Database, limit: int, now: datetime, lease: timedelta) -> list[int]:
    """Pending captures, and those whose worker died mid-fetch (lease over): never dropped."""
    claimable = or_(Capture.status == "pending",
                    and_(Capture.status == "fetching", Capture.lease_expires_at < now))
    with db.session(claim=True) as session:
        ids = list(session.scalars(select(Capture.id).where(claimable)
                                   .order_by(Capture.id).limit(limit)))
        claimed = []
        for capture_id in ids:
            moved = session.execute(update(Capture).where(Capture.id == capture_id, claimable)
                                    .values(status="fetching", lease_expires_at=now + lease))
            if moved.rowcount:
                claimed.append(capture_id)
        session.commit()
    return claimed


def run_pending_captures(db: Database, config: Any, *, now: Callable[[], datetime],
                         limit: int = 20) -> int:
    """Fetch each pending capture through the checker's guarded fetch and store it."""
    cipher = DataCipher(config["DATA_KEY"])
    folder = evidence_folder(config)
    stored = 0
    lease = timedelta(seconds=float(config["LEASE_SECONDS"]))
    for capture_id in _claim(db, limit, now(), lease):
        with db.session() as session:
            capture = session.get(Capture, capture_id)
            case = session.get(Case, capture.case_id) if capture is not None else None
            if capture is None or case is None:
                continue
            url, pictures = capture.url, list(capture.pictures or [])
            keep_pictures = may_keep_picture_bytes(case, picture_consent(session, case))
            verdict = {"verdict": capture.verdict, "trigger": capture.trigger}
        page = _fetch_page(config, url, pictures, verdict, keep_pictures=keep_pictures)
        moment = now()
        with db.session(claim=True) as session:  # it writes: write lock at BEGIN on SQLite
            capture = session.get(Capture, capture_id)
            if capture is None:  # erased meanwhile
                continue
            warc = build_warc(page, captured_at=moment, trigger=capture.trigger)
            actor = (f"user:{capture.captured_by_id}" if capture.captured_by_id
                     else "system:checker")
            if page.status is None:
                capture.error = f"{page.error}"[:200]
            store_capture(session, capture, warc, folder=folder, cipher=cipher, actor=actor,
                          now=moment, final_url=page.final_url, http_status=page.status,
                          picture_bytes_kept=bool(page.picture_bytes))
            session.commit()
            stored += 1
    return stored


def _fetch_page(config: Any, url: str, pictures: list[dict[str, Any]],
                verdict: dict[str, Any], *, keep_pictures: bool) -> PageCapture:
    user_agent = config["USER_AGENT"]
    result = fetch(url, allow_loopback=bool(config["ALLOW_LOOPBACK"]),
                   timeout=float(config["CHECK_TIMEOUT"]),
                   max_bytes=int(config["CHECK_MAX_BYTES"]),
                   max_redirects=int(config["CHECK_MAX_REDIRECTS"]), user_agent=user_agent)
    kept: list[tuple[str, str, bytes]] = []
    if keep_pictures:
        for picture in pictures[:MAX_PICTURES_KEPT]:
            if not picture.get("url"):
                continue
            media = fetch(picture["url"], allow_loopback=bool(config["ALLOW_LOOPBACK"]),
                          timeout=float(config["CHECK_TIMEOUT"]),
                          max_bytes=int(config["CHECK_MAX_MEDIA_BYTES"]),
                          max_redirects=int(config["CHECK_MAX_REDIRECTS"]),
                          user_agent=user_agent)
            if media.status == 200 and media.body and not media.truncated:
                kept.append((media.final_url, media.headers.get("content-type", ""),
                             media.body))
    return PageCapture(
        url=url, final_url=result.final_url, request_headers=_request_headers(
            result.final_url, user_agent), status=result.status, headers=result.headers,
        body=result.body, truncated=result.truncated, redirect_chain=result.redirect_chain,
        peer_ip=result.peer_ip, certificate=result.peer_certificate,
        error=result.error and f"{result.error}: {result.error_detail}"[:200],
        verdict=verdict, pictures=pictures, picture_bytes=kept)


def purge_expired_evidence(db: Database, config: Any, *, now: Callable[[], datetime]) -> int:
    retention = timedelta(days=float(config["EVIDENCE_RETENTION_DAYS"]))
    with db.session(claim=True) as session:
        files = purge_expired(session, retention=retention, now=now())
        session.commit()
    remove_files(evidence_folder(config), files)
    return len(files)
