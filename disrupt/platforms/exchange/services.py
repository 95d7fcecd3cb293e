"""The hash exchange, StopNCII-compatible: one record per (signal type, hash) aggregated over
cases, paginated by modification time. Takes a session and `now`; never commits."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from disrupt.cases import sharing
from disrupt.cases.models import STOPPED_STATUSES, Case, MediaHash
from disrupt.cases.sharing import cleared_sql
from disrupt.hashing.matching import is_pdq_hex
from disrupt.platforms.exchange.models import FEEDBACK_VALUES, APIClient, HashFeedback, PartnerHash
from disrupt.platforms.models import Platform

SIGNAL_TYPES = ("ImagePDQ", "VideoMD5")
MAX_PAGE_SIZE = 1000
MAX_TIMESTAMP = 253402300799  # 9999-12-31 23:59:59 UTC
MD5_HEX = re.compile(r"[0-9a-f]{32}")
# Records modified this close to "now" may still be joined by a transaction that commits
# later with an earlier time: the checkpoint stays behind them (records are snapshots, so a
# record seen twice is harmless; a record never seen is not).
CHECKPOINT_MARGIN = timedelta(seconds=5)


class ExchangeError(ValueError):
    pass


# -- API clients ------------------------------------------------------------------------------

def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_client(
    session: Session, *, platform: Platform, name: str, now: datetime,
    created_by_id: int | None = None,
) -> tuple[APIClient, str]:
    """A new client; returns it with its function key, which is shown once."""
    secret = secrets.token_urlsafe(32)
    client = APIClient(
        platform=platform, name=name.strip() or platform.name,
        subscription_key=f"dsr-{secrets.token_hex(12)}", secret_sha256=_digest(secret),
        created_by_id=created_by_id, created_at=now,
    )
    session.add(client)
    session.flush()
    return client, secret


def authenticate_client(
    session: Session, subscription_key: str | None, function_key: str | None, now: datetime
) -> APIClient | None:
    if not subscription_key or not function_key:
        return None
    client = session.scalar(select(APIClient).where(APIClient.subscription_key == subscription_key))
    digest = _digest(function_key)
    if client is None:
        hmac.compare_digest(digest, digest)
        return None
    if not hmac.compare_digest(client.secret_sha256, digest) or client.revoked_at is not None:
        return None
    client.last_used_at = now
    return client


def revoke_api_client(client: APIClient, now: datetime) -> None:
    client.revoked_at = client.revoked_at or now


# -- which hashes are shared ------------------------------------------------------------------

def _row_status():
    return case(
        (and_(MediaHash.status == "active", Case.status.not_in(STOPPED_STATUSES)),
         literal("Active")),
        (or_(MediaHash.status == "deleted", Case.status == "erased"), literal("Deleted")),
        else_=literal("Withdrawn"),
    )


def _latest(session: Session, *columns):
    """Largest of several timestamps, NULLs ignored (GREATEST on PostgreSQL, max() on SQLite)."""
    base = columns[0]
    filled = [base] + [func.coalesce(c, base) for c in columns[1:]]
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(*filled)
    return func.max(*filled)


def _signal_rows(session: Session):
    """(signal_type, hash_value, modified) for every shareable hash row and its feedback."""
    modified = _latest(session, MediaHash.created_at, MediaHash.status_changed_at,
                       MediaHash.sharing_approved_at, Case.withdrawn_at, Case.erased_at)
    images = (
        select(literal("ImagePDQ", String).label("signal_type"),
               MediaHash.pdq.label("hash_value"), modified.label("modified"))
        .join(Case, Case.id == MediaHash.case_id)
        .where(MediaHash.kind == "image", MediaHash.pdq.is_not(None), cleared_sql())
    )
    videos = (
        select(literal("VideoMD5", String).label("signal_type"),
               MediaHash.md5.label("hash_value"), modified.label("modified"))
        .join(Case, Case.id == MediaHash.case_id)
        .where(MediaHash.kind == "video", MediaHash.md5.is_not(None), cleared_sql())
    )
    shared = union_all(images, videos).subquery()
    feedback = (
        select(shared.c.signal_type, HashFeedback.hash_value,
               HashFeedback.created_at.label("modified"))
        .join(shared, shared.c.hash_value == HashFeedback.hash_value)
    )
    return union_all(select(shared), feedback).subquery()


# -- FetchHashes --------------------------------------------------------------------------------

def _encode_token(modified: datetime, signal_type: str, hash_value: str) -> str:
    raw = json.dumps([modified.isoformat(), signal_type, hash_value]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[datetime, str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        modified, signal_type, hash_value = json.loads(raw)
        after = datetime.fromisoformat(modified)
    except (ValueError, TypeError) as exc:
        raise ExchangeError("nextPageToken is not valid") from exc
    if after.tzinfo is None or not isinstance(signal_type, str) \
            or not isinstance(hash_value, str) or len(hash_value) > 64:
        raise ExchangeError("nextPageToken is not valid")
    return after, signal_type, hash_value


def opaque_case_number(secret_key: str, platform_id: int, case_id: int) -> str:
    """A case identifier that means nothing outside one platform, and differs per platform."""
    mac = hmac.new(secret_key.encode(), f"exchange:{platform_id}:{case_id}".encode(),
                   hashlib.sha256)
    return mac.hexdigest()[:20]


def _to_ts(moment: datetime) -> int:
    return int(moment.timestamp())


def fetch_hash_records(
    session: Session, *, client: APIClient, start_timestamp: int, page_size: int,
    page_token: str | None, secret_key: str, now: datetime,
) -> dict[str, Any]:
    """One page of FetchHashes. Records are ordered by (last modification, signal type, hash);
    a record that changes while a client pages moves behind the cursor and comes again, so
    nothing is skipped."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ExchangeError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    if not 0 <= start_timestamp <= MAX_TIMESTAMP:
        raise ExchangeError(f"startTimestamp must be between 0 and {MAX_TIMESTAMP}")
    start = datetime.fromtimestamp(start_timestamp, UTC)
    rows = _signal_rows(session)
    grouped = (
        select(rows.c.signal_type, rows.c.hash_value, func.max(rows.c.modified).label("modified"))
        .group_by(rows.c.signal_type, rows.c.hash_value)
        .subquery()
    )
    query = select(grouped).where(grouped.c.modified >= start)
    if page_token:
        after, after_type, after_hash = _decode_token(page_token)
        query = query.where(or_(
            grouped.c.modified > after,
            and_(grouped.c.modified == after, grouped.c.signal_type > after_type),
            and_(grouped.c.modified == after, grouped.c.signal_type == after_type,
                 grouped.c.hash_value > after_hash),
        ))
    page = session.execute(
        query.order_by(grouped.c.modified, grouped.c.signal_type, grouped.c.hash_value)
        .limit(page_size + 1)
    ).all()
    has_more = len(page) > page_size
    page = page[:page_size]
    records = _records(session, client, [(r.signal_type, r.hash_value, r.modified) for r in page],
                       secret_key)
    last = page[-1] if page else None
    horizon = now - CHECKPOINT_MARGIN
    if has_more and last is not None:
        checkpoint = max(start, min(last.modified, horizon))
    else:
        # The listing is complete up to now: what changes next is modified after the horizon.
        checkpoint = max(start, horizon)
    return {
        "count": len(records),
        "nextPageToken": _encode_token(last.modified, last.signal_type, last.hash_value)
        if has_more and last is not None else None,
        "nextSetTimestamp": _to_ts(checkpoint),
        "hasMoreRecords": has_more,
        "hashRecords": records,
    }


def _records(
    session: Session, client: APIClient, keys: list[tuple[str, str, datetime]], secret_key: str
) -> list[dict[str, Any]]:
    if not keys:
        return []
    pdqs = [h for t, h, _ in keys if t == "ImagePDQ"]
    md5s = [h for t, h, _ in keys if t == "VideoMD5"]
    cases_by_key: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    status = _row_status().label("status")
    for signal_type, column, values in (("ImagePDQ", MediaHash.pdq, pdqs),
                                        ("VideoMD5", MediaHash.md5, md5s)):
        if not values:
            continue
        for value, case_id, row_status in session.execute(
            select(column, MediaHash.case_id, status)
            .join(Case, Case.id == MediaHash.case_id)
            .where(column.in_(values), cleared_sql())
        ):
            number = opaque_case_number(secret_key, client.platform_id, case_id)
            previous = cases_by_key[(signal_type, value)].get(number)
            if previous != "Active":
                cases_by_key[(signal_type, value)][number] = row_status
    feedback = latest_feedback(session, [h for _, h, _ in keys])
    records = []
    for signal_type, value, modified in keys:
        case_numbers = cases_by_key[(signal_type, value)]
        statuses = set(case_numbers.values())
        aggregate = ("Active" if "Active" in statuses else
                     "Withdrawn" if "Withdrawn" in statuses else "Deleted")
        records.append({
            "lastModtimestamp": _to_ts(modified),
            "signalType": signal_type,
            "hashValue": value,
            "hashStatus": aggregate,
            "caseNumbers": case_numbers,
            "CSPFeedbacks": [
                {"feedbackValue": f.value, "tags": list(f.tags or []), "source": f.platform.name}
                for f in feedback.get(value, [])
            ],
        })
    return records


# -- feedback and submitted hashes ----------------------------------------------------------

def latest_feedback(session: Session, hash_values: list[str]) -> dict[str, list[HashFeedback]]:
    """The newest feedback of each platform for each hash value."""
    if not hash_values:
        return {}
    newest: dict[tuple[str, int], HashFeedback] = {}
    for item in session.scalars(
        select(HashFeedback).where(HashFeedback.hash_value.in_(hash_values))
        .order_by(HashFeedback.created_at, HashFeedback.id)
    ):
        newest[(item.hash_value, item.platform_id)] = item
    result: dict[str, list[HashFeedback]] = defaultdict(list)
    for (value, _), item in sorted(newest.items(), key=lambda kv: kv[1].platform.name):
        result[value].append(item)
    return dict(result)


def _feedback_value(raw: Any) -> str:
    value = str(raw or "")
    if value.startswith("StopNCIICSPFeedbackValue."):
        value = value.split(".", 1)[1]
    if value == "None_":
        value = "None"
    if value not in FEEDBACK_VALUES:
        raise ExchangeError(f"unknown feedbackValue {str(raw)[:80]!r}")
    return value


def _signal_type(raw: Any) -> str:
    value = str(raw or "")
    if value.startswith("StopNCIISignalType."):
        value = value.split(".", 1)[1]
    if value not in SIGNAL_TYPES:
        raise ExchangeError(f"unsupported signalType {str(raw)[:80]!r}")
    return value


def _tags(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, str) and len(t) <= 100 for t in raw):
        raise ExchangeError("tags must be a list of short strings")
    return sorted(set(raw))[:20]


def _listed_hashes(session: Session, values: list[str]) -> set[str]:
    """Of these values, the ones FetchHashes lists: any other hash, whether we hold it or
    not, is answered for as unknown, so that a key cannot ask what we hold."""
    found = set(session.scalars(
        select(MediaHash.pdq).join(Case, Case.id == MediaHash.case_id)
        .where(MediaHash.kind == "image", MediaHash.pdq.in_(values), cleared_sql())))
    found |= set(session.scalars(
        select(MediaHash.md5).join(Case, Case.id == MediaHash.case_id)
        .where(MediaHash.kind == "video", MediaHash.md5.in_(values), cleared_sql())))
    return found


def submit_feedback(
    session: Session, *, client: APIClient, payload: Any, now: datetime
) -> dict[str, Any]:
    """SubmitFeedback: {"count", "hashFeedbacks": [{"hashValue", "feedbackValue", "tags"}]}."""
    items = payload.get("hashFeedbacks") if isinstance(payload, dict) else None
    if not isinstance(items, list) or len(items) > MAX_PAGE_SIZE:
        raise ExchangeError(f"hashFeedbacks must be a list of at most {MAX_PAGE_SIZE} items")
    parsed = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("hashValue"), str):
            raise ExchangeError("each feedback needs a hashValue")
        parsed.append((item["hashValue"].lower(), _feedback_value(item.get("feedbackValue")),
                       _tags(item.get("tags"))))
    known = _listed_hashes(session, [value for value, _, _ in parsed])
    unknown = sorted({value for value, _, _ in parsed if value not in known})
    for value, feedback, tags in parsed:
        if value in known:
            session.add(HashFeedback(
                signal_type="ImagePDQ" if is_pdq_hex(value) else "VideoMD5", hash_value=value,
                platform_id=client.platform_id, api_client_id=client.id, value=feedback,
                tags=tags, created_at=now))
    return {"count": len(parsed) - len([v for v, _, _ in parsed if v in unknown]),
            "unknownHashValues": unknown}


def submit_hashes(
    session: Session, *, client: APIClient, payload: Any, now: datetime
) -> dict[str, Any]:
    """SubmitHashes: a platform's own hashes, kept for review (never shared automatically)."""
    items = payload.get("hashRecords") if isinstance(payload, dict) else None
    if not isinstance(items, list) or len(items) > MAX_PAGE_SIZE:
        raise ExchangeError(f"hashRecords must be a list of at most {MAX_PAGE_SIZE} items")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("hashValue"), str):
            raise ExchangeError("each record needs a hashValue")
        signal_type = _signal_type(item.get("signalType"))
        value = item["hashValue"].lower()
        if signal_type == "ImagePDQ" and not is_pdq_hex(value):
            raise ExchangeError(f"{value[:80]!r} is not a PDQ hash")
        if signal_type == "VideoMD5" and not MD5_HEX.fullmatch(value):
            raise ExchangeError(f"{value[:80]!r} is not an MD5 hash (32 hexadecimal digits)")
        feedbacks = item.get("CSPFeedbacks") or [{}]
        if not isinstance(feedbacks, list) or not all(isinstance(f, dict) for f in feedbacks):
            raise ExchangeError("CSPFeedbacks must be a list of objects")
        first = feedbacks[0] if feedbacks else {}
        session.add(PartnerHash(
            platform_id=client.platform_id, signal_type=signal_type, hash_value=value,
            feedback_value=_feedback_value(first.get("feedbackValue")) if first else None,
            tags=_tags(first.get("tags")) if first else [], created_at=now))
    return {"count": len(items)}


# -- plain exports ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportRow:
    signal_type: str
    hash_value: str
    status: str
    last_modified: int


def export_rows(session: Session, *, client: APIClient, secret_key: str,
                now: datetime) -> list[ExportRow]:
    """Every shared hash with its aggregate status, for platforms without HMA."""
    rows: list[ExportRow] = []
    token = None
    while True:
        page = fetch_hash_records(session, client=client, start_timestamp=0,
                                  page_size=MAX_PAGE_SIZE, page_token=token,
                                  secret_key=secret_key, now=now)
        rows.extend(ExportRow(r["signalType"], r["hashValue"], r["hashStatus"],
                              r["lastModtimestamp"]) for r in page["hashRecords"])
        if not page["hasMoreRecords"]:
            return rows
        token = page["nextPageToken"]


# -- what the case page and the victim see -------------------------------------------------

#: The case page's words for each state of disrupt.cases.sharing.
CONSOLE_SHARING_WORDS = {
    sharing.SHARED: "shared with partner platforms",
    sharing.WITHDRAWN: "withdrawn from the exchange",
    sharing.NO_CONSENT: "not shared: no consent",
    sharing.NO_EXCHANGEABLE_HASH: "not shared: no exchangeable hash",
    sharing.AWAITING_DECISION: "awaiting a caseworker's decision",
    sharing.WEAK: "not shared: weak fingerprint",
}


def sharing_state(case_: Case, media: MediaHash) -> str:
    """Where one hash stands in the exchange, in the words of the case page."""
    state = sharing.sharing_state(case_, media)
    if state == sharing.AWAITING_DECISION:
        why = "minor" if case_.is_minor else "age unknown"
        return f"{CONSOLE_SHARING_WORDS[state]} ({why})"
    return CONSOLE_SHARING_WORDS[state]


def approve_sharing(media: MediaHash, *, user_id: int, now: datetime) -> None:
    """A caseworker's decision to share a minor's or a weak hash."""
    media.sharing_approved_by_id = user_id
    media.sharing_approved_at = now


def feedback_for_case(session: Session, case_: Case) -> dict[int, list[HashFeedback]]:
    """Each of the case's hashes → the newest feedback of each platform."""
    values = {m.id: (m.pdq if m.kind == "image" else m.md5) for m in case_.hashes}
    latest = latest_feedback(session, [v for v in values.values() if v])
    return {media_id: latest.get(value, []) for media_id, value in values.items() if value}


# The feedback values the dashboard counts, by their column.
_COUNTED_FEEDBACK = {"Blocked": "blocked", "NotBlocked": "not_blocked",
                     "PendingReview": "pending_review"}


def feedback_counts(session: Session) -> dict[str, Any]:
    """Per platform, how many hashes its newest feedback calls Blocked, NotBlocked or
    PendingReview; and how many hashes are blocked somewhere."""
    newest = (
        select(func.max(HashFeedback.id).label("id"))
        .group_by(HashFeedback.hash_value, HashFeedback.platform_id)
        .subquery()
    )
    rows = session.execute(
        select(Platform.name, HashFeedback.value, func.count())
        .join(newest, newest.c.id == HashFeedback.id)
        .join(Platform, Platform.id == HashFeedback.platform_id)
        .group_by(Platform.name, HashFeedback.value)
    ).all()
    per_platform: dict[str, dict[str, Any]] = {}
    for name, value, count in rows:
        row = per_platform.setdefault(name, {"platform": name, "blocked": 0, "not_blocked": 0,
                                             "pending_review": 0})
        key = _COUNTED_FEEDBACK.get(value)
        if key:
            row[key] += count
    blocked_somewhere = session.scalar(
        select(func.count(func.distinct(HashFeedback.hash_value)))
        .join(newest, newest.c.id == HashFeedback.id)
        .where(HashFeedback.value == "Blocked")
    ) or 0
    return {"blocked_somewhere": blocked_somewhere,
            "platforms": sorted(per_platform.values(), key=lambda r: r["platform"])}
