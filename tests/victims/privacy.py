"""Proof that a database holds no personal data of an erased case: every text, JSON and
binary value of every table is read and searched."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import disrupt.schema  # noqa: F401  (every table in the metadata)
from disrupt.db import Base


def all_stored_text(session: Session) -> str:
    """Every value of every row of every table, as one searchable text."""
    parts: list[str] = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            for value in row:
                parts.append(_as_text(value))
    return "\n".join(parts)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


def assert_no_personal_data(session: Session, case_id: int, secrets: list[str]) -> None:
    """`secrets`: the case's personal strings (URLs, contact, message text, labels...)."""
    from disrupt.cases.models import Case, MediaHash, Message, Note, ReportedURL

    case = session.get(Case, case_id)
    assert case is not None and case.status == "erased"
    assert case.contact_encrypted is None and case.secret_hash is None
    assert session.scalars(select(Message).where(Message.case_id == case_id)).all() == []
    assert session.scalars(select(Note).where(Note.case_id == case_id)).all() == []
    for url in session.scalars(select(ReportedURL).where(ReportedURL.case_id == case_id)):
        assert url.url == f"erased:{url.id}" and url.next_check_at is None
    for media in session.scalars(select(MediaHash).where(MediaHash.case_id == case_id)):
        assert media.status == "deleted" and media.label is None
    everything = all_stored_text(session)
    for secret in secrets:
        assert secret not in everything, f"{secret!r} is still in the database"
