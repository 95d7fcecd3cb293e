"""A picture on another host (a CDN) is fetched under that host's politeness, through the
worker's slots: the CDN's slot row is used and its requests keep its spacing."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import select

from disrupt.cases.models import ReportedURL
from disrupt.demo.behaviours import _BaseSite, _Handler
from disrupt.monitoring.jobs import run_due_checks
from disrupt.monitoring.models import HostSlot, URLCheck
from tests.support.apps import monitor_config
from tests.support.factories import make_case

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class _Forum(_BaseSite):
    def __init__(self, ip: str, cdn: str) -> None:
        super().__init__(ip)
        self.cdn = cdn

    def handle(self, h: _Handler, path: str) -> None:
        if path.startswith("/t/") and path[3:].isdigit():
            body = (f'<html><title>Thread</title><body><img src="{self.cdn}/u/{path[3:]}.jpg">'
                    "<p>A thread with a picture.</p></body></html>").encode()
            return h.send(200, body)
        return h.send(404, b"not found")


class _CDN(_BaseSite):
    def __init__(self, ip: str, picture: bytes) -> None:
        super().__init__(ip)
        self.picture = picture
        self.starts: list[float] = []

    def handle(self, h: _Handler, path: str) -> None:
        with self._lock:
            self.starts.append(time.monotonic())
        h.send(200, self.picture, "image/jpeg")


def test_pictures_on_a_cdn_keep_the_cdns_spacing(mdb, case_image):
    cdn = _CDN("127.0.0.3", case_image).start()
    forums = [_Forum(ip, cdn.base_url).start() for ip in ("127.0.0.1", "127.0.0.4")]
    try:
        urls = [forum.url(f"/t/{i}") for forum in forums for i in range(2)]
        with mdb.session() as session:
            make_case(session, urls=urls, now=T0, images=[case_image])
            session.commit()
        config = monitor_config(HOST_CONCURRENCY=4, HOST_SPACING_SECONDS=0.25,
                                CHECK_CONCURRENCY=8)
        assert run_due_checks(mdb, config, worker="w", now=lambda: T0) == 4
        with mdb.session() as session:
            checks = list(session.scalars(select(URLCheck)))
            assert {(c.verdict, c.rule) for c in checks} == {("online", "media_match")}
            assert {u.state for u in session.scalars(select(ReportedURL))} == {"online"}
            cdn_slots = list(session.scalars(select(HostSlot).where(
                HostSlot.host == "127.0.0.3")))
        assert any(s.last_started_at is not None for s in cdn_slots)
        starts = sorted(cdn.starts)
        assert len(starts) == 4
        # Reserved 0.25 s apart across both forums' lanes (a lower bound cannot flake).
        assert starts[-1] - starts[0] >= 3 * 0.25 * 0.9, starts
    finally:
        cdn.stop()
        for forum in forums:
            forum.stop()
