"""Evidence (issue 17, items 1-4): WARC captures of pages served by real HTTP servers on
127.0.0.x, encrypted at rest; the hash-chained custody log; the export and its verifying
command; retention; erasure unless on a legal hold. SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import io
import json
import secrets
import stat
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from warcio.archiveiterator import ArchiveIterator

from disrupt.cases.models import Case, Referral
from disrupt.cli import main
from disrupt.db import utcnow
from disrupt.demo.seed import demo_image
from disrupt.evidence.jobs import purge_expired_evidence, run_pending_captures
from disrupt.evidence.models import Capture, CustodyEntry
from disrupt.evidence.services import (
    append_custody,
    build_export,
    place_hold,
    queue_capture,
    set_picture_consent,
    verify_chain,
)
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.monitoring.jobs import run_due_checks
from disrupt.victims.services import SubmittedHash, open_case
from tests.monitoring.test_judgement import Site
from tests.support.staff import staff_client
from tests.support.web import post_form

TOKEN = secrets.token_hex(8)
PAGE = (f"<html><head><title>Thread</title></head><body><h1>Posted {TOKEN}</h1>"
        '<img src="/pics/photo.png"><p>Quote reply report share.</p></body></html>').encode()


@pytest.fixture
def site():
    server = Site("127.0.0.3").start()
    yield server
    server.stop()


def _open(app, db, url: str, *, age_group: str = "adult", image: bytes | None = None) -> int:
    hashes = []
    if image is not None:
        h = hash_image_bytes(image)
        hashes = [SubmittedHash(kind="image", sha256=h["sha256"], pipeline=h["pipeline"],
                                pdq=h["pdq"], pdq_quality=h["pdq_quality"], phash=h["phash"])]
    with db.session() as s:
        case, _ = open_case(s, age_group=age_group, language="fr", consent_notices=True,
                            consent_hash_sharing=False, contact=None, urls=[url],
                            hashes=hashes, cipher=app.extensions["disrupt.cipher"],
                            now=utcnow())
        s.commit()
        return case.id


def _warc_records(app, capture: Capture) -> list:
    path = Path(app.config["EVIDENCE_DIR"]) / capture.file_name
    sealed = path.read_bytes()
    plain = app.extensions["disrupt.cipher"].decrypt_bytes(sealed)
    assert hashlib.sha256(plain).hexdigest() == capture.sha256
    records = []
    for record in ArchiveIterator(io.BytesIO(plain)):
        records.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                        record.http_headers.get_statuscode() if record.http_headers else None,
                        record.content_stream().read()))
    return records


def test_a_verified_url_is_captured_encrypted_as_a_valid_warc(app, db, site):
    site.routes["/start"] = (302, b"", "text/html")
    site.routes["/thread"] = (200, PAGE, "text/html; charset=utf-8")
    original = site.handle

    def handle(h, path):
        if path == "/start":
            h.redirect(site.url("/thread"))
        else:
            original(h, path)
    site.handle = handle
    url = site.url("/start")
    case_id = _open(app, db, url)
    client = staff_client(app, "cw@example.org")
    with db.session() as s:
        url_id = s.get(Case, case_id).urls[0].id
    response = post_form(client, f"/console/cases/{case_id}/urls/{url_id}/confirm", {},
                         token_from=f"/console/cases/{case_id}")
    assert response.status_code == 302
    with db.session() as s:
        [capture] = s.scalars(select(Capture)).all()
        assert (capture.status, capture.trigger) == ("pending", "verification")
    assert run_pending_captures(db, app.config, now=utcnow) == 1
    with db.session() as s:
        capture = s.scalar(select(Capture))
        assert capture.status == "stored" and capture.http_status == 200
        assert capture.final_url.endswith("/thread")
        folder = Path(app.config["EVIDENCE_DIR"])
        path = folder / capture.file_name
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert TOKEN.encode() not in path.read_bytes() and b"<html" not in path.read_bytes()
        records = _warc_records(app, capture)
        kinds = [r[0] for r in records]
        assert kinds[0] == "warcinfo" and {"request", "response", "metadata"} <= set(kinds)
        [response_record] = [r for r in records if r[0] == "response"]
        assert response_record[1].endswith("/thread") and response_record[2] == "200"
        assert TOKEN.encode() in response_record[3]
        [meta] = [json.loads(r[3]) for r in records if r[0] == "metadata"]
        assert meta["redirect_chain"] == [[url, 302]] and meta["verdict"]["trigger"] == \
            "verification"
        entry = s.scalar(select(CustodyEntry))
        assert (entry.action, entry.capture_sha256) == ("captured", capture.sha256)
        assert entry.actor.startswith("user:")
        assert verify_chain(s) is None


def test_the_checker_first_seeing_the_picture_queues_a_capture(app, db, site):
    image = demo_image(101)
    site.routes["/thread"] = (200, PAGE, "text/html; charset=utf-8")
    site.routes["/pics/photo.png"] = (200, image, "image/png")
    case_id = _open(app, db, site.url("/thread"), image=image)
    now = utcnow()
    assert run_due_checks(db, app.config, worker="w", now=lambda: now) == 1
    with db.session() as s:
        [capture] = s.scalars(select(Capture)).all()
        assert (capture.case_id, capture.trigger, capture.verdict) == (case_id, "checker",
                                                                      "online")
        assert capture.pictures[0]["sha256"] == hashlib.sha256(image).hexdigest()
    # A second check that sees it again queues nothing more.
    with db.session() as s:
        s.execute(update(Case.urls.property.mapper.class_).values(next_check_at=now))
        s.commit()
    run_due_checks(db, app.config, worker="w", now=lambda: now + timedelta(seconds=1))
    assert run_pending_captures(db, app.config, now=utcnow) == 1
    with db.session() as s:
        assert len(s.scalars(select(Capture)).all()) == 1
        capture = s.scalar(select(Capture))
        assert not capture.picture_bytes_kept
        assert not any(r[0] == "resource" for r in _warc_records(app, capture))


@pytest.mark.parametrize("age_group", ["minor", "unknown", "adult"])
def test_picture_bytes_only_for_an_adult_who_agreed(app, db, site, age_group):
    image = demo_image(101)
    site.routes["/thread"] = (200, PAGE, "text/html; charset=utf-8")
    site.routes["/pics/photo.png"] = (200, image, "image/png")
    case_id = _open(app, db, site.url("/thread"), age_group=age_group)
    picture = site.url("/pics/photo.png")
    with db.session() as s:
        case = s.get(Case, case_id)
        set_picture_consent(s, case, True, now=utcnow())
        queue_capture(s, case, reported_url_id=case.urls[0].id, url=case.urls[0].url,
                      trigger="manual", now=utcnow(),
                      pictures=[{"url": picture, "sha256": hashlib.sha256(image).hexdigest()}])
        s.commit()
    assert run_pending_captures(db, app.config, now=utcnow) == 1
    with db.session() as s:
        capture = s.scalar(select(Capture))
        kept = any(content == image for _, _, _, content in _warc_records(app, capture))
        assert capture.picture_bytes_kept is kept
    assert kept is (age_group == "adult")


def test_the_chain_detects_an_altered_a_removed_and_an_inserted_entry(db, tmp_path):
    start = utcnow()
    with db.session() as s:
        for n in range(4):
            append_custody(s, action="captured", actor="system:test", now=start
                           + timedelta(seconds=n), n=n)
        s.commit()
        assert verify_chain(s) is None
        ids = list(s.scalars(select(CustodyEntry.id).order_by(CustodyEntry.id)))

    with db.session() as s:  # altered
        s.execute(update(CustodyEntry).where(CustodyEntry.id == ids[1]).values(actor="x"))
        assert f"custody entry {ids[1]} " in verify_chain(s) and "altered" in verify_chain(s)
        s.rollback()
    with db.session() as s:  # removed
        s.delete(s.get(CustodyEntry, ids[2]))
        s.flush()
        assert f"custody entry {ids[3]} " in verify_chain(s)
        s.rollback()
    with db.session() as s:  # inserted, with a hash computed by the forger
        last = s.get(CustodyEntry, ids[3])
        forged = CustodyEntry(at=start, action="deleted", actor="forger", detail={},
                              previous_hash=s.get(CustodyEntry, ids[0]).entry_hash,
                              entry_hash="f" * 64)
        s.execute(update(CustodyEntry).where(CustodyEntry.id == ids[1])
                  .values(previous_hash="e" * 64))
        s.add(forged)
        s.flush()
        assert f"custody entry {ids[1]} " in verify_chain(s)
        assert last is not None
        s.rollback()


def _stored_capture(app, db, site, **kw) -> int:
    site.routes["/thread"] = (200, PAGE, "text/html; charset=utf-8")
    case_id = _open(app, db, site.url("/thread"), **kw)
    with db.session() as s:
        case = s.get(Case, case_id)
        queue_capture(s, case, reported_url_id=case.urls[0].id, url=case.urls[0].url,
                      trigger="manual", now=utcnow())
        s.commit()
    assert run_pending_captures(db, app.config, now=utcnow) == 1
    return case_id


def test_the_export_verifies_with_its_command_and_fails_after_tampering(
        app, db, site, tmp_path, capsys):
    case_id = _stored_capture(app, db, site)
    client = staff_client(app, "cw@example.org")
    response = post_form(client, f"/console/cases/{case_id}/evidence/export", {},
                         token_from=f"/console/cases/{case_id}")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    export = tmp_path / "export.zip"
    export.write_bytes(response.data)
    with zipfile.ZipFile(export) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        summary = archive.read("summary.txt").decode()
        [name] = [f["name"] for f in manifest["files"]]
        warc = archive.read(name)
    assert TOKEN.encode() in warc and "Chaîne de conservation vérifiée" in summary
    assert [e["action"] for e in manifest["custody"]] == ["captured"]
    main(["evidence", "verify-export", str(export)])
    assert "every file matches" in capsys.readouterr().out

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(export) as source, zipfile.ZipFile(tampered, "w") as target:
        for item in source.namelist():
            data = source.read(item)
            target.writestr(item, data.replace(b"Thread", b"Thraed") if item == name else data)
    with pytest.raises(SystemExit) as exited:
        main(["evidence", "verify-export", str(tampered)])
    assert exited.value.code == 1
    assert f"{name}: SHA-256 does not match" in capsys.readouterr().err
    with db.session() as s:
        assert [e.action for e in s.scalars(select(CustodyEntry).order_by(CustodyEntry.id))
                ] == ["captured", "exported"]
        assert verify_chain(s) is None


def test_captures_past_retention_are_purged_unless_on_hold(app, db, site):
    kept_case = _stored_capture(app, db, site)
    with db.session() as s:
        referral = Referral(case_id=kept_case, recipient="police", sent_at=utcnow())
        s.add(referral)
        s.flush()
        place_hold(s, s.get(Case, kept_case), referral.id, user_id=None, actor="test",
                   now=utcnow())
        s.commit()
    gone_case = _stored_capture(app, db, site)
    later = utcnow() + timedelta(days=float(app.config["EVIDENCE_RETENTION_DAYS"]) + 1)
    assert purge_expired_evidence(db, app.config, now=lambda: later) == 1
    with db.session() as s:
        assert [c.case_id for c in s.scalars(select(Capture))] == [kept_case]
        assert list(Path(app.config["EVIDENCE_DIR"]).glob(f"{gone_case}-*")) == []
        assert s.scalars(select(CustodyEntry.action).order_by(CustodyEntry.id)).all()[-1] \
            == "deleted"
        assert verify_chain(s) is None


@pytest.mark.parametrize("held", [False, True])
def test_erasure_deletes_the_captures_unless_on_hold(app, db, site, held):
    case_id = _stored_capture(app, db, site)
    with db.session() as s:
        reference = s.get(Case, case_id).reference
    victim = app.test_client()
    with db.session() as s:
        case = s.get(Case, case_id)
        from disrupt.security import canonical_code, hash_secret
        case.secret_hash = hash_secret(canonical_code("AAAA-BBBB-CCCC-DDDD"))
        if held:
            referral = Referral(case_id=case_id, recipient="pharos", sent_at=utcnow())
            s.add(referral)
            s.flush()
            place_hold(s, case, referral.id, user_id=None, actor="test", now=utcnow())
        s.commit()
    assert post_form(victim, "/case/follow", {"reference": reference,
                                              "secret": "AAAA-BBBB-CCCC-DDDD"}).status_code == 302
    page = victim.get("/case").get_data(as_text=True)
    erase_page = victim.get("/case/erase").get_data(as_text=True)
    warning = "we must keep our copies of the web pages as evidence"
    assert (warning in page) is held and (warning in erase_page) is held
    response = post_form(victim, "/case/erase", {"confirm": "y"}, token_from="/case/erase")
    assert response.status_code == 200
    files = list(Path(app.config["EVIDENCE_DIR"]).glob(f"{case_id}-*"))
    with db.session() as s:
        captures = s.scalars(select(Capture)).all()
        assert len(captures) == (1 if held else 0) and len(files) == (1 if held else 0)
        assert verify_chain(s) is None


def test_the_victim_agrees_and_withdraws_the_picture_consent(app, db, site):
    from disrupt.evidence.services import picture_consent

    case_id = _open(app, db, site.url("/thread"))
    with db.session() as s:
        case = s.get(Case, case_id)
        reference = case.reference
        from disrupt.security import canonical_code, hash_secret
        case.secret_hash = hash_secret(canonical_code("AAAA-BBBB-CCCC-DDDD"))
        s.commit()
    victim = app.test_client()
    post_form(victim, "/case/follow", {"reference": reference, "secret": "AAAA-BBBB-CCCC-DDDD"})
    assert "Also keep the pictures, encrypted" in victim.get("/case").get_data(as_text=True)
    post_form(victim, "/case/evidence", {"keep_pictures": "yes"}, token_from="/case")
    with db.session() as s:
        assert picture_consent(s, s.get(Case, case_id)) is True
    assert "Do not keep the pictures" in victim.get("/case").get_data(as_text=True)
    post_form(victim, "/case/evidence", {"keep_pictures": "no"}, token_from="/case")
    with db.session() as s:
        assert picture_consent(s, s.get(Case, case_id)) is False


def test_verify_command_names_the_first_broken_entry(app, db, monkeypatch, capsys):
    with db.session() as s:
        for n in range(3):
            append_custody(s, action="captured", actor="system:test", now=utcnow(), n=n)
        s.commit()
        second = s.scalars(select(CustodyEntry.id).order_by(CustodyEntry.id)).all()[1]
        s.execute(update(CustodyEntry).where(CustodyEntry.id == second).values(action="deleted"))
        s.commit()
    monkeypatch.setenv("DISRUPT_INSTANCE_PATH", app.instance_path)
    monkeypatch.setenv("DISRUPT_DATABASE_URL", app.config["DATABASE_URL"])
    with pytest.raises(SystemExit) as exited:
        main(["evidence", "verify"])
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"custody entry {second} " in err


def test_build_export_refuses_a_case_without_captures(app, db):
    from disrupt.evidence.services import EvidenceError

    case_id = _open(app, db, "http://127.0.0.3:9/none")
    with db.session() as s, pytest.raises(EvidenceError):
        build_export(s, s.get(Case, case_id), folder=Path(app.config["EVIDENCE_DIR"]),
                     cipher=app.extensions["disrupt.cipher"], actor="t", now=utcnow())


def test_a_capture_left_mid_fetch_by_a_dead_worker_is_taken_again(app, db, site):
    """Claimed, then the worker died: the capture is fetched again once its lease is over,
    never dropped, and not while another worker may still be fetching it."""
    from disrupt.evidence.jobs import _claim

    image = demo_image(101)
    site.routes["/thread"] = (200, PAGE, "text/html; charset=utf-8")
    site.routes["/pics/photo.png"] = (200, image, "image/png")
    _open(app, db, site.url("/thread"), image=image)
    now = utcnow()
    assert run_due_checks(db, app.config, worker="w", now=lambda: now) == 1
    lease = timedelta(seconds=float(app.config["LEASE_SECONDS"]))
    assert len(_claim(db, 10, now, lease)) == 1  # the worker that dies
    assert run_pending_captures(db, app.config, now=lambda: now + lease / 2) == 0
    assert run_pending_captures(db, app.config, now=lambda: now + lease * 2) == 1
    with db.session() as s:
        assert s.scalar(select(Capture)).status == "stored"

