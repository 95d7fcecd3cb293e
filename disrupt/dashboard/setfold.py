"""The facts of a batch of URLs computed in SQL, instead of loading rows into Python and
building one fact per URL: an ``INSERT INTO takedown_facts … SELECT`` writes every column
from the URL, its case and its first sent request, then an ``UPDATE … FROM`` fills in the
removal times of the notified URLs from their checks (window functions).

The SQL says what facts.py says in Python (``build_fact``, ``first_request``,
``removal_interval``): the naive reference (reference.py) uses the Python rules, and the
tests and bench/dashboard.py compare both. Times are compared and subtracted as integer
microseconds since the epoch, exact on both databases.

Joins go from a small set to a table's primary key or index, never between two derived
tables: SQLite's planner would scan one of them for each row of the other."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    extract,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import CTE

from disrupt.cases.models import Case, ReportedURL
from disrupt.dashboard.cells import in_batch
from disrupt.dashboard.facts import CONCLUSIVE_VERDICTS, RATE_STATES, STOPPED_CASE_GROUPS
from disrupt.dashboard.models import TakedownFact
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.models import Platform, RemovalRequest, removal_request_urls

FACT_COLUMNS = tuple(c.name for c in TakedownFact.__table__.columns)
# Verdicts that end a suspected removal (facts.removal_interval).
RESETS = ("online", "restricted", "invalid")
MICRO = 1_000_000
# lower_s of a fact whose first run of removed checks does not decide its times (see
# _first_run_times), until the window over its checks has (_times).
UNDECIDED = -1
DEFAULT_DEADLINE_HOURS = 48
checks = URLCheck.__table__
urls = ReportedURL.__table__
cases = Case.__table__
requests = RemovalRequest.__table__
platforms = Platform.__table__
links = removal_request_urls
facts = TakedownFact.__table__


def insert_facts(session: Session, url_ids: Sequence[int], *, confirm_after: timedelta) -> None:
    """Insert the takedown_facts rows of ``url_ids`` (whose old rows are gone)."""
    dialect = session.get_bind().dialect.name
    ids = list(url_ids)
    session.execute(_insert(dialect), {"url_ids": ids})
    _fill_times(session, dialect, False, {"url_ids": ids}, confirm_after)


def insert_all_facts(session: Session, members: Table, *, confirm_after: timedelta) -> None:
    """Insert the takedown_facts rows of the URLs listed in ``members`` (a table with a
    ``reported_url_id`` column) into an empty takedown_facts: the removal times are then
    those of every fact, in one pass over the check log instead of one per batch."""
    dialect = session.get_bind().dialect.name
    session.execute(_insert(dialect, members))
    _fill_times(session, dialect, True, {}, confirm_after)


def _fill_times(session: Session, dialect: str, whole: bool, params: dict[str, Any],
                confirm_after: timedelta) -> None:
    """The removal times. On SQLite first from the first run of removed checks, read by
    index (_first_run_times), then those of the facts it leaves UNDECIDED by the window over
    their checks (_times), which go back to NULL when no run is confirmed after the request.
    On PostgreSQL the window alone: its pass over the checks is faster than its subqueries
    per URL."""
    params = {**params, "confirm_us": confirm_after // timedelta(microseconds=1)}
    if dialect == "postgresql":
        session.execute(_times(dialect, whole), params)
        return
    session.execute(_first_run_times(dialect, whole), params)
    session.execute(_times(dialect, whole), params)
    batch = [] if whole else [in_batch(facts.c.reported_url_id, dialect)]
    session.execute(update(facts).where(*batch, facts.c.lower_s == UNDECIDED)
                    .values(lower_s=None), params)


def _micros(moment: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Microseconds since the epoch, as an exact integer. SQLite stores UTC datetimes as
    'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format); its date functions round the
    fraction to milliseconds, so they only read the whole seconds."""
    if dialect == "postgresql":
        return cast(extract("epoch", moment) * MICRO, BigInteger)
    return (cast(func.strftime("%s", func.substr(moment, 1, 19)), Integer) * MICRO
            + cast(func.substr(moment, 21, 6), Integer))


def _day(moment: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The UTC date (datetime.date() of the aware UTC value in Python)."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", moment), Date)
    return func.substr(moment, 1, 10)


def _seconds_after(later_us: ColumnElement[Any], start_us: ColumnElement[Any]) -> Any:
    """max(0, int(seconds from start to later)), from microseconds."""
    return case((later_us <= start_us, 0), else_=(later_us - start_us) // MICRO)


def _deadline_us(dialect: str) -> ColumnElement[Any]:
    """The request's deadline, else its platform's (facts.build_fact)."""
    hours = func.coalesce(platforms.c.deadline_hours, DEFAULT_DEADLINE_HOURS)
    return func.coalesce(_micros(requests.c.deadline_at, dialect),
                         _micros(requests.c.sent_at, dialect)
                         + hours * literal(3600 * MICRO, BigInteger))


def _flag(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return case((condition, true()), else_=false())


@functools.cache
def _insert(dialect: str, members: Table | None = None) -> Any:
    """Every column but the removal times: the URL, its case, its first sent request (the
    earliest sent, then the lowest id: facts.first_request), looked up per URL. Outer joins
    only (every URL has a case): SQLite then reads the batch's URLs first, by primary key."""
    sent = requests.alias("sent")
    first = (select(sent.c.id).join(links, links.c.request_id == sent.c.id)
             .where(links.c.url_id == urls.c.id, sent.c.sent_at.is_not(None))
             .order_by(sent.c.sent_at, sent.c.id).limit(1)
             .correlate(urls).scalar_subquery())
    # A scalar subquery (LIMIT 1), not EXISTS: PostgreSQL would hash EXISTS over the whole
    # check log for every batch instead of reading the URL's checks from the index.
    conclusive = (select(literal(1)).where(checks.c.reported_url_id == urls.c.id,
                                           checks.c.verdict.in_(CONCLUSIVE_VERDICTS))
                  .limit(1).correlate(urls).scalar_subquery().is_not(None))
    request_id: Any = first
    rebuild_pg = members is not None and dialect == "postgresql"
    if rebuild_pg:
        # Every URL at once (rebuild): PostgreSQL joins whole sets (hashes) faster than it
        # runs a subquery per URL.
        firsts = (select(links.c.url_id, sent.c.id)
                  .join(sent, sent.c.id == links.c.request_id)
                  .where(sent.c.sent_at.is_not(None)).ext(distinct_on(links.c.url_id))
                  .order_by(links.c.url_id, sent.c.sent_at, sent.c.id).subquery("firsts"))
        request_id = firsts.c.id
        conclusive = exists().where(checks.c.reported_url_id == urls.c.id,
                                    checks.c.verdict.in_(CONCLUSIVE_VERDICTS))
    group = case(*[(cases.c.status == status, literal(name))
                   for status, name in STOPPED_CASE_GROUPS.items()], else_=literal("checked"))
    columns: dict[str, Any] = {
        "reported_url_id": urls.c.id, "created_day": _day(urls.c.created_at, dialect),
        "url_platform_id": func.coalesce(urls.c.platform_id, 0),
        "minor": _flag(cases.c.age_group == "minor"), "case_group": group,
        "state": urls.c.state, "reappeared": urls.c.reappeared,
        "verified": _flag(or_(requests.c.id.is_not(None), conclusive)),
        "first_request_id": requests.c.id, "sent_at": requests.c.sent_at,
        "sent_day": _day(requests.c.sent_at, dialect), "platform_id": requests.c.platform_id,
        "legal_basis": requests.c.legal_basis, "deadline_epoch": _deadline_us(dialect) // MICRO,
        "upper_s": null(), "lower_s": null(), "within_deadline": false(),
    }
    assert tuple(columns) == FACT_COLUMNS
    source = select(*[value.label(name) for name, value in columns.items()]).select_from(urls)
    if rebuild_pg:
        source = source.outerjoin(firsts, firsts.c.url_id == urls.c.id)
    source = (source
              .outerjoin(cases, cases.c.id == urls.c.case_id)
              .outerjoin(requests, requests.c.id == request_id)
              .outerjoin(platforms, platforms.c.id == requests.c.platform_id)
              .where(in_batch(urls.c.id, dialect) if members is None
                     else urls.c.id.in_(select(members.c.reported_url_id))))
    return insert(facts).from_select(list(FACT_COLUMNS), source)


def _after(c: Any, other: Any) -> ColumnElement[bool]:
    """Check ``c`` comes after check ``other`` (time, then id: the order of the checks)."""
    return tuple_(c.checked_at, c.id) > tuple_(other.checked_at, other.id)


@functools.cache
def _first_run_times(dialect: str, whole: bool) -> Any:
    """upper_s, lower_s and within_deadline of the notified URLs whose first run of removed
    checks decides them, with a few index reads per URL instead of a pass over every check
    (which SQLite's window functions make slow): the first removed check (the suspected
    one), the first reset after it, the first removed check at least confirm_after after it
    and before that reset (the one that confirms), the last online check before it.
    Confirmed at or after the request was sent: the times are the first run's. Confirmed
    before, or not confirmed, and no reset after it: no time (the removal stays confirmed,
    or there is no other run). Else lower_s UNDECIDED: a later run decides (_times)."""
    batch = [] if whole else [in_batch(facts.c.reported_url_id, dialect)]
    c = checks.alias("c")
    suspected, reset = checks.alias("suspected"), checks.alias("reset")
    order = (c.c.checked_at, c.c.id)
    first_removed = (select(c.c.id).where(c.c.reported_url_id == facts.c.reported_url_id,
                                         c.c.verdict == "removed")
                     .order_by(*order).limit(1).scalar_subquery())
    first = (select(facts.c.reported_url_id.label("url_id"), facts.c.first_request_id,
                    facts.c.sent_at, suspected.c.id, suspected.c.checked_at)
             .select_from(facts).join(suspected, suspected.c.id == first_removed)
             .where(*batch, facts.c.sent_at.is_not(None)).subquery("first"))
    first_reset = (select(c.c.id).where(c.c.reported_url_id == first.c.url_id,
                                        c.c.verdict.in_(RESETS), _after(c.c, first.c))
                   .order_by(*order).limit(1).scalar_subquery())
    confirm = bindparam("confirm_us", type_=BigInteger)
    confirming = (select(c.c.checked_at)
                  .where(c.c.reported_url_id == first.c.url_id, c.c.verdict == "removed",
                         _after(c.c, first.c),
                         _micros(c.c.checked_at, dialect)
                         >= _micros(first.c.checked_at, dialect) + confirm,
                         or_(reset.c.id.is_(None), ~_after(c.c, reset.c)))
                  .order_by(*order).limit(1).scalar_subquery())
    online_before = (select(c.c.checked_at)
                     .where(c.c.reported_url_id == first.c.url_id, c.c.verdict == "online",
                            ~_after(c.c, first.c))
                     .order_by(c.c.checked_at.desc(), c.c.id.desc()).limit(1)
                     .scalar_subquery())
    # Materialized, so that each time below is converted once (SQLite would convert it
    # again wherever a flattened subquery's column is named).
    sent_us = _micros(first.c.sent_at, dialect)
    greatest = func.greatest if dialect == "postgresql" else func.max
    runs = (select(first.c.url_id, first.c.first_request_id, sent_us.label("sent_us"),
                   reset.c.id.label("reset_id"),
                   _flag(confirming >= first.c.sent_at).label("decided"),
                   (greatest(_micros(first.c.checked_at, dialect) - sent_us, 0) // MICRO)
                   .label("upper_s"),
                   (greatest(func.coalesce(_micros(online_before, dialect), sent_us) - sent_us,
                             0) // MICRO).label("lower_s"))
            .select_from(first).outerjoin(reset, reset.c.id == first_reset)
            .cte("first_runs").prefix_with("MATERIALIZED"))
    return _set_first_run_times(runs, dialect)


def _set_first_run_times(runs: CTE, dialect: str) -> Any:
    """The UPDATE of _first_run_times, from its first runs."""
    decided = runs.c.decided.is_(True)
    in_time = and_(facts.c.state.in_(RATE_STATES),
                   runs.c.sent_us + runs.c.upper_s * MICRO <= _deadline_us(dialect))
    candidates = (select(runs.c.url_id, runs.c.decided, runs.c.upper_s, runs.c.lower_s,
                         _flag(in_time).label("within"))
                  .select_from(runs)
                  .join(facts, facts.c.reported_url_id == runs.c.url_id)
                  .join(requests, requests.c.id == runs.c.first_request_id)
                  .outerjoin(platforms, platforms.c.id == requests.c.platform_id)
                  .where(or_(decided, runs.c.reset_id.is_not(None)))
                  .subquery("candidates"))
    least = func.least if dialect == "postgresql" else func.min
    is_decided = candidates.c.decided.is_(True)
    return (update(facts)
            .where(facts.c.reported_url_id == candidates.c.url_id)
            .values(upper_s=case((is_decided, candidates.c.upper_s)),
                    lower_s=case((is_decided, least(candidates.c.lower_s,
                                                    candidates.c.upper_s)),
                                 else_=literal(UNDECIDED, BigInteger)),
                    within_deadline=and_(is_decided, candidates.c.within.is_(True))))


def _runs(dialect: str, whole: bool) -> CTE:
    """Per notified URL of the batch and run (the checks after a reset: online, restricted
    or invalid), the run's removed checks: the first (suspected), the last, how many, the
    last before the request was sent and how many before, and the last online check before
    the run (the same for every check of a run: an online check starts a new one).
    One window pass over the checks that matter, in time order."""
    window: dict[str, Any] = {"partition_by": checks.c.reported_url_id,
                              "order_by": (checks.c.checked_at, checks.c.id), "rows": (None, 0)}
    is_reset = case((checks.c.verdict.in_(RESETS), 1), else_=0)
    online_at = case((checks.c.verdict == "online", checks.c.checked_at))
    # The batch said of the checks too on PostgreSQL, which then reads them from their index
    # even when the facts' statistics are older than the batch (a first fold). Not on
    # SQLite: it already does, and a statement holds at most 32,766 parameters.
    # ``whole``: every fact is the batch's (insert_all_facts).
    batch = [] if whole else [in_batch(facts.c.reported_url_id, dialect)]
    undecided = [facts.c.lower_s == UNDECIDED] if dialect == "sqlite" else []
    twice = ([in_batch(checks.c.reported_url_id, dialect)]
             if batch and dialect == "postgresql" else [])
    ordered = (select(checks.c.reported_url_id.label("url_id"), checks.c.checked_at,
                      checks.c.verdict, facts.c.sent_at,
                      func.sum(is_reset).over(**window).label("run"),
                      func.max(online_at).over(**window).label("last_online"))
               .select_from(facts)
               .join(checks, checks.c.reported_url_id == facts.c.reported_url_id)
               .where(*batch, *twice, *undecided,
                      facts.c.sent_at.is_not(None),
                      checks.c.verdict.in_((*RESETS, "removed")))
               .subquery("ordered"))
    before = ordered.c.checked_at < ordered.c.sent_at
    return (select(ordered.c.url_id, ordered.c.run,
                   func.min(ordered.c.checked_at).label("suspected"),
                   func.max(ordered.c.checked_at).label("last"), func.count().label("count"),
                   func.max(case((before, ordered.c.checked_at))).label("last_before"),
                   func.sum(case((before, 1), else_=0)).label("count_before"),
                   func.max(ordered.c.last_online).label("online_before"))
            .where(ordered.c.verdict == "removed")
            .group_by(ordered.c.url_id, ordered.c.run).cte("runs"))


@functools.cache
def _times(dialect: str, whole: bool = False) -> Any:
    """upper_s, lower_s and within_deadline of the notified URLs (facts.removal_interval):
    the first run whose removal is confirmed (a later removed check at least confirm_after
    after the suspected one) at or after the request was sent, i.e. none of its removed
    checks before the request, but the suspected one, comes confirm_after after it."""
    runs = _runs(dialect, whole)
    confirm = bindparam("confirm_us", type_=BigInteger)
    suspected_us = _micros(runs.c.suspected, dialect)
    confirmed = and_(
        runs.c.count >= 2, _micros(runs.c.last, dialect) - suspected_us >= confirm,
        or_(runs.c.count_before < 2,
            _micros(runs.c.last_before, dialect) - suspected_us < confirm))
    sent_us = _micros(requests.c.sent_at, dialect)
    upper = _seconds_after(suspected_us, sent_us)
    lower = case((runs.c.online_before.is_(None), 0),
                 else_=_seconds_after(_micros(runs.c.online_before, dialect), sent_us))
    in_time = and_(facts.c.state.in_(RATE_STATES),
                   sent_us + upper * MICRO <= _deadline_us(dialect))
    pick = func.row_number().over(partition_by=runs.c.url_id, order_by=runs.c.run)
    candidates = (select(runs.c.url_id, upper.label("upper_s"), lower.label("lower_s"),
                         _flag(in_time).label("within"), pick.label("pick"))
                  .select_from(runs)
                  .join(facts, facts.c.reported_url_id == runs.c.url_id)
                  .join(requests, requests.c.id == facts.c.first_request_id)
                  .outerjoin(platforms, platforms.c.id == requests.c.platform_id)
                  .where(confirmed).subquery("candidates"))
    least = func.least if dialect == "postgresql" else func.min
    return (update(facts)
            .where(facts.c.reported_url_id == candidates.c.url_id, candidates.c.pick == 1)
            .values(upper_s=candidates.c.upper_s,
                    lower_s=least(candidates.c.lower_s, candidates.c.upper_s),
                    within_deadline=candidates.c.within))
