"""Tracing who hosts a URL (issue 16, part 1) against simulated RDAP servers on 127.0.0.x:
the bootstrap registry, a registry, an RIR that redirects to another which rate-limits once,
and a site behind a CDN — through the network guard, recorded with its evidence."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from disrupt.db import utcnow
from disrupt.tracing.jobs import trace_due_hosts
from disrupt.tracing.models import HostTrace
from disrupt.tracing.rdap import Bootstrap, RDAPAnswer, RDAPError, parse_domain, parse_network
from tests.support.apps import make_test_app
from tests.support.factories import add_url, make_case
from tests.support.staff import staff_client
from tests.tracing.rdap_servers import SITE_IP, TestWorld


@pytest.fixture(scope="module")
def world():
    servers = TestWorld()
    yield servers
    servers.stop()


def test_trace_a_host_through_redirects_and_a_rate_limit(database_url, tmp_path, world):
    for server in world.servers:  # the rate limit answers the first query of each test
        server.hits.clear()
    app = make_test_app(database_url, tmp_path,
                        RDAP_BOOTSTRAP_URL=world.bootstrap.base + "/", TRACE_TTL_HOURS=24.0)
    db = app.extensions["disrupt.db"]
    host = "www.victimsite.test"
    now = utcnow()
    with db.session() as s:
        case = make_case(s, now=now, reference="DSR-TRACE")
        # a name (its registrar is looked up; the name does not resolve here, so the
        # resolver is given) and the bare address of the same site (its home page is asked)
        later = now + timedelta(days=1)
        add_url(s, case, f"http://{host}/p/1", now=now, next_check_at=later)
        add_url(s, case, f"http://{SITE_IP}:{world.site.port}/p/2", now=now, next_check_at=later)
        s.commit()
        case_id = case.id
    resolve = {host: [SITE_IP]}.__getitem__

    assert trace_due_hosts(db, app.config, worker="w1", now=lambda: now, resolve=resolve) == 2
    with db.session() as s:
        traces = {t.host: t for t in s.scalars(select(HostTrace))}
        named, bare = traces[host], traces[SITE_IP]
        # the first network lookup was rate limited (HTTP 429, Retry-After 120)
        limited = named if named.network is None else bare
        assert limited.status == "partial" and "rate limited" in " ".join(limited.problems)
        assert limited.next_trace_at - now >= timedelta(seconds=120)
        assert named.addresses == [SITE_IP] and bare.addresses == [SITE_IP]
        assert named.registrar["name"] == "Example Registrar, Inc."
        assert named.registrar["abuse"]["email"] == "abuse@registrar.example"
        assert named.registrar["iana_id"] == "9999"
        assert bare.registrar is None  # no domain behind a bare address
        assert bare.cdn == "Cloudflare" and "cf-ray" in bare.cdn_evidence
    # nothing is due in between
    assert trace_due_hosts(db, app.config, worker="w1", now=lambda: now + timedelta(seconds=60),
                           resolve=resolve) == 0
    later = now + timedelta(hours=1)
    assert trace_due_hosts(db, app.config, worker="w1", now=lambda: later,
                           resolve=resolve) == 1
    with db.session() as s:
        evidence = []
        for trace in s.scalars(select(HostTrace)):
            evidence += trace.evidence
            assert trace.status == "ok", (trace.host, trace.problems)
            assert trace.network["holder"] == "Cloudflare, Inc."
            assert trace.network["country"] == "NL"
            assert trace.network["abuse"]["email"] == "abuse@cloudflare.example"
            assert trace.cdn == "Cloudflare"
            # the RIR redirect was followed, the evidence says where the answer came from
            assert trace.network["source"] == f"{world.rir_b.base}/ip/127.0.0.0"
        named = s.scalar(select(HostTrace).where(HostTrace.host == host))
        assert named.cdn_evidence == "the network's holder"
        assert any(e["url"] == f"{world.rir_b.base}/ip/{SITE_IP}" and e["status"] == 200
                   for e in evidence)

    page = staff_client(app, "cw@example.org").get(f"/console/cases/{case_id}")
    html = page.get_data(as_text=True)
    section = html.split('id="hosting"', 1)[1].split("</section>", 1)[0]
    for expected in ("Cloudflare, Inc.", "NL", "abuse@cloudflare.example",
                     "Example Registrar, Inc.", "abuse@registrar.example", "Cloudflare"):
        assert expected in section, expected
    db.dispose()


def test_the_guard_refuses_private_addresses_for_tracing(sqlite_url, tmp_path, world):
    app = make_test_app(sqlite_url, tmp_path, ALLOW_LOOPBACK=False,
                        RDAP_BOOTSTRAP_URL=world.bootstrap.base + "/")
    db = app.extensions["disrupt.db"]
    now = utcnow()
    with db.session() as s:
        case = make_case(s, now=now, reference="DSR-TRACE2")
        add_url(s, case, "http://intranet.victimsite.test/x", now=now)
        s.commit()
    trace_due_hosts(db, app.config, worker="w1", now=lambda: now,
                    resolve={"intranet.victimsite.test": ["10.1.2.3"]}.__getitem__)
    with db.session() as s:
        trace = s.scalar(select(HostTrace))
    assert trace.status == "failed" and trace.addresses == []
    assert world.rir_a.hits == [] or all("10.1.2.3" not in h for h in world.rir_a.hits)
    db.dispose()


def test_bootstrap_longest_match_and_hostile_answers():
    files = {
        "http://boot/dns.json": {"services": [[["uk"], ["https://a/"]],
                                              [["co.uk"], ["http://b", "https://b/"]]]},
        "http://boot/ipv4.json": {"services": [[["0.0.0.0/0"], ["https://all/"]],
                                               [["192.0.2.0/24"], ["https://doc/"]]]},
    }
    import json

    def get(url: str) -> RDAPAnswer:
        return RDAPAnswer(url, 200, json.dumps(files[url]).encode())

    boot = Bootstrap("http://boot", get)
    assert boot.for_domain("shop.example.co.uk") == "https://b/"
    assert boot.for_domain("example.uk") == "https://a/"
    assert boot.for_ip("192.0.2.9") == "https://doc/" and boot.for_ip("8.8.8.8") == "https://all/"
    with pytest.raises(RDAPError):
        boot.for_domain("example.fr")
    # deeply nested entities are read to a bounded depth, garbage is ignored
    nested: dict = {"objectClassName": "ip network", "handle": "N"}
    cursor = nested
    for _ in range(2000):
        child: dict = {"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text", "x"]]]}
        cursor["entities"] = [child, "garbage", 7]
        cursor = child
    assert parse_network(nested, "u").abuse.email == "x"
    assert parse_domain({"entities": "not a list"}, "u").name is None
    from disrupt.tracing.rdap import _json

    with pytest.raises(RDAPError):
        _json(RDAPAnswer("u", 200, b"[" * 100_000), "deep")
    with pytest.raises(RDAPError) as raised:
        _json(RDAPAnswer("u", 429, b"", retry_after=30), "limited")
    assert raised.value.retry_after == 30


def test_the_site_is_asked_only_in_its_politeness_turn(sqlite_url, tmp_path, world):
    """The look at the site's own answer takes a turn in the host's slots like a URL check:
    while checks hold the host's first slot, the tracer does not add a request of its own."""
    from disrupt.monitoring.engine import HostGate

    for server in world.servers:
        server.hits.clear()
    app = make_test_app(sqlite_url, tmp_path, RDAP_BOOTSTRAP_URL=world.bootstrap.base + "/",
                        LEASE_SECONDS=3.0, HOST_SLOT_LEASE_SECONDS=60.0)
    db = app.extensions["disrupt.db"]
    now = utcnow()
    with db.session() as s:
        case = make_case(s, now=now, reference="DSR-TURN")
        add_url(s, case, f"http://{SITE_IP}:{world.site.port}/p/2", now=now,
                next_check_at=now + timedelta(days=1))
        s.commit()
    checks = HostGate(db, holder="checking-worker", lease=timedelta(seconds=60))
    held = checks.try_acquire(SITE_IP, 1, 0.0)
    assert held is not None
    assert trace_due_hosts(db, app.config, worker="w1", now=lambda: now) == 1
    assert world.site.hits == []
    with db.session() as s:
        trace = s.scalar(select(HostTrace))
        assert trace.cdn_evidence in (None, "the network's holder")
    checks.release(held)
    later = now + timedelta(days=2)
    assert trace_due_hosts(db, app.config, worker="w1", now=lambda: later) == 1
    assert world.site.hits == ["/"]
    with db.session() as s:
        assert "cf-ray" in s.scalar(select(HostTrace)).cdn_evidence
    db.dispose()
