"""Worker jobs for URL checks: thin wrappers that own the transactions."""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from disrupt.db import Database
from disrupt.monitoring.checker import CheckOutcome, CheckSettings, check_url
from disrupt.monitoring.services import ClaimedURL, claim_due_urls, record_check

log = logging.getLogger(__name__)


def run_due_checks(
    db: Database, config: Any, *, worker: str, now: Callable[[], datetime],
    checker: Callable[[str, CheckSettings], CheckOutcome] = check_url,
) -> int:
    """Claim one batch of due URLs, check them concurrently, record each result.
    Returns the number of checks recorded."""
    settings = CheckSettings.from_config(config)
    lease = timedelta(seconds=config["LEASE_SECONDS"])
    scale = float(config["TIME_SCALE"])
    confirm_after = timedelta(seconds=config["REMOVAL_CONFIRM_SECONDS"] * scale)
    with db.session(claim=True) as session:
        claims = claim_due_urls(session, worker=worker, now=now(), lease=lease,
                                limit=config["CHECK_BATCH_SIZE"])
        session.commit()
    if not claims:
        return 0

    def one(claim: ClaimedURL) -> bool:
        outcome = checker(claim.url, settings)
        try:
            with db.session(claim=True) as session:
                check = record_check(session, claim, outcome, worker=worker, now=now(),
                                     confirm_after=confirm_after, scale=scale)
                session.commit()
                return check is not None
        except IntegrityError:
            log.info("check of URL %s for %s already recorded", claim.id, claim.due_at)
            return False

    with ThreadPoolExecutor(max_workers=max(1, int(config["CHECK_CONCURRENCY"]))) as pool:
        return sum(pool.map(one, claims))
