"""The victims feature's part of an erasure: not even the dates of the update e-mails stay,
and their outbox copies (which carry her address) are deleted once the erasure is
committed. Never commits."""
from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from disrupt.events import case_erased, case_erasure_committed
from disrupt.victims.confirmation import forget_confirmation
from disrupt.victims.updates import forget_updates

PERSONAL = {"victim_updates": ("last_error", "lease_owner"),
            "contact_confirmations": ("token_sha256", "token_encrypted", "last_error",
                                      "lease_owner")}
NOT_PERSONAL = {"login_throttles": ("scope", "key")}  # HMACs, never a reference or address
#: Outbox files named after a case (the keys of updates.py and confirmation.py).
OUTBOX_PATTERNS = ("case-update-{case_id}-*.eml", "contact-confirm-{case_id}-*.eml")


def on_case_erased(case: Any, *, session: Session, now: datetime, **_: object) -> None:
    forget_updates(session, case.id)
    forget_confirmation(session, case.id)


def on_erasure_committed(case_id: int, *, session: Session, config: Any,
                         **_: object) -> None:
    if config.get("MAIL_TRANSPORT") != "outbox" or not config.get("OUTBOX_DIR"):
        return
    folder = Path(config["OUTBOX_DIR"])
    for pattern in OUTBOX_PATTERNS:
        for path in folder.glob(pattern.format(case_id=case_id)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def connect() -> None:
    case_erased.connect(on_case_erased)
    case_erasure_committed.connect(on_erasure_committed)
