"""The index of active case hashes follows additions, withdrawals and erasures."""
from __future__ import annotations

import random
from datetime import timedelta

from disrupt.cases.hash_index import ActiveHashIndex
from disrupt.cases.services import SubmittedHash
from disrupt.db import utcnow
from disrupt.hashing.matching import pdq_distance
from disrupt.security import DataCipher
from disrupt.victims.services import open_case


def flip(hex_hash: str, bits: list[int]) -> str:
    value = int(hex_hash, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:064x}"


def _open(session, app, pdqs, quality=80):
    hashes = [SubmittedHash(kind="image", sha256=f"{i:064x}", pipeline="t", pdq=p,
                            pdq_quality=quality, phash="0" * 16) for i, p in enumerate(pdqs)]
    case, _ = open_case(session, age_group="adult", language="en", consent_notices=True,
                        consent_hash_sharing=True, contact=None, urls=[], hashes=hashes,
                        cipher=DataCipher(app.config["DATA_KEY"]), now=utcnow())
    session.flush()
    return case


def cross_case_matches(session, case, *, index, now):
    index.refresh(session, now)
    return {m.id: index.matches(m.pdq, exclude_case_id=case.id) for m in case.hashes}


def test_index_matches_brute_force_and_follows_changes(app, db):
    rng = random.Random(7)
    base = [f"{rng.getrandbits(256):064x}" for _ in range(40)]
    with db.session() as session:
        first = _open(session, app, base[:20])
        second = _open(session, app, [flip(h, rng.sample(range(256), 12)) for h in base[:5]]
                       + base[20:40])
        weak = _open(session, app, [base[0]], quality=20)
        session.commit()
        index = ActiveHashIndex()
        now = utcnow()
        found = cross_case_matches(session, first, index=index, now=now)
        all_hashes = [(m.id, m.case_id, m.pdq) for c in (second, weak) for m in c.hashes]
        for media in first.hashes:
            expected = sorted((mid, cid) for mid, cid, p in all_hashes
                              if cid == second.id and pdq_distance(p, media.pdq) <= 31)
            assert sorted((m.media_hash_id, m.case_id) for m in found[media.id]) == expected
        assert sum(len(v) for v in found.values()) == 5  # the weak copy never matches

        # Withdraw the second case: its hashes leave the index on the next refresh.
        second.status, second.withdrawn_at = "withdrawn", utcnow()
        session.commit()
        found = cross_case_matches(session, first, index=index, now=utcnow())
        assert sum(len(v) for v in found.values()) == 0

        # A new case with an exact copy appears; erasing a hash removes it.
        third = _open(session, app, [base[3]])
        session.commit()
        found = cross_case_matches(session, first, index=index,
                                   now=utcnow() + timedelta(seconds=1))
        media_id = third.hashes[0].id
        assert [(m.media_hash_id, m.distance) for v in found.values() for m in v] == [
            (media_id, 0)]
        third.hashes[0].status, third.hashes[0].status_changed_at = "deleted", utcnow()
        session.commit()
        assert sum(len(v) for v in cross_case_matches(
            session, first, index=index, now=utcnow()).values()) == 0
        assert len(index) == 20
