"""Captures, the chain of custody, exports, holds, consent and retention. Services take a
session and `now` and never commit; file I/O stays in the evidence folder they are given."""
from __future__ import annotations

import hashlib
import io
import json
import secrets
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, select, text
from sqlalchemy.orm import Session

from disrupt.cases.models import Case, Referral
from disrupt.cases.rules import work_refusal
from disrupt.evidence.models import Capture, CustodyEntry, EvidenceHold, PictureConsent
from disrupt.monitoring.models import URLCheck
from disrupt.paths import private_folder, write_private_file
from disrupt.security import DataCipher

GENESIS = "0" * 64
#: Referral recipients that make a legal hold possible (disrupt/platforms/referrals.py).
AUTHORITIES = ("pharos", "police")
MAX_PICTURES_KEPT = 3


class EvidenceError(Exception):
    """A caseworker's evidence action that cannot be done; the message says why."""


# -- chain of custody ----------------------------------------------------------------------

def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def entry_digest(previous_hash: str, *, at: datetime, action: str, capture_id: int | None,
                 capture_sha256: str | None, actor: str, detail: dict[str, Any]) -> str:
    """What an entry commits to: its own fields and the previous entry's hash."""
    body = json.dumps({"previous": previous_hash, "at": _stamp(at), "action": action,
                       "capture_id": capture_id, "capture_sha256": capture_sha256,
                       "actor": actor, "detail": detail}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def append_custody(session: Session, *, action: str, actor: str, now: datetime,
                   capture: Capture | None = None, **detail: Any) -> CustodyEntry:
    """Append one entry after the last one. Two writers cannot both chain on the same entry:
    PostgreSQL serialises them with an advisory lock, SQLite with its write lock, and
    ``previous_hash`` is unique in any case."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('disrupt-custody-log'))"))
    last = session.scalar(select(CustodyEntry.entry_hash).order_by(CustodyEntry.id.desc())
                          .limit(1))
    previous = last or GENESIS
    capture_id = capture.id if capture is not None else None
    sha = capture.sha256 if capture is not None else None
    entry = CustodyEntry(at=now, action=action, capture_id=capture_id, capture_sha256=sha,
                         actor=actor[:120], detail=detail, previous_hash=previous,
                         entry_hash=entry_digest(previous, at=now, action=action,
                                                 capture_id=capture_id, capture_sha256=sha,
                                                 actor=actor[:120], detail=detail))
    session.add(entry)
    session.flush()
    return entry


def verify_chain(session: Session) -> str | None:
    """None when every entry commits to the one before it; else one line naming the first
    broken entry (an altered, removed or inserted entry breaks the chain there)."""
    previous = GENESIS
    for entry in session.scalars(select(CustodyEntry).order_by(CustodyEntry.id)):
        if entry.previous_hash != previous:
            return (f"custody entry {entry.id} ({entry.action}, {_stamp(entry.at)}) does not "
                    "follow the entry before it: an entry was removed or inserted")
        expected = entry_digest(previous, at=entry.at, action=entry.action,
                                capture_id=entry.capture_id,
                                capture_sha256=entry.capture_sha256, actor=entry.actor,
                                detail=dict(entry.detail or {}))
        if expected != entry.entry_hash:
            return (f"custody entry {entry.id} ({entry.action}, {_stamp(entry.at)}) was "
                    "altered: its hash does not match its content")
        previous = entry.entry_hash
    return None


def custody_for(session: Session, capture_ids: list[int]) -> list[CustodyEntry]:
    if not capture_ids:
        return []
    return list(session.scalars(select(CustodyEntry).where(
        CustodyEntry.capture_id.in_(capture_ids)).order_by(CustodyEntry.id)))


def _entry_json(entry: CustodyEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": _stamp(entry.at), "action": entry.action,
            "capture_id": entry.capture_id, "capture_sha256": entry.capture_sha256,
            "actor": entry.actor, "detail": entry.detail, "previous_hash": entry.previous_hash,
            "entry_hash": entry.entry_hash}


# -- consent and holds -----------------------------------------------------------------------

def picture_consent(session: Session, case: Case) -> bool:
    consent = session.get(PictureConsent, case.id)
    return bool(consent and consent.keep_pictures)


def set_picture_consent(session: Session, case: Case, keep_pictures: bool, *,
                        now: datetime) -> None:
    """The victim agrees (or no longer agrees) that the pictures are kept for the police."""
    consent = session.get(PictureConsent, case.id)
    if consent is None:
        consent = PictureConsent(case_id=case.id, keep_pictures=keep_pictures, changed_at=now)
        session.add(consent)
    consent.keep_pictures = keep_pictures
    consent.changed_at = now


def may_keep_picture_bytes(case: Case, consented: bool) -> bool:
    """Never for a minor's case or one whose age is unknown, whatever the victim agreed:
    holding those pictures would be holding child sexual abuse material."""
    return consented and case.age_group == "adult"


def consent_and_hold(session: Session, case: Case) -> tuple[bool, bool]:
    """For the victim's case page, in one read: whether she agreed that the pictures are
    kept (picture_consent), and whether a hold keeps the evidence now (active_hold)."""
    consent = select(PictureConsent.keep_pictures).where(
        PictureConsent.case_id == case.id).scalar_subquery()
    keep, hold = session.execute(select(consent, _holding(case.id).exists())).one()
    return bool(keep), bool(hold)


def _holding(case_id: int) -> Select[tuple[EvidenceHold]]:
    """The case's holds not lifted yet."""
    return select(EvidenceHold).where(EvidenceHold.case_id == case_id,
                                      EvidenceHold.lifted_at.is_(None))


def active_hold(session: Session, case_id: int) -> EvidenceHold | None:
    return session.scalar(_holding(case_id).order_by(EvidenceHold.id).limit(1))


def place_hold(session: Session, case: Case, referral_id: int, *, user_id: int | None,
               actor: str, now: datetime) -> EvidenceHold:
    referral = session.get(Referral, referral_id)
    if referral is None or referral.case_id != case.id:
        raise EvidenceError("Choose a referral of this case.")
    if referral.recipient not in AUTHORITIES:
        raise EvidenceError("A legal hold needs a referral to PHAROS or the police.")
    if referral.closed_at is not None:
        raise EvidenceError("This referral is closed: a legal hold needs an open referral.")
    if active_hold(session, case.id) is not None:
        raise EvidenceError("The case's evidence is already on hold.")
    hold = EvidenceHold(case_id=case.id, referral_id=referral.id, placed_at=now,
                        placed_by_id=user_id)
    session.add(hold)
    session.flush()
    append_custody(session, action="hold_placed", actor=actor, now=now, case_id=case.id,
                   referral_id=referral.id)
    return hold


def lift_hold(session: Session, case: Case, *, user_id: int | None, actor: str,
              now: datetime) -> EvidenceHold:
    hold = active_hold(session, case.id)
    if hold is None:
        raise EvidenceError("The case's evidence is not on hold.")
    hold.lifted_at, hold.lifted_by_id = now, user_id
    append_custody(session, action="hold_lifted", actor=actor, now=now, case_id=case.id,
                   referral_id=hold.referral_id)
    return hold


def end_holds_of_referral(session: Session, referral_id: int, *, user_id: int | None,
                          now: datetime) -> list[EvidenceHold]:
    """The referral was closed: the holds placed for it end, as if lifted."""
    holds = list(session.scalars(select(EvidenceHold).where(
        EvidenceHold.referral_id == referral_id, EvidenceHold.lifted_at.is_(None))
        .order_by(EvidenceHold.id)))
    for hold in holds:
        hold.lifted_at, hold.lifted_by_id = now, user_id
        append_custody(session, action="hold_lifted", actor="referral closed", now=now,
                       case_id=hold.case_id, referral_id=referral_id)
    return holds


# -- captures ---------------------------------------------------------------------------------

def queue_capture(session: Session, case: Case, *, reported_url_id: int, url: str,
                  trigger: str, now: datetime, captured_by_id: int | None = None,
                  verdict: str | None = None,
                  pictures: list[dict[str, Any]] | None = None) -> Capture | None:
    """A capture row 'pending': the worker fetches the page outside any transaction. None
    when the case is stopped or this URL already has a capture waiting."""
    if work_refusal(case) is not None:
        return None
    waiting = session.scalar(select(Capture.id).where(
        Capture.reported_url_id == reported_url_id, Capture.status == "pending").limit(1))
    if waiting is not None:
        return None
    if pictures is None:
        pictures = compared_pictures(session, reported_url_id)
    capture = Capture(case_id=case.id, reported_url_id=reported_url_id, status="pending",
                      queued_at=now, trigger=trigger, captured_by_id=captured_by_id,
                      url=url[:2048], verdict=verdict, pictures=pictures)
    session.add(capture)
    return capture


def compared_pictures(session: Session, reported_url_id: int) -> list[dict[str, Any]]:
    """The digest of the picture the URL's latest check compared, if one did."""
    check = session.scalar(select(URLCheck).where(
        URLCheck.reported_url_id == reported_url_id, URLCheck.media_digest.is_not(None))
        .order_by(URLCheck.checked_at.desc()).limit(1))
    if check is None:
        return []
    return [{"url": check.media_url, "sha256": check.media_digest,
             "distance": check.distance, "checked_at": _stamp(check.checked_at)}]


def capture_file_name(capture: Capture) -> str:
    """Named by case id (not personal) so erasure finds a case's files without its rows."""
    return f"{capture.case_id}-{capture.id}-{secrets.token_hex(8)}.warc.enc"


def store_capture(session: Session, capture: Capture, warc: bytes, *, folder: Path,
                  cipher: DataCipher, actor: str, now: datetime, final_url: str | None,
                  http_status: int | None, picture_bytes_kept: bool) -> CustodyEntry:
    """Encrypt the WARC into the evidence folder and enter its digest in the custody log."""
    capture.sha256 = hashlib.sha256(warc).hexdigest()
    capture.size = len(warc)
    capture.file_name = capture_file_name(capture)
    write_private_file(private_folder(folder) / capture.file_name, cipher.encrypt_bytes(warc))
    capture.status, capture.captured_at = "stored", now
    capture.final_url = (final_url or "")[:2048] or None
    capture.http_status = http_status
    capture.picture_bytes_kept = picture_bytes_kept
    return append_custody(session, action="captured", actor=actor, now=now, capture=capture,
                          trigger=capture.trigger, case_id=capture.case_id)


def read_capture(capture: Capture, *, folder: Path, cipher: DataCipher) -> bytes:
    """The plain WARC; raises EvidenceError when the file is missing or does not match."""
    if capture.file_name is None:
        raise EvidenceError(f"capture {capture.id} has no file")
    path = folder / capture.file_name
    try:
        plain = cipher.decrypt_bytes(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise EvidenceError(f"capture {capture.id}: {path.name} unreadable ({exc!r})") from exc
    except Exception as exc:  # cryptography's InvalidToken
        raise EvidenceError(f"capture {capture.id}: {path.name} does not decrypt") from exc
    if hashlib.sha256(plain).hexdigest() != capture.sha256:
        raise EvidenceError(f"capture {capture.id}: {path.name} does not match its digest")
    return plain


def delete_captures(session: Session, captures: list[Capture], *, reason: str, actor: str,
                    now: datetime) -> list[str]:
    """Delete the rows (custody entry "deleted" for each stored one); returns the file names
    to remove once the transaction is committed."""
    files = []
    for capture in captures:
        if capture.status == "stored":
            append_custody(session, action="deleted", actor=actor, now=now, capture=capture,
                           reason=reason)
        if capture.file_name:
            files.append(capture.file_name)
        session.delete(capture)
    session.flush()
    return files


def remove_files(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).unlink(missing_ok=True)


def purge_expired(session: Session, *, retention: timedelta, now: datetime) -> list[str]:
    """Captures older than the retention period, except those on a legal hold."""
    held = select(EvidenceHold.case_id).where(EvidenceHold.lifted_at.is_(None))
    expired = list(session.scalars(select(Capture).where(
        Capture.queued_at < now - retention, Capture.case_id.not_in(held))))
    return delete_captures(session, expired, reason="retention", actor="system:retention",
                           now=now)


def erase_captures(session: Session, case_id: int, *, now: datetime) -> list[str]:
    """The victim erased her case: her captures go, unless they are on a legal hold."""
    if active_hold(session, case_id) is not None:
        return []
    captures = list(session.scalars(select(Capture).where(Capture.case_id == case_id)))
    files = delete_captures(session, captures, reason="erasure", actor="victim", now=now)
    session.execute(delete(PictureConsent).where(PictureConsent.case_id == case_id))
    return files


def case_captures(session: Session, case_id: int) -> list[Capture]:
    return list(session.scalars(select(Capture).where(Capture.case_id == case_id)
                                .order_by(Capture.id)))


# -- export ---------------------------------------------------------------------------------

_SUMMARY = {
    "en": {"title": "Evidence export", "case": "Case", "made": "Exported", "by": "Exported by",
           "capture": "Capture", "url": "Address", "final": "Final address",
           "status": "HTTP status", "when": "Captured", "trigger": "Why",
           "verdict": "Check's verdict", "pictures": "Picture digests (SHA-256)",
           "none": "none", "chain": "Chain of custody verified",
           "broken": "Chain of custody BROKEN",
           "check": "Check the files with: disrupt evidence verify-export <this zip>",
           "triggers": {"verification": "a caseworker verified the address",
                        "checker": "the checker first saw the picture online",
                        "manual": "asked by a caseworker"},
           ": ": ": "},
    "fr": {"title": "Export de preuves", "case": "Dossier", "made": "Exporté le",
           "by": "Exporté par", "capture": "Capture", "url": "Adresse",
           "final": "Adresse finale", "status": "Statut HTTP", "when": "Capturée le",
           "trigger": "Motif", "verdict": "Verdict de la vérification",
           "pictures": "Empreintes des images (SHA-256)", "none": "aucune",
           "chain": "Chaîne de conservation vérifiée",
           "broken": "Chaîne de conservation ROMPUE",
           "check": "Vérifier les fichiers\u00a0: disrupt evidence verify-export <ce zip>",
           "triggers": {"verification": "adresse vérifiée par un intervenant",
                        "checker": "image vue en ligne pour la première fois par le robot",
                        "manual": "demandée par un intervenant"},
           ": ": "\u00a0: "},
}


@dataclass(frozen=True)
class Export:
    data: bytes
    file_name: str
    captures: int


def build_export(session: Session, case: Case, *, folder: Path, cipher: DataCipher,
                 actor: str, now: datetime, reported_url_id: int | None = None) -> Export:
    """One zip: the decrypted WARC files, manifest.json with their SHA-256 and the custody
    entries, summary.txt in the case's language. Each capture gets an "exported" entry."""
    captures = [c for c in case_captures(session, case.id) if c.status == "stored"
                and (reported_url_id is None or c.reported_url_id == reported_url_id)]
    if not captures:
        raise EvidenceError("There is no stored capture to export.")
    lang = case.language if case.language in _SUMMARY else "en"
    t, colon = _SUMMARY[lang], _SUMMARY[lang][": "]
    broken = verify_chain(session)
    files, lines = [], [t["title"], "", f"{t['case']}{colon}{case.reference}",
                        f"{t['made']}{colon}{_stamp(now)}", f"{t['by']}{colon}{actor}",
                        t["broken"] + f"{colon}{broken}" if broken else t["chain"], ""]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for capture in captures:
            plain = read_capture(capture, folder=folder, cipher=cipher)
            name = f"captures/capture-{capture.id}.warc"
            archive.writestr(name, plain)
            files.append({"name": name, "sha256": capture.sha256, "size": len(plain),
                          "capture_id": capture.id, "url": capture.url,
                          "final_url": capture.final_url, "http_status": capture.http_status,
                          "captured_at": _stamp(capture.captured_at or capture.queued_at),
                          "trigger": capture.trigger, "verdict": capture.verdict,
                          "pictures": capture.pictures})
            digests = ", ".join(p.get("sha256") or "" for p in capture.pictures or []) \
                or t["none"]
            lines += [f"{t['capture']} {capture.id}{colon}{name}",
                      f"  {t['url']}{colon}{capture.url}",
                      f"  {t['final']}{colon}{capture.final_url or '—'}",
                      f"  {t['status']}{colon}{capture.http_status or '—'}",
                      f"  {t['when']}{colon}{_stamp(capture.captured_at or capture.queued_at)}",
                      f"  {t['trigger']}{colon}{t['triggers'].get(capture.trigger, '')}",
                      f"  {t['verdict']}{colon}{capture.verdict or '—'}",
                      f"  {t['pictures']}{colon}{digests}",
                      f"  SHA-256{colon}{capture.sha256}", ""]
        custody = [_entry_json(e) for e in custody_for(session, [c.id for c in captures])]
        manifest = {"case": case.reference, "exported_at": _stamp(now), "exported_by": actor,
                    "language": lang, "chain_verified": broken is None, "files": files,
                    "custody": custody}
        manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True,
                                    ensure_ascii=False).encode()
        archive.writestr("manifest.json", manifest_bytes)
        archive.writestr("summary.txt", "\n".join(lines + [t["check"]]) + "\n")
    manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
    for capture in captures:
        append_custody(session, action="exported", actor=actor, now=now, capture=capture,
                       manifest_sha256=manifest_sha)
    return Export(out.getvalue(), f"evidence-{case.id}-{now:%Y%m%d-%H%M%S}.zip", len(captures))


def verify_export(path: Path) -> list[str]:
    """Problems found in an export: files missing, added, or not matching the manifest."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"{path}: not a readable zip ({exc})"]
    with archive:
        names = set(archive.namelist())
        if "manifest.json" not in names:
            return ["manifest.json is missing"]
        try:
            manifest = json.loads(archive.read("manifest.json"))
            listed = {f["name"]: f["sha256"] for f in manifest["files"]}
        except (ValueError, KeyError, TypeError) as exc:
            return [f"manifest.json is unreadable ({exc})"]
        problems = []
        for name, expected in sorted(listed.items()):
            if name not in names:
                problems.append(f"{name}: listed in the manifest, missing from the zip")
            elif hashlib.sha256(archive.read(name)).hexdigest() != expected:
                problems.append(f"{name}: SHA-256 does not match the manifest")
        for name in sorted(names - set(listed) - {"manifest.json", "summary.txt"}):
            problems.append(f"{name}: in the zip, not in the manifest")
        return problems


@dataclass(frozen=True)
class EvidencePanel:
    """What the console's case page shows of a case's evidence."""

    captures: list[Capture]
    hold: EvidenceHold | None
    referrals: list[Referral]
    consent: bool


def evidence_panel(session: Session, case: Case) -> EvidencePanel:
    referrals = list(session.scalars(select(Referral).where(
        Referral.case_id == case.id, Referral.recipient.in_(AUTHORITIES),
        Referral.closed_at.is_(None)).order_by(Referral.sent_at.desc())))
    return EvidencePanel(case_captures(session, case.id), active_hold(session, case.id),
                         referrals, picture_consent(session, case))
