"""Worker job: send queued notices from the outbox. Owns its transactions."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from disrupt.db import Database
from disrupt.platforms.channels import DeliveryError, deliver
from disrupt.platforms.models import RemovalRequest
from disrupt.platforms.services import (
    claim_queued_requests,
    record_delivery,
    record_failed_delivery,
)

log = logging.getLogger(__name__)


def send_queued_notices(
    db: Database, config: Any, *, worker: str, now: Callable[[], datetime]
) -> int:
    """Send every due queued notice once; failures back off and stay queued."""
    lease = timedelta(seconds=config["LEASE_SECONDS"])
    with db.session(claim=True) as session:
        ids = claim_queued_requests(session, worker=worker, now=now(), lease=lease)
        session.commit()
    sent = 0
    for request_id in ids:
        with db.session() as session:
            request = session.get(RemovalRequest, request_id)
            if request is None or request.lease_owner != worker:
                continue
            _ = request.urls, request.platform  # loaded before the session closes
        error: str | None = None
        try:
            deliver(request, config)  # outside any transaction: SQLite stays writable
        except DeliveryError as exc:
            log.warning("notice %s not delivered: %s", request_id, exc)
            error = str(exc)
        with db.session(claim=True) as session:
            request = session.get(RemovalRequest, request_id)
            if error is None:
                sent += record_delivery(session, request, worker=worker, now=now(),
                                        scale=float(config["TIME_SCALE"]))
            else:
                record_failed_delivery(
                    session, request, worker=worker, error=error, now=now(),
                    retry_after=timedelta(seconds=config["SEND_RETRY_SECONDS"]),
                    max_attempts=config["SEND_MAX_ATTEMPTS"],
                )
            session.commit()
    return sent
