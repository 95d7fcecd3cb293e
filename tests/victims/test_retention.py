"""The worker's retention purge: erased hashes stay as exchange tombstones for the retention
period, then go; finished lockout counters go."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from disrupt.cases.models import MediaHash
from disrupt.cases.services import SubmittedHash
from disrupt.db import utcnow
from disrupt.security import DataCipher
from disrupt.victims.jobs import purge_retention
from disrupt.victims.models import LoginThrottle
from disrupt.victims.services import (
    ThrottlePolicy,
    erase_case,
    open_case,
    record_failure,
    throttle_key,
)


def test_purge_keeps_tombstones_for_the_retention_period(app, db):
    start = utcnow()
    with db.session() as session:
        hashes = [SubmittedHash(kind="image", sha256=f"{n:064x}", pipeline="t",
                                pdq=f"{n:064x}", pdq_quality=90, phash="0" * 16) for n in (1, 2)]
        erased, _ = open_case(session, age_group="adult", language="en", consent_notices=True,
                              consent_hash_sharing=True, contact=None, urls=[],
                              hashes=hashes, cipher=DataCipher(app.config["DATA_KEY"]), now=start)
        kept, _ = open_case(session, age_group="adult", language="en", consent_notices=True,
                            consent_hash_sharing=True, contact=None, urls=[],
                            hashes=hashes[:1], cipher=DataCipher(app.config["DATA_KEY"]),
                            now=start)
        session.flush()
        erase_case(session, erased, start)
        policy = ThrottlePolicy.from_config(app.config)
        record_failure(session, {"reference": throttle_key("k", "DSR-X")}, policy, start)
        session.commit()

    def count(model):
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(model))

    retention = timedelta(days=app.config["ERASED_HASH_RETENTION_DAYS"])
    assert purge_retention(db, app.config, now=lambda: start + timedelta(days=1)) == {
        "throttles": 1, "erased_hashes": 0}
    assert count(MediaHash) == 3 and count(LoginThrottle) == 0
    later = start + retention + timedelta(minutes=1)
    assert purge_retention(db, app.config, now=lambda: later) == {
        "throttles": 0, "erased_hashes": 2}
    with db.session() as session:
        assert [m.case_id for m in session.scalars(select(MediaHash))] == [kept.id]
