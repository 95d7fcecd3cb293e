"""The queue's counts without counting the backlog (issue 18, item 3): the case tallies and
the deadlines kept on the case stay equal to what a count of every case says, through every
way a case changes; the page is read along an index; counts past the cap say so."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, insert, select

from disrupt.cases.models import Case, ReportedURL
from disrupt.cases.services import assign_case, classify_case, close_case, reopen_case
from disrupt.cases.status import set_status
from disrupt.cases.tallies import read_tallies, recount
from disrupt.console.queue import (
    AGE_CHOICES,
    COUNT_CAP,
    PRIORITY_CHOICES,
    SCOPES,
    STATUS_CHOICES,
    QueueFilter,
    Viewer,
    queue_counts,
    queue_page,
)
from disrupt.db import utcnow
from disrupt.platforms.deadlines import is_overdue
from disrupt.platforms.models import Platform, RemovalRequest
from disrupt.platforms.services import record_reply
from disrupt.platforms.waiting import refresh_waiting
from disrupt.victims.services import erase_case, withdraw_case
from tests.support.apps import make_test_app
from tests.support.factories import add_url, make_case, make_request, set_url_states
from tests.support.recounts import deadlines_counted, deadlines_kept, tallies_counted
from tests.support.staff import make_user, staff_client

PRIORITIES = {"minor": 2, "high": 1, "normal": 0}
AGES = {"24h": (timedelta(hours=24), True), "7d": (timedelta(days=7), True),
        "older7d": (timedelta(days=7), False), "older30d": (timedelta(days=30), False)}


def _matches(case, requests, where, viewer, now, *, skip=()):
    """The queue's filters, in Python over one case: the reference the counts must equal."""
    age = now - case.created_at
    checks = {
        "visible": viewer.sees_all or case.assignee_id in (None, viewer.user_id),
        "scope": {"all": True, "unassigned": case.assignee_id is None,
                  "mine": case.assignee_id == viewer.user_id}[where.scope],
        "status": (case.status in ("new", "in_progress") if where.status == "open" else
                   case.status != "erased" if where.status == "any" else
                   case.status == where.status),
        "priority": where.priority is None or case.priority == PRIORITIES[where.priority],
        "overdue": not where.overdue or any(is_overdue(r, case, now) for r in requests),
        "age": where.age is None or (age <= AGES[where.age][0]) == AGES[where.age][1],
        "platform": where.platform_id is None or any(
            u.platform_id == where.platform_id for u in case.urls),
    }
    return all(ok for name, ok in checks.items() if name not in skip)


def _reference_counts(session, where, viewer, now):
    cases = session.scalars(select(Case)).all()
    requests = {c.id: session.scalars(select(RemovalRequest).where(
        RemovalRequest.case_id == c.id)).all() for c in cases}

    def count(where_, skip=()):
        return sum(_matches(c, requests[c.id], where_, viewer, now, skip=skip) for c in cases)

    counts = {"total": count(where)}
    counts.update({f"scope:{n}": count(QueueFilter(**{**where.__dict__, "scope": n}))
                   for n in SCOPES})
    counts.update({f"status:{n}": count(QueueFilter(**{**where.__dict__, "status": n}))
                   for n in STATUS_CHOICES})
    counts.update({f"priority:{n}": count(QueueFilter(**{**where.__dict__, "priority": n}))
                   for n in PRIORITY_CHOICES})
    counts["overdue"] = count(QueueFilter(**{**where.__dict__, "overdue": True}))
    counts.update({f"age:{n}": count(QueueFilter(**{**where.__dict__, "age": n}))
                   for n in AGE_CHOICES})
    return counts


def _assert_consistent(db, viewers, platform_id, now):
    with db.session() as s:
        assert read_tallies(s) == tallies_counted(s)
        assert deadlines_kept(s) == deadlines_counted(s)
        for viewer in viewers:
            for where in (QueueFilter(), QueueFilter(scope="mine"), QueueFilter(status="any"),
                          QueueFilter(priority="minor", overdue=True),
                          QueueFilter(scope="unassigned", age="7d"),
                          QueueFilter(status="closed", platform_id=platform_id)):
                assert queue_counts(s, where, viewer, now) == _reference_counts(
                    s, where, viewer, now), (where, viewer)


def test_counts_follow_every_change_of_a_case(app, db):
    me = make_user(app, "cw@example.org")
    other = make_user(app, "other@example.org")
    viewers = (Viewer(user_id=me, sees_all=False), Viewer(user_id=me, sees_all=True))
    now = utcnow()
    with db.session() as s:
        platform = Platform(name="PicShare", deadline_hours=48)
        s.add(platform)
        s.flush()
        cases = [make_case(s, now=now - timedelta(days=d), status=st, priority=p)
                 for d, st, p in ((0.5, "new", 0), (3, "new", 2), (10, "in_progress", 1),
                                  (40, "in_progress", 0), (5, "closed", 0))]
        url = add_url(s, cases[2], "https://picshare.example/a.jpg", now=now,
                      platform=platform, state="online")
        add_url(s, cases[3], "https://picshare.example/b.jpg", now=now, platform=platform,
                state="online")
        s.commit()
        ids = [c.id for c in cases]
        platform_id, url_id = platform.id, url.id
    _assert_consistent(db, viewers, platform_id, now)

    def step(change):
        with db.session() as s:
            change(s)
            s.commit()
        _assert_consistent(db, viewers, platform_id, now)

    step(lambda s: assign_case(s.get(Case, ids[0]), me, now))            # new -> in progress
    step(lambda s: assign_case(s.get(Case, ids[1]), other, now))
    step(lambda s: classify_case(s.get(Case, ids[3]), age_group="minor", high_priority=False,
                                 now=now))
    step(lambda s: make_request(s, s.get(Case, ids[2]), s.get(Platform, platform_id),
                                [s.get(ReportedURL, url_id)], sent_at=now - timedelta(hours=60)))
    step(lambda s: make_request(s, s.get(Case, ids[3]), s.get(Platform, platform_id),
                                s.get(Case, ids[3]).urls, sent_at=now - timedelta(hours=1)))
    step(lambda s: set_url_states(s, {s.get(ReportedURL, url_id): "removed"}, now=now))
    step(lambda s: set_url_states(s, {s.get(ReportedURL, url_id): "online"}, now=now))
    step(lambda s: record_reply(s, s.scalars(select(RemovalRequest).where(
        RemovalRequest.case_id == ids[3])).one(), status="actioned", now=now))
    step(lambda s: close_case(s.get(Case, ids[0]), "removed", now))
    step(lambda s: reopen_case(s.get(Case, ids[4]), now))
    step(lambda s: assign_case(s.get(Case, ids[1]), None, now))             # released
    step(lambda s: withdraw_case(s, s.get(Case, ids[2]), now))             # stopped: not overdue
    step(lambda s: erase_case(s, s.get(Case, ids[1]), now))

    def unloaded_change(s):  # the old value was never read in this session
        case = s.get(Case, ids[4])
        s.expire(case)
        set_status(s, case, "closed", now=now)
    step(unloaded_change)
    step(lambda s: make_case(s, now=now, status="new", assignee_id=me))



def test_checks_that_move_an_address_out_of_removed_refresh_the_overdue_mark(app, db):
    """The worker's checks write states without the ORM and call refresh_waiting: without
    it, a bulk change of state leaves the case's mark as it was."""
    now = utcnow()
    with db.session() as s:
        platform = Platform(name="PicShare", deadline_hours=48)
        s.add(platform)
        s.flush()
        case = make_case(s, now=now - timedelta(days=5))
        url = add_url(s, case, "https://picshare.example/a.jpg", now=now, platform=platform,
                      state="removed")
        make_request(s, case, platform, [url], sent_at=now - timedelta(hours=60))
        s.commit()
        case_id, url_id = case.id, url.id
        assert case.overdue_from is None
    with db.session() as s:
        s.execute(ReportedURL.__table__.update().where(ReportedURL.__table__.c.id == url_id)
                  .values(state="online"))
        assert s.get(Case, case_id).overdue_from is None   # the bulk write bypassed the ORM
        refresh_waiting(s, [case_id])
        s.commit()
    with db.session() as s:
        assert s.get(Case, case_id).overdue_from == now - timedelta(hours=12)
        page = queue_page(s, QueueFilter(overdue=True), Viewer(user_id=0, sees_all=True), now)
        assert [r.case.id for r in page.rows] == [case_id] and page.rows[0].overdue


def test_counts_past_the_cap_say_so_and_pages_still_turn(app, db):
    client = staff_client(app, "cw@example.org")
    now = utcnow()
    n = COUNT_CAP + 20
    with db.session() as s:
        s.execute(insert(Case.__table__), [
            {"reference": f"BULK-{i:05d}", "status": "new", "age_group": "adult",
             "language": "en", "priority": 0, "created_at": now - timedelta(minutes=i),
             "updated_at": now} for i in range(n)])
        recount(s)
        s.commit()
        viewer = Viewer(user_id=0, sees_all=True)
        page = queue_page(s, QueueFilter(age="24h"), viewer, now, page=2)
        assert page.total.capped and str(page.total) == f"{COUNT_CAP}+"
        assert page.counts["age:24h"].capped and not page.counts["age:older7d"].capped
        assert page.page == 2 and page.pages == 3 and len(page.rows) == 50
        exact = queue_page(s, QueueFilter(), viewer, now)
        assert exact.total == n and not exact.total.capped  # from the tallies: exact
        last = queue_page(s, QueueFilter(age="24h"), viewer, now, page=11)
        assert len(last.rows) == n - 500 and last.pages == 11  # no next page
    html = client.get("/console/?age=24h&page=2").get_data(as_text=True)
    assert f'id="queue-total">{COUNT_CAP}+ cases, page 2.' in html
    assert f"opened in the last 24 h <span class=\"counts\">({COUNT_CAP}+)</span>" in html
    assert "Next →" in html and "← Previous" in html


def test_the_page_is_read_along_an_index_not_sorted(sqlite_url, tmp_path):
    """SQLite says how it reads the queue's own page query; a sort of every open case would
    show as a temporary B-tree. (PostgreSQL chooses by table size; the benchmark measures it.)"""
    app = make_test_app(sqlite_url, tmp_path)
    db = app.extensions["disrupt.db"]
    seen = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if "ORDER BY" in statement:
            seen.append((statement, parameters))

    now = utcnow()
    with db.session() as s:
        make_case(s, now=now, status="new")
        s.commit()
    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.session() as s:
            for viewer in (Viewer(user_id=1, sees_all=False), Viewer(user_id=1, sees_all=True)):
                queue_page(s, QueueFilter(), viewer, now)
                queue_page(s, QueueFilter(scope="unassigned"), viewer, now)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert len(seen) == 4
    with db.engine.connect() as conn:
        for statement, parameters in seen:
            plan = " ".join(row[3] for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "ix_cases_queue_open" in plan and "TEMP B-TREE" not in plan, plan


_BULK = re.compile(r"(update|insert|delete)\(\s*Case(\.__table__)?\s*\)"
                   r"(?P<rest>[^\n]*(\n[^\n]*){0,3})")


def _bulk_writes(source: str) -> list[str]:
    """Bulk statements on cases that add or remove cases or set a tallied column."""
    return [m.group(0)[:60] for m in _BULK.finditer(source)
            if m.group(1) != "update"
            or re.search(r"\b(status|priority|assignee_id)\s*=", m.group("rest"))]


def test_no_bulk_write_changes_what_the_tallies_count():
    """The tallies follow the ORM; a bulk UPDATE of a case's status, priority or assignee
    (or a bulk INSERT or DELETE of cases) would leave them wrong without a recount."""
    assert _bulk_writes("session.execute(update(Case).where(Case.id == 1)\n"
                        "    .values(status='closed'))") != []
    assert _bulk_writes("session.execute(update(Case).values(news_at=now))") == []
    root = Path(__file__).resolve().parents[2] / "disrupt"
    found = [f"{path.relative_to(root)}: {hit}" for path in root.rglob("*.py")
             if path.name != "tallies.py" for hit in _bulk_writes(path.read_text())]
    assert found == []


def test_the_migration_fills_the_tallies_and_deadlines_from_the_rows_there(database_url):
    """Revision 0014 on a database in use: tallies counted, deadlines read from the
    requests (the one whose address is removed does not make the case overdue)."""
    from sqlalchemy import text as sql

    from disrupt.db import Database, make_engine
    from disrupt.migrate import upgrade

    engine = make_engine(database_url)
    with engine.begin() as conn:  # start from nothing: the fixture built head already
        if engine.dialect.name == "postgresql":
            conn.execute(sql("DROP SCHEMA public CASCADE"))
            conn.execute(sql("CREATE SCHEMA public"))
    if engine.dialect.name == "sqlite":
        engine.dispose()
        Path(database_url.removeprefix("sqlite:///")).unlink()
    upgrade(database_url, "0013")
    at, due, later = "2026-11-01 10:00:00", "2026-11-03 10:00:00", "2026-11-05 10:00:00"
    rows = [
        "INSERT INTO platforms (id, name, channel, deadline_hours, trusted_flagger, "
        "default_legal_basis, removal_rules) VALUES (1, 'P', 'email', 48, false, 'dsa_art16', "
        "'{}')",
        "INSERT INTO cases (id, reference, status, age_group, reporter, language, "
        "consent_notices, consent_hash_sharing, priority, created_at, updated_at) VALUES "
        "(1, 'A', 'in_progress', 'adult', 'self', 'en', true, true, 0, :at, :at), "
        "(2, 'B', 'new', 'minor', 'self', 'en', true, false, 2, :at, :at), "
        "(3, 'C', 'new', 'minor', 'self', 'en', true, false, 2, :at, :at)",
        "INSERT INTO reported_urls (id, case_id, url, host, platform_id, reported_by, state, "
        "reappeared, check_count, indeterminate_streak, created_at, stats_dirty) VALUES "
        "(1, 1, 'https://p.test/1', 'p.test', 1, 'victim', 'removed', false, 0, 0, :at, true),"
        " (2, 1, 'https://p.test/2', 'p.test', 1, 'victim', 'online', false, 0, 0, :at, true)",
        "INSERT INTO removal_requests (id, case_id, platform_id, legal_basis, language, channel,"
        " subject, body, idempotency_key, status, attempts, created_at, sent_at, deadline_at) "
        "VALUES (1, 1, 1, 'dsa_art16', 'en', 'email', 's', 'b', 'k1', 'sent', 1, :at, :at, "
        ":due), (2, 1, 1, 'dsa_art16', 'en', 'email', 's', 'b', 'k2', 'acknowledged', 1, :at, "
        ":at, :later), (3, 1, 1, 'dsa_art16', 'en', 'email', 's', 'b', 'k3', 'actioned', 1, "
        ":at, :at, :at)",
        "INSERT INTO removal_request_urls (request_id, url_id) VALUES (1, 1), (2, 2)",
    ]
    engine = make_engine(database_url)
    with engine.begin() as conn:
        for statement in rows:
            conn.execute(sql(statement), {"at": at, "due": due, "later": later})
    engine.dispose()
    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.session() as s:
            assert read_tallies(s) == {("in_progress", 0, 0): 1, ("new", 2, 0): 2}
            first = s.get(Case, 1)
            assert first.waiting_deadline.isoformat(sep=" ")[:19] == due
            assert first.overdue_from.isoformat(sep=" ")[:19] == later
            assert s.get(Case, 2).waiting_deadline is None
    finally:
        db.dispose()
