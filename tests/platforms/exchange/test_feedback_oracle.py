"""SubmitFeedback is no oracle: for a hash the exchange did not share with the client (a
minor's awaiting a decision, one the victim did not agree to share, a weak one), the answer
is exactly the answer for a hash that does not exist, and nothing is stored."""
from __future__ import annotations

import requests
from sqlalchemy import func, select

from disrupt.platforms.exchange.models import HashFeedback
from tests.platforms.exchange.test_exchange_api import exchange, pdq  # noqa: F401

WITHHELD = {"minor, awaiting a decision": pdq(100), "no consent": pdq(101),
            "weak fingerprint": pdq(102)}
NOWHERE = pdq(999)


def _submit(live_server, keys, values):
    sub, secret = keys
    return requests.post(
        f"{live_server}/api/exchange/v1/SubmitFeedback",
        headers={"Ocp-Apim-Subscription-Key": sub, "x-functions-key": secret},
        json={"hashFeedbacks": [{"hashValue": v, "feedbackValue": "Blocked", "tags": ["hma"]}
                                for v in values]},
        timeout=10)


def _fetch(live_server, keys):
    sub, secret = keys
    return requests.get(f"{live_server}/api/exchange/v1/FetchHashes",
                        headers={"Ocp-Apim-Subscription-Key": sub, "x-functions-key": secret},
                        params={"startTimestamp": 0, "pageSize": 1000}, timeout=10).json()


def test_withheld_hashes_are_answered_as_hashes_that_do_not_exist(db, live_server, exchange):  # noqa: F811
    keys = exchange["alpha"]
    before = _fetch(live_server, keys)
    nowhere = _submit(live_server, keys, [NOWHERE])
    assert nowhere.status_code == 200
    for reason, value in WITHHELD.items():
        answer = _submit(live_server, keys, [value])
        assert answer.status_code == nowhere.status_code, reason
        assert answer.json() == {**nowhere.json(), "unknownHashValues": [value]}, reason
    mixed = _submit(live_server, keys, [pdq(1), *WITHHELD.values(), NOWHERE])
    assert mixed.status_code == 200
    assert mixed.json() == {"count": 1, "unknownHashValues": sorted([*WITHHELD.values(),
                                                                      NOWHERE])}
    with db.session() as session:
        stored = dict(session.execute(select(HashFeedback.hash_value, func.count())
                                      .group_by(HashFeedback.hash_value)).all())
    assert stored == {pdq(1): 1}
    after = _fetch(live_server, keys)
    listed = {r["hashValue"] for r in after["hashRecords"]}
    assert listed == {r["hashValue"] for r in before["hashRecords"]}
    assert not listed & {*WITHHELD.values(), NOWHERE}
    assert next(r for r in after["hashRecords"] if r["hashValue"] == pdq(1))["CSPFeedbacks"]
