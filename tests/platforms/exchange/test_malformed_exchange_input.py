"""Malformed input from an authenticated exchange client is a 400 with a message, never a
500 nor a stored oddity (issue 20, row 6). SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from disrupt.db import utcnow
from disrupt.platforms.exchange.models import PartnerHash
from disrupt.platforms.exchange.services import create_api_client
from disrupt.platforms.services import add_platform


@pytest.fixture
def api(app, db):
    with db.session() as session:
        platform = add_platform(session, name="Alpha", domains=["alpha.example"])
        client, secret = create_api_client(session, platform=platform, name="HMA",
                                           now=utcnow() - timedelta(minutes=1))
        session.commit()
        headers = {"Ocp-Apim-Subscription-Key": client.subscription_key,
                   "x-functions-key": secret}
    return app.test_client(), headers


def _token(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize("params, message", [
    ({"startTimestamp": "1e20"}, "startTimestamp"),
    ({"startTimestamp": str(10**20)}, "startTimestamp"),
    ({"startTimestamp": "-5"}, "startTimestamp"),
    ({"nextPageToken": _token("2026-01-01T00:00:00", "ImagePDQ", "0" * 64)}, "nextPageToken"),
    ({"nextPageToken": _token("2026-01-01T00:00:00+00:00", ["x"], "0" * 64)}, "nextPageToken"),
    ({"nextPageToken": _token({"a": 1}, "b", "c")}, "nextPageToken"),
    ({"nextPageToken": "!!!"}, "nextPageToken"),
], ids=["exponent", "huge", "negative", "naive-datetime", "list-type", "dict", "garbage"])
def test_fetch_hashes_refuses_malformed_parameters(api, params, message):
    client, headers = api
    response = client.get("/api/exchange/v1/FetchHashes", query_string=params, headers=headers)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


@pytest.mark.parametrize("record, message", [
    ({"signalType": "ImagePDQ", "hashValue": "0" * 64, "CSPFeedbacks": ["x"]}, "CSPFeedbacks"),
    ({"signalType": "ImagePDQ", "hashValue": "0" * 64, "CSPFeedbacks": {"a": 1}},
     "CSPFeedbacks"),
    ({"signalType": "VideoMD5", "hashValue": "a" * 5000}, "MD5"),
    ({"signalType": "VideoMD5", "hashValue": "not hex at all, 32 characters!!"}, "MD5"),
    ({"signalType": "S" * 5000, "hashValue": "a" * 32}, "signalType"),
], ids=["feedback-string", "feedback-object", "md5-5000", "md5-not-hex", "long-type"])
def test_submit_hashes_refuses_malformed_records(api, db, record, message):
    client, headers = api
    response = client.post("/api/exchange/v1/SubmitHashes", json={"hashRecords": [record]},
                           headers=headers)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert message in error and len(error) < 200
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(PartnerHash)) == 0


def test_a_well_formed_md5_is_still_accepted(api, db):
    client, headers = api
    response = client.post("/api/exchange/v1/SubmitHashes", headers=headers, json={
        "hashRecords": [{"signalType": "VideoMD5", "hashValue": "A" * 32,
                         "CSPFeedbacks": [{"feedbackValue": "Blocked"}]}]})
    assert response.status_code == 200 and response.get_json() == {"count": 1}
    with db.session() as session:
        assert session.scalar(select(PartnerHash.hash_value)) == "a" * 32
