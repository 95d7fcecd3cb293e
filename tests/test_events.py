"""Derived data follows named events, not a flush hook (issue 15): every writer of what the
statistics, the queue's tallies and the waiting deadlines read announces it.

Two nets. The scenario drives each writer in turn through the real services and, after
each step, compares the folded statistics with the naive reference (a recount of
everything), the tallies with a count of the cases and the deadlines with the requests: a
writer that forgets its event leaves the derived data behind and fails the step. The
static test finds, in disrupt/, every function that assigns a watched column and requires
it to announce (or to say why it need not)."""
from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from disrupt.cases.models import ReportedURL
from disrupt.cases.services import (
    assign_case,
    classify_case,
    close_case,
    reopen_case,
    resume_checking,
)
from disrupt.cases.tallies import read_tallies
from disrupt.dashboard.fold import fold_statistics
from disrupt.dashboard.pending import count_pending
from disrupt.dashboard.reference import naive_statistics
from disrupt.dashboard.services import takedown_statistics
from disrupt.db import utcnow
from disrupt.monitoring.checker import CheckOutcome
from disrupt.monitoring.services import claim_due_urls, record_checks
from disrupt.platforms.models import Platform, RemovalRequest
from disrupt.platforms.notices import Notifier
from disrupt.platforms.services import (
    add_platform,
    queue_follow_up,
    queue_removal_request,
    record_delivery,
    record_reply,
    update_platform,
)
from disrupt.victims.services import add_urls, erase_case, open_case, withdraw_case
from tests.support.factories import make_user
from tests.support.recounts import deadlines_counted, deadlines_kept, tallies_counted

CONFIRM = timedelta(hours=1)
NOTIFIER = Notifier("Hotline", "notices@hotline.test", False)
ROOT = Path(__file__).resolve().parents[1] / "disrupt"


def _fold_matches_reference(session, now) -> None:
    """All platforms, and each one (the URLs that no request covers count by platform)."""
    while fold_statistics(session, confirm_after=CONFIRM, limit=3):
        pass
    assert count_pending(session) == 0
    for platform_id in (None, *session.scalars(select(Platform.id))):
        assert takedown_statistics(session, now=now, platform_id=platform_id) == \
            naive_statistics(session, now=now, confirm_after=CONFIRM, platform_id=platform_id)


def _check(session, verdict: str, now, *, state: str | None = None) -> None:
    """Every due URL (of ``state``, if given) is checked with ``verdict`` through the
    worker's own claim and record."""
    session.expire_all()  # the worker writes with Core: what the session holds is old
    claims = claim_due_urls(session, worker="w", now=now, lease=timedelta(minutes=5),
                            limit=100)
    results = [(c, CheckOutcome(verdict=verdict, reason=verdict, http_status=200,
                                final_url=c.url, elapsed_ms=5, rule="test"))
               for c in claims
               if state is None or session.get(ReportedURL, c.id).state == state]
    assert record_checks(session, results, worker="w", now=now, confirm_after=CONFIRM,
                         scale=1.0)


def _open(session, app, urls, now):
    case, _ = open_case(session, age_group="adult", language="en", consent_notices=True,
                        consent_hash_sharing=False, contact=None, urls=urls, hashes=[],
                        cipher=app.extensions["disrupt.cipher"], now=now)
    return case


def test_the_derived_data_follows_every_writer(app, db):
    start = utcnow() - timedelta(days=30)
    moments = iter(start + timedelta(hours=6 * i) for i in range(100))
    with db.session() as s:
        worker = make_user(s, "cw@example.org", now=start)
        pic = add_platform(s, name="PicShare", domains=["picshare.test"], deadline_hours=48,
                           contact="abuse@picshare.test")
        s.flush()
        case = _open(s, app, ["https://picshare.test/a", "https://picshare.test/b",
                              "https://elsewhere.test/c"], next(moments))
        other = _open(s, app, ["https://picshare.test/d"], next(moments))
        gone = _open(s, app, ["https://picshare.test/e"], next(moments))

        def step(change) -> None:
            now = next(moments)
            change(now)
            s.flush()
            s.expire_all()
            _fold_matches_reference(s, now)
            assert read_tallies(s) == tallies_counted(s)
            assert deadlines_kept(s) == deadlines_counted(s)
            s.commit()

        step(lambda now: None)  # open_case
        step(lambda now: assign_case(case, worker.id, now))
        requests = []

        def notify(now):
            for c in (case, other, gone):
                requests.append(queue_removal_request(
                    s, case=c, platform=pic, urls=[u for u in c.urls if u.platform_id == pic.id],
                    legal_basis="dsa_art16", language="en", notifier=NOTIFIER, now=now))
            s.flush()
            for r in requests:
                r.lease_owner = "w"
        step(notify)
        step(lambda now: [record_delivery(s, r, worker="w", now=now) for r in requests])
        # From here on every step changes what the notified URLs' figures read.
        step(lambda now: classify_case(case, age_group="minor", high_priority=False, now=now))
        step(lambda now: _check(s, "online", now))
        step(lambda now: _check(s, "removed", now))
        step(lambda now: _check(s, "removed", now + CONFIRM, state="removal_suspected"))
        step(lambda now: record_reply(s, requests[0], status="actioned", now=now))
        step(lambda now: queue_follow_up(s, requests[1], now=now))
        step(lambda now: update_platform(s, pic, domains=["picshare.test", "elsewhere.test"]))
        step(lambda now: close_case(case, "removed", now))
        step(lambda now: add_urls(s, case, ["https://picshare.test/f"], now))
        step(lambda now: close_case(case, "removed", now))
        step(lambda now: reopen_case(case, now))
        step(lambda now: withdraw_case(s, other, now))
        step(lambda now: erase_case(s, gone, now))
        assert s.scalar(select(func.count()).select_from(RemovalRequest)) == 4


def test_resuming_checks_on_an_address_given_up_on_is_folded(app, db):
    start = utcnow() - timedelta(days=2)
    with db.session() as s:
        case = _open(s, app, ["https://nowhere.test/x"], start)
        s.flush()
        _fold_matches_reference(s, start)
        [url] = case.urls
        url.state = "invalid"  # as monitoring.states leaves it after weeks of failures
        url.check_count = 3
        s.flush()
        _fold_matches_reference(s, start)  # the reference reads only the state it counts
        resume_checking(case, url, start + timedelta(hours=1))
        s.flush()
        assert count_pending(s) == 1


# --- the static net --------------------------------------------------------------------

#: Columns that derived data reads, by the name the code gives the object.
WATCHED = {
    "case": {"status", "priority", "assignee_id", "age_group"},
    "url": {"state", "reappeared", "removed_at", "removal_suspected_at", "check_count",
            "platform_id", "platform", "case_id"},
    "request": {"status", "sent_at", "deadline_at", "legal_basis", "platform_id", "platform",
                "urls", "case_id"},
    "follow_up": {"status", "sent_at", "deadline_at", "urls"},
}
#: Calls that announce a change (an event's send, or the one function that sends it).
ANNOUNCERS = {"send", "announce_requests", "set_status", "set_assignee", "set_classification"}
#: Writers that need not announce, and why.
EXEMPT = {
    "cases/status.py": "the one writer of a case's tallied columns: it announces",
    "monitoring/states.py:apply_verdict": "works on the batch that record_checks writes and "
                                          "announces (checks_recorded)",
    "platforms/services.py:retry_failed_request": "failed to queued: never sent, so neither "
                                                  "the statistics nor the deadlines read it",
    "platforms/services.py:record_failed_delivery": "a queued request's retries: not sent",
    "platforms/services.py:_new_request": "builds the request its callers announce",
    "platforms/attachment.py:on_urls_reported": "runs inside urls_reported, which the "
                                                "dashboard hears too",
}


def _watched_writes(function: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(function):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else [])
        for target in targets:
            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                    and target.attr in WATCHED.get(target.value.id, ())):
                found.append(f"{target.value.id}.{target.attr}")
    return found


def _announces(function: ast.AST) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            if name in ANNOUNCERS:
                return True
    return False


def unannounced_writers(root: Path) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        if "static" in path.parts:
            continue
        relative = path.relative_to(root).as_posix()
        if relative in EXEMPT:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            writes = _watched_writes(node)
            if writes and f"{relative}:{node.name}" not in EXEMPT and not _announces(node):
                out.append(f"{relative}:{node.name} writes {', '.join(sorted(set(writes)))}")
    return out


def test_every_writer_of_a_watched_column_announces_it(tmp_path):
    writer = tmp_path / "feature" / "services.py"
    writer.parent.mkdir()
    writer.write_text("def close(case):\n    case.status = 'closed'\n"
                      "def send(request, now):\n    request.sent_at = now\n"
                      "    announce_requests(None, [request], now=now)\n")
    assert unannounced_writers(tmp_path) == ["feature/services.py:close writes case.status"]
    assert unannounced_writers(ROOT) == []


def test_only_cases_status_sets_a_cases_tallied_columns():
    """Whatever else announces, the queue's tallies move only in cases.status."""
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if "static" in path.parts or relative == "cases/status.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                offenders += [f"{relative}:{node.name} {w}" for w in _watched_writes(node)
                              if w.startswith("case.")]
    assert offenders == []
