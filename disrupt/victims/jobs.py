"""Worker jobs: the retention purge of what the portal leaves behind, and the update
e-mails to victims. Own their transactions."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from disrupt.cases.models import Case
from disrupt.db import Database
from disrupt.platforms.channels import DeliveryError, transmit
from disrupt.security import DataCipher
from disrupt.victims.confirmation import (
    claim_confirmations,
    confirmation_email,
    record_confirmation_failed,
    record_confirmation_sent,
    release_confirmation,
)
from disrupt.victims.services import ThrottlePolicy, purge_erased_hashes, purge_throttles
from disrupt.victims.updates import (
    claim_updates,
    record_update_failed,
    record_update_sent,
    release_update,
    update_email,
)

log = logging.getLogger(__name__)


def purge_retention(db: Database, config: Any, *, now: Callable[[], datetime]) -> dict[str, int]:
    """Drop finished lockout counters and the hash tombstones of erased cases whose
    retention is over; on SQLite, truncate the WAL."""
    moment = now()
    with db.session(claim=True) as session:
        purged = {
            "throttles": purge_throttles(session, moment, ThrottlePolicy.from_config(config)),
            "erased_hashes": purge_erased_hashes(
                session, moment, timedelta(days=config["ERASED_HASH_RETENTION_DAYS"])),
        }
        session.commit()
    db.checkpoint()  # also ends an erasure's checkpoint that a reader held up
    return purged


def send_victim_updates(db: Database, config: Any, *, worker: str,
                        now: Callable[[], datetime]) -> int:
    """E-mail "your case has news" to the victims who left an address; see
    disrupt/victims/updates.py. Returns how many left."""
    with db.session(claim=True) as session:
        claims = claim_updates(
            session, worker=worker, now=now(), lease=timedelta(seconds=config["LEASE_SECONDS"]),
            min_gap=timedelta(hours=float(config["VICTIM_UPDATE_MIN_HOURS"])))
        session.commit()
    cipher = DataCipher(config["DATA_KEY"])

    def compose(session: Session, claim: Any) -> Any:
        case = session.get(Case, claim.case_id)
        return update_email(case, claim, cipher, config) if case is not None else None

    return _deliver_each(db, config, claims, what="update", compose=compose,
                         release=release_update, record_sent=record_update_sent,
                         record_failed=record_update_failed, worker=worker, now=now)


def send_contact_confirmations(db: Database, config: Any, *, worker: str,
                               now: Callable[[], datetime]) -> int:
    """E-mail its one confirmation link to every address a victim left; see
    disrupt/victims/confirmation.py. Returns how many left."""
    cipher = DataCipher(config["DATA_KEY"])
    with db.session(claim=True) as session:
        claims = claim_confirmations(
            session, worker=worker, now=now(), cipher=cipher,
            lease=timedelta(seconds=config["LEASE_SECONDS"]),
            valid_for=timedelta(hours=float(config["VICTIM_CONTACT_CONFIRM_HOURS"])))
        session.commit()
    return _deliver_each(
        db, config, claims, what="confirmation",
        compose=lambda session, claim: confirmation_email(session, claim, cipher, config),
        release=release_confirmation, record_sent=record_confirmation_sent,
        record_failed=record_confirmation_failed, worker=worker, now=now)


def _deliver_each(db: Database, config: Any, claims: list[Any], *, what: str,
                  compose: Callable[[Session, Any], Any], release: Callable[..., Any],
                  record_sent: Callable[..., int], record_failed: Callable[..., Any],
                  worker: str, now: Callable[[], datetime]) -> int:
    """Compose each claimed e-mail, send it outside any transaction, then record it sent,
    failed (retried later) or released (nothing to send any more)."""
    sent = 0
    for claim in claims:
        with db.session() as session:
            message = compose(session, claim)
        error: DeliveryError | None = None
        if message is not None:
            try:
                transmit(message, config, key=claim.key)  # outside any transaction
            except DeliveryError as exc:
                log.warning("%s e-mail for case %s not sent: %s", what, claim.case_id,
                            type(exc).__name__)  # its text can quote the address
                error = exc
        with db.session(claim=True) as session:
            if message is None:
                release(session, claim, worker=worker)
            elif error is None:
                sent += record_sent(session, claim, worker=worker, now=now())
            else:
                record_failed(session, claim, worker=worker, now=now(), error=str(error),
                              retry_after=timedelta(seconds=config["SEND_RETRY_SECONDS"]))
            session.commit()
    return sent
