"""What the victim does with their case. Takes a session and `now`; never commits."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from disrupt.cases.models import Case
from disrupt.cases.services import SubmittedHash, add_media_hash, add_reported_url, priority_for
from disrupt.security import (
    DUMMY_HASH,
    DataCipher,
    canonical_code,
    hash_secret,
    new_case_reference,
    new_case_secret,
    verify_secret,
)


def open_case(
    session: Session,
    *,
    age_group: str,
    language: str,
    consent_notices: bool,
    consent_hash_sharing: bool,
    contact: str | None,
    urls: list[str],
    hashes: list[SubmittedHash],
    cipher: DataCipher,
    now: datetime,
) -> tuple[Case, str]:
    """Create the case; returns it with the secret, which is shown once and stored hashed."""
    secret = new_case_secret()
    while True:
        reference = new_case_reference()
        if not session.scalar(select(Case.id).where(Case.reference == reference)):
            break
    case = Case(
        reference=reference,
        secret_hash=hash_secret(canonical_code(secret)),
        status="new",
        age_group=age_group,
        language=language,
        consent_notices=consent_notices,
        consent_hash_sharing=consent_hash_sharing,
        contact_encrypted=cipher.encrypt(contact),
        priority=priority_for(age_group),
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    for url in urls:
        add_reported_url(session, case, url, reported_by="victim", now=now)
    for submitted in hashes:
        add_media_hash(session, case, submitted, now)
    return case, secret


def format_reference(text: str) -> str:
    code = canonical_code(text)
    return f"{code[:3]}-{code[3:7]}-{code[7:11]}" if len(code) == 11 else code


def find_case_by_credentials(session: Session, reference: str, secret: str) -> Case | None:
    """The case when reference and secret match; the same work is done when they do not."""
    case = session.scalar(select(Case).where(Case.reference == format_reference(reference)))
    if case is None or case.secret_hash is None:
        verify_secret(DUMMY_HASH, canonical_code(secret))
        return None
    if not verify_secret(case.secret_hash, canonical_code(secret)):
        return None
    return case
