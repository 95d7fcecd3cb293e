"""Erasure leaves nothing that names the victim or her addresses: a case with distinctive
values goes through checks (a real HTTP server), notices (the outbox), update e-mails, a
caseworker's note, referral and audit trail; after "Erase my case" no byte of the database
files (SQLite: the file, -wal and -shm; PostgreSQL: every text, JSON and binary value) and no
file of the instance folder holds any of them. Only the hash values stay, as `deleted`
tombstones in media_hashes, so the exchange can tell partner platforms to delete them."""
from __future__ import annotations

import base64
import json
import re
import secrets
import urllib.parse
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, Text, select
from sqlalchemy.engine import make_url

import disrupt.schema  # noqa: F401  (every table in the metadata)
from disrupt.accounts.models import AuditEvent
from disrupt.cases.models import Case, MediaHash, Message, Note, Referral, ReportedURL
from disrupt.db import Base, utcnow
from disrupt.demo.seed import demo_image
from disrupt.demo.simulator import SimulatedPlatform
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.listeners import ERASURE_MODULES
from disrupt.monitoring.jobs import run_due_checks
from disrupt.monitoring.models import HostFingerprint, URLCheck
from disrupt.platforms.exchange.models import HashFeedback
from disrupt.platforms.jobs import send_queued_notices
from disrupt.platforms.models import RemovalRequest, RequestReply
from disrupt.platforms.services import add_platform, queue_removal_request
from disrupt.victims.jobs import send_contact_confirmations, send_victim_updates
from disrupt.victims.models import ContactConfirmation, VictimUpdate
from tests.platforms.support import NOTIFIER
from tests.support.web import created_credentials, post_form
from tests.victims.privacy import all_stored_text

TOKEN = secrets.token_hex(6)


@pytest.fixture
def picshare():
    platform = SimulatedPlatform("PicShare", ip="127.0.0.2", takedown_after=None).start()
    yield platform
    platform.stop()


def _encodings(value: str) -> set[bytes]:
    """The value as it could sit in a file: raw, lower and upper case, URL-quoted, in
    UTF-16 (some tools write it), and base64 at each of the three alignments."""
    found: set[bytes] = set()
    for text in {value, value.lower(), value.upper(), urllib.parse.quote(value, safe=""),
                 urllib.parse.quote(value)}:
        raw = text.encode()
        found |= {raw, text.encode("utf-16-le")}
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + raw)[4 * ((shift + 2) // 3):]
            found.add(encoded[:max(8, len(encoded) - 4)])
    return {item for item in found if len(item) >= 8}


def _scan(path: Path, values: dict[str, str]) -> list[str]:
    data = path.read_bytes()
    return [f"{name} ({value!r}) in {path}" for name, value in values.items()
            if any(form in data for form in _encodings(value))]


def _open_case(client, picshare, image: bytes) -> tuple[str, str, dict]:
    hashes = hash_image_bytes(image)
    urls = [picshare.host_media(f"/album-{TOKEN}a/photo.jpg", image),
            picshare.host_media(f"/gallery-{TOKEN}b/view.html",
                                f"<html><body><p>{'word ' * 50}</p></body></html>".encode(),
                                "text/html")]
    hash_row = {"pdq": hashes["pdq"], "pdq_quality": hashes["pdq_quality"],
                "phash": hashes["phash"], "sha256": hashes["sha256"], "width": 64,
                "height": 64, "pipeline": hashes["pipeline"], "label": f"label {TOKEN}e"}
    data = {"reporter": "self", "intimate": "yes", "age_group": "adult", "language": "en",
            "consent_notices": "y", "consent_hash_sharing": "y", "urls": "\n".join(urls),
            "contact": f"lake{TOKEN}c@example.org", "hashes": json.dumps([hash_row])}
    response = post_form(client, "/case/new", data, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    reference, secret = created_credentials(response.get_data(as_text=True))
    return reference, secret, hashes


def test_erasure_leaves_no_byte_of_the_case(app, client, db, picshare):
    image = demo_image(303)
    reference, secret, hashes = _open_case(client, picshare, image)
    assert post_form(client, "/case/follow", {"reference": reference,
                                              "secret": secret}).status_code == 302
    post_form(client, "/case/messages", {"body": f"My ex posted these {TOKEN}d"},
              token_from="/case")
    cipher = app.extensions["disrupt.cipher"]
    start = utcnow()
    outbox = Path(app.config["OUTBOX_DIR"])

    # A caseworker's work on the case, then the worker's: checks, notices, an update e-mail.
    with db.session() as s:
        case = s.scalar(select(Case).where(Case.reference == reference))
        case_id = case.id
        platform = add_platform(s, name="PicShare", domains=["127.0.0.2"], channel="email",
                                contact="abuse@picshare.test")
        s.flush()
        for url in case.urls:
            url.platform_id = platform.id
            url.next_check_at = start
        s.add(Note(case_id=case.id, body_encrypted=cipher.encrypt(f"note {TOKEN}f"),
                   created_at=start))
        s.add(Referral(case_id=case.id, recipient="pharos", their_reference=f"PH-{TOKEN}g",
                       summary=f"summary {TOKEN}h", sent_at=start))
        s.add(AuditEvent(at=start, actor_kind="user", action="url.verified",
                         record_type="reported_urls", record_id=case.urls[0].id,
                         remote_addr="203.0.113.79", detail={"url": case.urls[0].url}))
        s.add(HashFeedback(hash_value=hashes["sha256"], signal_type="SHA256",
                           platform_id=platform.id, value="Blocked", tags=[], created_at=start))
        s.commit()
    assert run_due_checks(db, app.config, worker="w", now=lambda: start) == 2
    with db.session() as s:
        case = s.get(Case, case_id)
        request = queue_removal_request(
            s, case=case, platform=s.get(type(platform), platform.id), urls=list(case.urls),
            legal_basis="dsa_art16", language="en", notifier=NOTIFIER, now=start,
            explanation=f"explanation {TOKEN}i")
        s.flush()
        s.add(RequestReply(request_id=request.id, status="acknowledged",
                           reason=f"we looked at {case.urls[0].url}",
                           platform_reference=f"TICKET-{TOKEN}j", source="caseworker",
                           received_at=start))
        s.commit()
    assert send_queued_notices(db, app.config, worker="w", now=lambda: start) == 1
    later = start + timedelta(hours=1)
    assert run_due_checks(db, app.config, worker="w", now=lambda: later) >= 0
    assert send_contact_confirmations(db, app.config, worker="w", now=lambda: later) == 1
    [link_mail] = outbox.glob("contact-confirm-*.eml")
    token = re.search(r"/case/contact/confirm/([\w-]+)", link_mail.read_text()).group(1)
    assert post_form(client, f"/case/contact/confirm/{token}", {},
                     token_from=f"/case/contact/confirm/{token}").status_code == 200
    with db.session() as s:
        s.get(Case, case_id).news_at = later
        s.commit()
    sent_updates = send_victim_updates(db, app.config, worker="w",
                                       now=lambda: later + timedelta(seconds=1))

    with db.session() as s:
        case = s.get(Case, case_id)
        urls = [u.url for u in case.urls]
        stored = {
            "reference": reference, "secret": secret, "secret hash": case.secret_hash,
            "contact": f"lake{TOKEN}c@example.org", "contact local part": f"lake{TOKEN}c",
            "contact (encrypted)": case.contact_encrypted.decode("latin-1"),
            "URL token a": f"{TOKEN}a", "URL token b": f"{TOKEN}b",
            "message": f"My ex posted these {TOKEN}d", "label": f"label {TOKEN}e",
            "referral": f"PH-{TOKEN}g", "summary": f"summary {TOKEN}h",
            "explanation": f"explanation {TOKEN}i", "ticket": f"TICKET-{TOKEN}j",
            "client address": "203.0.113.79", "confirmation token": token,
        }
        for n, url in enumerate(urls):
            stored[f"URL {n}"] = url
        for n, body in enumerate(s.scalars(select(Message.body_encrypted)
                                           .where(Message.case_id == case_id))):
            stored[f"message {n} (encrypted)"] = body.decode("latin-1")
        stored["note (encrypted)"] = s.scalar(select(Note.body_encrypted)).decode("latin-1")
        # The checks did what the scan is meant to catch.
        checks = s.scalars(select(URLCheck)).all()
        assert any(c.peer_ip for c in checks) and any(c.final_url for c in checks)
        assert any(f"{TOKEN}b" in f.probe_url for f in s.scalars(select(HostFingerprint)))
    hash_values = {"pdq": hashes["pdq"], "sha256": hashes["sha256"],
                   "phash": hashes["phash"]}
    notice_files = sorted(outbox.glob("*.eml"))
    assert notice_files and any(f"{TOKEN}a".encode() in p.read_bytes() for p in notice_files)
    assert sent_updates == 1 and any(b"lake" + TOKEN.encode() in p.read_bytes()
                                     for p in notice_files)

    response = post_form(client, "/case/erase", {"confirm": "y"}, token_from="/case/erase")
    assert response.status_code == 200 and "erased" in response.get_data(as_text=True)

    with db.session() as s:
        leftovers = [name for name, value in stored.items()
                     if value and value in all_stored_text(s)]
        assert leftovers == []
        assert s.scalar(select(Case.reference).where(Case.id == case_id)) == f"erased:{case_id}"
        assert all(c.peer_ip is None and c.final_url is None and c.media_url is None
                   and c.redirect_chain is None for c in s.scalars(select(URLCheck)))
        assert s.scalars(select(HostFingerprint)).all() == []
        assert s.scalars(select(HashFeedback)).all() == []
        assert s.scalars(select(VictimUpdate)).all() == []
        assert s.scalars(select(ContactConfirmation)).all() == []
        # What stays is anonymous and still counts: platform, states, dates, the tombstones.
        urls_left = s.scalars(select(ReportedURL).where(ReportedURL.case_id == case_id)).all()
        assert {u.host for u in urls_left} == {"127.0.0.2"}
        assert all(u.url == f"erased:{u.id}" for u in urls_left)
        request = s.scalar(select(RemovalRequest))
        assert (request.status, request.subject, request.sent_at is not None) == (
            "sent", "erased", True)
        assert [(h.status, h.sha256) for h in s.scalars(select(MediaHash))] == [
            ("deleted", hashes["sha256"])]
        assert s.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == \
            "victim.case_erased"

    found = []
    for path in sorted(Path(app.instance_path).rglob("*")):
        if path.is_file():
            found += _scan(path, {**stored, **hash_values})
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        database = Path(url.database)
        files = [p for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
                 if p.exists()]
        assert database in files
        for path in files:
            found += _scan(path, stored)  # hash values: the tombstones, see the docstring
    assert found == []


PERSONAL_TYPES = (String, Text)


def _declared(attribute: str) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for module in ERASURE_MODULES:
        for table, columns in getattr(module, attribute).items():
            merged.setdefault(table, set()).update(columns)
    return merged


def _tables_about_cases() -> set[str]:
    """Tables with a case id, or a foreign key to such a table, and the caches filled from
    a case's addresses and hashes."""
    linked = {"cases", "host_fingerprints", "hash_feedback"}
    changed = True
    while changed:
        changed = False
        for table in Base.metadata.sorted_tables:
            if table.name in linked:
                continue
            if "case_id" in table.columns or any(
                    fk.column.table.name in linked for fk in table.foreign_keys):
                linked.add(table.name)
                changed = True
    return linked


def test_every_text_column_about_a_case_is_declared_personal_or_not():
    personal, not_personal = _declared("PERSONAL"), _declared("NOT_PERSONAL")
    missing, both = [], []
    for table in Base.metadata.sorted_tables:
        if table.name not in _tables_about_cases():
            continue
        for column in table.columns:
            if column.foreign_keys or column.primary_key:
                continue
            kind = type(column.type).__name__
            if not (isinstance(column.type, PERSONAL_TYPES) or kind in ("JSON", "LargeBinary")):
                continue
            name = column.name
            in_personal = name in personal.get(table.name, set())
            in_not = name in not_personal.get(table.name, set())
            if in_personal and in_not:
                both.append(f"{table.name}.{name}")
            elif not (in_personal or in_not):
                missing.append(f"{table.name}.{name}")
    assert missing == [] and both == []
    # Every declaration names a real column (a renamed column is noticed).
    columns = {(t.name, c.name) for t in Base.metadata.sorted_tables for c in t.columns}
    for declared in (personal, not_personal):
        for table, names in declared.items():
            assert {(table, n) for n in names} <= columns, table


def test_an_erasure_without_listeners_is_refused_not_silently_partial():
    from blinker import Namespace

    from disrupt.events import case_erased, require_listeners
    from disrupt.listeners import connect

    with pytest.raises(RuntimeError, match="no listener"):
        require_listeners(Namespace().signal("case-erased-elsewhere"))
    connect()  # what create_app and the worker call; twice changes nothing
    connect()
    require_listeners(case_erased)
    receivers = list(case_erased.receivers_for(object()))
    connected = {receiver.__module__ for receiver in receivers}
    assert len(receivers) == len(set(receivers))
    assert {m.__name__ for m in ERASURE_MODULES if m.__name__ != "disrupt.dashboard.erasure"
            } <= connected
