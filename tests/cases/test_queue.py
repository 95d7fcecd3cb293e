"""The queue: what each role sees, the order (minors, then platform deadlines, then age),
filters with their counts, and pages."""
from __future__ import annotations

from datetime import timedelta

from disrupt.console.queue import QueueFilter, Viewer, queue_page
from disrupt.db import utcnow
from disrupt.platforms.models import Platform
from tests.support.factories import add_url, make_case, make_request
from tests.support.staff import make_user, staff_client


def _seed(db, me, other):
    now = utcnow()
    with db.session() as s:
        platforms = [Platform(name=n) for n in ("PicShare", "ClipHub")]
        s.add_all(platforms)
        s.flush()

        def case(ref, *, days, priority=0, age="adult", status="new", assignee=None,
                 platform=None, deadline_in=None, request_status="sent"):
            c = make_case(s, now=now - timedelta(days=days), reference=ref, status=status,
                          age_group=age, priority=priority, assignee_id=assignee,
                          updated_at=now)
            urls = []
            if platform is not None:
                urls.append(add_url(s, c, f"https://{ref}.test/",
                                    platform_id=platforms[platform].id, now=now))
            if deadline_in is not None:  # overdue needs a URL not removed in the request
                make_request(s, c, platforms[platform or 0], urls, sent_at=now,
                             status=request_status, deadline_at=now + deadline_in)
            return c

        case("OLD", days=40)
        case("NEW", days=0.5, platform=1)
        case("MINOR", days=1, priority=2, age="minor")
        case("HIGH", days=2, priority=1, assignee=me)
        case("LATE", days=3, status="in_progress", assignee=me, platform=0,
             deadline_in=-timedelta(hours=2))
        case("SOON", days=10, status="in_progress", platform=0, deadline_in=timedelta(hours=5))
        case("DONE", days=4, status="in_progress", platform=0, deadline_in=-timedelta(hours=9),
             request_status="actioned")  # the platform acted: no deadline runs
        case("THEIRS", days=5, assignee=other, priority=2, age="minor")
        case("CLOSED", days=6, status="closed")
        s.commit()
        return {p.name: p.id for p in platforms}


def _refs(page):
    return [row.case.reference for row in page.rows]


def test_queue_order_visibility_filters_and_counts(app, db):
    me = make_user(app, "cw@example.org")
    other = make_user(app, "other@example.org")
    platforms = _seed(db, me, other)
    now = utcnow()
    caseworker = Viewer(user_id=me, sees_all=False)
    supervisor = Viewer(user_id=me, sees_all=True)
    with db.session() as s:
        page = queue_page(s, QueueFilter(), caseworker, now)
        assert _refs(page) == ["MINOR", "HIGH", "LATE", "SOON", "OLD", "DONE", "NEW"]
        assert page.total == 7 and page.rows[2].overdue and not page.rows[3].overdue
        assert page.rows[5].deadline is None  # actioned: no deadline running
        counts = page.counts
        assert (counts["scope:all"], counts["scope:unassigned"], counts["scope:mine"]) == (7, 5, 2)
        assert (counts["status:new"], counts["status:in_progress"],
                counts["status:closed"]) == (4, 3, 1)
        assert (counts["priority:minor"], counts["priority:high"], counts["overdue"]) == (1, 1, 1)
        assert counts["age:24h"] == 1 and counts["age:older30d"] == 1

        assert "THEIRS" in _refs(queue_page(s, QueueFilter(), supervisor, now))
        assert _refs(queue_page(s, QueueFilter(scope="mine"), caseworker, now)) == ["HIGH", "LATE"]
        assert _refs(queue_page(s, QueueFilter(overdue=True), caseworker, now)) == ["LATE"]
        assert _refs(queue_page(s, QueueFilter(priority="minor"), supervisor, now)) == [
            "THEIRS", "MINOR"]  # the older first
        on_cliphub = queue_page(s, QueueFilter(platform_id=platforms["ClipHub"]), caseworker, now)
        assert _refs(on_cliphub) == ["NEW"] and on_cliphub.counts["total"] == 1
        assert _refs(queue_page(s, QueueFilter(age="older7d"), caseworker, now)) == ["SOON", "OLD"]
        assert _refs(queue_page(s, QueueFilter(status="closed"), caseworker, now)) == ["CLOSED"]
        # Counts of one facet under another filter: minors among "mine" = 0.
        assert queue_page(s, QueueFilter(scope="mine"), caseworker, now).counts[
            "priority:minor"] == 0

        second = queue_page(s, QueueFilter(), caseworker, now, page=2, per_page=3)
        assert _refs(second) == ["SOON", "OLD", "DONE"] and second.pages == 3


def test_queue_page_renders_filters_and_pages(app, db):
    client = staff_client(app, "cw@example.org")
    _seed(db, None, None)
    html = client.get("/console/?priority=minor").get_data(as_text=True)
    assert ">MINOR<" in html and ">THEIRS<" in html and ">OLD<" not in html
    assert 'id="queue-total">2 cases.' in html
    assert "minors <span class=\"counts\">(2)</span>" in html
    html = client.get("/console/?overdue=1&status=bogus&page=99").get_data(as_text=True)
    assert "(overdue)" in html and "LATE" in html
