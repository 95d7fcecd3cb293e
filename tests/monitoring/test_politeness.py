"""Per-host politeness shared through the database: slots, leases, spacing."""
from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select

from disrupt.cases.models import ReportedURL
from disrupt.monitoring.engine import HostGate
from disrupt.monitoring.jobs import run_due_checks
from disrupt.monitoring.politeness import SlotWant, release_slots
from tests.support.apps import monitor_config
from tests.support.factories import make_case

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ITEM = re.compile(r"/item/[0-9]{1,6}")  # the soft-404 probe is /item/<8 digits>


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_slots_leases_and_spacing(mdb):
    clock = Clock()
    lease = timedelta(seconds=30)
    a = HostGate(mdb, holder="worker-a", lease=lease, clock=clock)
    b = HostGate(mdb, holder="worker-b", lease=lease, clock=clock)
    first = a.try_acquire("pics.example", 2, 1.0)
    second = b.try_acquire("pics.example", 2, 1.0)
    assert first is not None and second is not None and first.slot != second.slot
    # Requests to one host start at least the spacing apart, whichever worker sends them.
    assert first.reserved_start == T0 and second.reserved_start == T0 + timedelta(seconds=1)
    assert a.try_acquire("pics.example", 2, 1.0) is None  # both slots held
    # Another host is not held up by the first one.
    other = a.try_acquire("clips.example", 2, 1.0)
    assert other is not None and other.reserved_start == T0
    # A platform override: one request at a time.
    solo = a.try_acquire("slow.example", 1, 0.0)
    assert solo is not None and b.try_acquire("slow.example", 1, 0.0) is None
    b.release(solo)  # only the holder can release
    assert b.try_acquire("slow.example", 1, 0.0) is None
    a.release(solo)
    assert b.try_acquire("slow.example", 1, 0.0) is not None
    # Released slots are free; the spacing still counts from the latest start.
    a.release(first)
    again = b.try_acquire("pics.example", 2, 1.0)
    assert again is not None and again.reserved_start == T0 + timedelta(seconds=2)
    # A crashed holder's slot frees itself when its lease runs out.
    assert a.try_acquire("pics.example", 2, 1.0) is None
    clock.now = T0 + timedelta(seconds=33)
    late = a.try_acquire("pics.example", 2, 1.0)
    assert late is not None and late.reserved_start == clock.now


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    starts: list[float] = []
    active = 0
    peak = 0
    lock = threading.Lock()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        cls = type(self)
        with cls.lock:
            cls.starts.append(time.monotonic())
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        time.sleep(0.05)
        body = b"<html><title>x</title><body>a page with some words</body></html>"
        self.send_response(200 if ITEM.fullmatch(self.path) else 404)  # a probe: not found
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with cls.lock:
            cls.active -= 1


def test_engine_keeps_concurrency_and_spacing(mdb):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with mdb.session() as session:
            make_case(session, urls=[f"{base}/item/{i}" for i in range(6)], now=T0)
            session.commit()
        _Recorder.starts, _Recorder.peak = [], 0
        config = monitor_config(HOST_CONCURRENCY=2, HOST_SPACING_SECONDS=0.2,
                                CHECK_CONCURRENCY=8)
        assert run_due_checks(mdb, config, worker="w", now=lambda: T0) == 6
        starts = sorted(_Recorder.starts)
        assert len(starts) == 7  # six pages and one soft-404 probe
        # Start times are reserved 0.2 s apart; a request sent late after its reservation
        # (a busy machine) can shorten one gap, never the spacing on average.
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        assert (starts[-1] - starts[0]) / len(gaps) >= 0.19 and min(gaps) >= 0.1, gaps
        assert _Recorder.peak <= 2
        with mdb.session() as session:
            assert {u.state for u in session.scalars(select(ReportedURL))} == {"online"}
    finally:
        server.shutdown()
        server.server_close()


def test_slots_of_many_hosts_in_one_transaction(mdb):
    clock = Clock()
    lease = timedelta(seconds=30)
    a = HostGate(mdb, holder="worker-a", lease=lease, clock=clock)
    b = HostGate(mdb, holder="worker-b", lease=lease, clock=clock)
    assert b.try_acquire("pics.example", 2, 0.5) is not None
    taken = a.try_acquire_many([
        SlotWant("pics.example", 2, 2, timedelta(seconds=0.5)),
        SlotWant("clips.example", 2, 2, timedelta(seconds=0.5)),
        SlotWant("solo.example", 3, 1, timedelta(0)),
    ])
    # Only what is free: one slot of pics (b holds the other), both of clips, the one of solo.
    assert [s.slot for s in taken["pics.example"]] == [1]
    assert taken["pics.example"][0].reserved_start == T0 + timedelta(seconds=0.5)
    clips = taken["clips.example"]
    assert [s.reserved_start for s in clips] == [T0, T0 + timedelta(seconds=0.5)]
    assert len(taken["solo.example"]) == 1
    assert b.try_acquire_many([SlotWant("clips.example", 1, 2, timedelta(0)),
                               SlotWant("solo.example", 1, 1, timedelta(0))]) == {}
    # Released together (what the engine does in the transaction that writes results).
    with mdb.session(claim=True) as session:
        release_slots(session, [*clips, *taken["solo.example"]], holder="worker-a")
        session.commit()
    again = b.try_acquire_many([SlotWant("clips.example", 2, 2, timedelta(0)),
                                SlotWant("solo.example", 1, 1, timedelta(0))])
    assert len(again["clips.example"]) == 2 and len(again["solo.example"]) == 1


def test_a_request_starts_only_on_a_lease_that_outlives_it(mdb):
    """Renewed before each request unless the lease outlasts the request's timeout: a request
    that runs to its timeout still ends inside its slot, never in another worker's."""
    clock = Clock()
    lease = timedelta(seconds=10)
    a = HostGate(mdb, holder="worker-a", lease=lease, clock=clock,
                 request_timeout=timedelta(seconds=6))
    b = HostGate(mdb, holder="worker-b", lease=lease, clock=clock)
    held = a.try_acquire("pics.example", 1, 0.0)
    assert held is not None and a.before_request(held)  # fresh: its reserved start
    clock.now = T0 + timedelta(seconds=4)  # 6 s left: not more than timeout + 1 s
    assert a.before_request(held)
    assert held.held_until == clock.now + lease
    # The slot is held for the whole request: another worker cannot take it meanwhile.
    clock.now += timedelta(seconds=6)
    assert b.try_acquire("pics.example", 1, 0.0) is None
    # Without that renewal (the old rule, half the lease) it would have been free.
    clock.now += timedelta(seconds=4, milliseconds=1)
    assert b.try_acquire("pics.example", 1, 0.0) is not None


def test_a_slot_taken_over_while_its_check_waited_is_not_used(mdb):
    """A slot is reserved when URLs are claimed; a check that waits in the worker's queue past
    the lease may find another worker on its slot: its reserved start is not a licence."""
    clock = Clock()
    lease = timedelta(seconds=10)
    a = HostGate(mdb, holder="worker-a", lease=lease, clock=clock,
                 request_timeout=timedelta(seconds=3))
    b = HostGate(mdb, holder="worker-b", lease=lease, clock=clock)
    held = a.try_acquire("pics.example", 1, 0.0)
    assert held is not None and held.reserved_start is not None
    clock.now = T0 + lease + timedelta(seconds=1)
    assert b.try_acquire("pics.example", 1, 0.0) is not None
    assert not a.before_request(held)
    # Waiting less than that, the same reserved start is renewed first and used.
    again = b.try_acquire("other.example", 1, 0.0)
    assert again is not None
    clock.now += timedelta(seconds=6)
    assert b.before_request(again) and again.held_until == clock.now + lease
