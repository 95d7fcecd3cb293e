"""Moving the statistics cells by a set of facts, in SQL: `INSERT … SELECT … GROUP BY … ON
CONFLICT DO UPDATE` over ``takedown_facts``, one per table, instead of one upsert row per
cell built in Python. The facts are summed once per day and cohort, the weeks and months
from those sums. The fold subtracts the facts it replaces and adds the new ones in the same
upsert, one per table.

The SQL says what facts.py says in Python (``takedown_contribution``,
``funnel_contribution``): the reference computation and the tests compare both."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql import ColumnElement

from disrupt.cases.models import URL_STATES
from disrupt.dashboard.models import (
    BUCKET_EDGES_HOURS,
    FUNNEL_COUNTERS,
    LOWER_COLUMNS,
    TAKEDOWN_COUNTERS,
    UPPER_COLUMNS,
    TakedownFact,
    funnel_cells,
    takedown_cells,
)
from disrupt.db import in_id_list, upsert_insert

TAKEDOWN_KEY = ("grain", "day", "platform_id", "legal_basis", "minor", "case_group")
FUNNEL_KEY = ("grain", "day", "platform_id", "minor", "case_group")
facts = TakedownFact.__table__
# The facts a fold replaces, until it has moved the cells (stash_old_facts). Not in the
# schema's metadata: a temporary table, created by the connection that uses it.
old_facts = Table("fold_old_facts", MetaData(),
                  *[Column(c.name, c.type) for c in facts.columns],
                  prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def in_batch(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the batch's ``url_ids`` parameter (db.in_id_list)."""
    return in_id_list(column, dialect, "url_ids")


def _period_start(day: ColumnElement[Any], grain: str, dialect: str) -> ColumnElement[Any]:
    """The first day of the grain's period holding ``day`` (ISO weeks start on Monday)."""
    if grain == "d":
        return day
    if dialect == "postgresql":
        return cast(func.date_trunc("week" if grain == "w" else "month", day),
                    facts.c.sent_day.type)
    if grain == "w":
        back = (cast(func.strftime("%w", day), Integer) + 6) % 7
        return func.date(day, literal("-") + cast(back, sqlite.TEXT) + literal(" days"))
    return func.date(day, "start of month")


def _year(day: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.extract("year", day), Integer)
    return cast(func.strftime("%Y", day), Integer)


def _bucket(seconds: ColumnElement[Any], timed: ColumnElement[bool]) -> ColumnElement[Any]:
    """facts.bucket_of(seconds) in SQL, -1 when not timed: computed once per fact, so that
    each histogram column compares one number."""
    edges = [edge * 3600 for edge in BUCKET_EDGES_HOURS]
    return case((~timed, -1), *[(seconds <= edge, index) for index, edge in enumerate(edges)],
                else_=len(edges))


def _count(condition: ColumnElement[bool], sign: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, sign), else_=0)), 0)


def _takedown_counters(f: Any) -> dict[str, ColumnElement[Any]]:
    """The counters of the signed facts ``f`` (facts.takedown_contribution times f.sign),
    whose times are summed already (``upper_sum``, ``lower_sum``: see _signed)."""
    timed = f.upper_bucket >= 0
    counters: dict[str, ColumnElement[Any]] = {"urls": func.sum(f.sign)}
    counters.update({state: _count(f.state == state, f.sign) for state in URL_STATES})
    counters["reappeared"] = _count(f.reappeared.is_(True), f.sign)
    counters["timed"] = _count(timed, f.sign)
    counters["within_deadline"] = _count(f.within_deadline.is_(True), f.sign)
    counters["upper_sum_s"] = func.coalesce(func.sum(f.upper_sum), 0)
    counters["lower_sum_s"] = func.coalesce(func.sum(f.lower_sum), 0)
    for index, name in enumerate(UPPER_COLUMNS):
        counters[name] = _count(f.upper_bucket == index, f.sign)
    for index, name in enumerate(LOWER_COLUMNS):
        counters[name] = _count(f.lower_bucket == index, f.sign)
    assert tuple(counters) == TAKEDOWN_COUNTERS
    return counters


def _funnel_counters(f: Any) -> dict[str, ColumnElement[Any]]:
    notified = f.sent_at.is_not(None)
    return {"reported": func.sum(f.sign),
            "verified": _count(f.verified.is_(True), f.sign),
            "notified": _count(notified, f.sign),
            "removed": _count(and_(notified, f.state == "removed"), f.sign)}


def _upsert(dialect: str, table: Table, key: tuple[str, ...], counters: Sequence[str],
            source: Any, greatest: Sequence[str] = (), whole: bool = False) -> Any:
    columns = [c.name for c in source.selected_columns]
    if whole:
        return insert(table).from_select(columns, source)
    statement = upsert_insert(dialect, table).from_select(columns, source)
    excluded = statement.excluded
    values: dict[str, Any] = {name: table.c[name] + excluded[name] for name in counters}
    bigger = func.greatest if dialect == "postgresql" else func.max
    values.update({name: bigger(table.c[name], excluded[name]) for name in greatest})
    return statement.on_conflict_do_update(index_elements=list(key), set_=values)


def stash_old_facts(session: Session, url_ids: Sequence[int]) -> None:
    """Copy the current facts of ``url_ids`` into ``fold_old_facts`` (a temporary table, one
    per connection), before the fold replaces them: ``move_cells`` subtracts them, then
    empties it (and PostgreSQL truncates it at commit: temporary tables are not vacuumed)."""
    dialect = _dialect(session)
    session.execute(CreateTable(old_facts, if_not_exists=True))
    session.execute(insert(old_facts).from_select(
        [c.name for c in facts.columns],
        select(*facts.columns).where(in_batch(facts.c.reported_url_id, dialect))),
        {"url_ids": list(url_ids)})


def move_cells(session: Session, url_ids: Sequence[int]) -> None:
    """Move every grain of both cell tables by the facts of ``url_ids`` minus the stashed
    old facts (``stash_old_facts``): one upsert per table, old and new summed together, so
    that a cell is written once, and not at all when its old and new facts cancel out."""
    for statement in _statements(_dialect(session)):
        session.execute(statement, {"url_ids": list(url_ids)})
    session.execute(delete(old_facts))


def insert_all_cells(session: Session) -> None:
    """Write both cell tables, empty, from every fact: plain inserts, nothing to subtract."""
    for statement in _statements(_dialect(session), whole=True):
        session.execute(statement)


# The fact columns each cell table reads.
TAKEDOWN_READS = ("sent_day", "platform_id", "legal_basis", "minor", "case_group", "state",
                  "reappeared", "upper_s", "lower_s", "within_deadline", "deadline_epoch")
# Summed (or the latest) when the facts are grouped (_every_fact).
TIMES = ("upper_s", "lower_s", "deadline_epoch")
FUNNEL_READS = ("created_day", "url_platform_id", "minor", "case_group", "verified",
                "sent_at", "state")


def _signed(dialect: str, names: Sequence[str], notified_only: bool, name: str,
            whole: bool) -> Any:
    """The batch's new facts (``sign`` 1) and the stashed old ones (-1), only ``names``
    (SQLite copies every column of a UNION's rows); the notified ones with their histogram
    buckets and their times times the sign (``upper_sum``, ``lower_sum``). ``whole``:
    every fact instead (_every_fact)."""
    if whole:
        return _every_fact(names, notified_only, name)
    parts = []
    for table, sign in ((facts, 1), (old_facts, -1)):
        conditions = [in_batch(table.c.reported_url_id, dialect)] if sign > 0 else []
        if not notified_only:
            parts.append(select(*[table.c[n] for n in names],
                                literal(sign).label("sign")).where(*conditions))
            continue
        keys, buckets = _keys_and_buckets(table, names)
        parts.append(select(*keys, *buckets, literal(sign).label("sign"),
                            (table.c.upper_s * sign).label("upper_sum"),
                            (table.c.lower_s * sign).label("lower_sum"),
                            table.c.deadline_epoch)
                     .where(*conditions, table.c.sent_at.is_not(None)))
    return union_all(*parts).subquery(name)


def _every_fact(names: Sequence[str], notified_only: bool, name: str) -> Any:
    """insert_all_cells' source: every fact, none stashed, and the notified ones grouped by
    all they are counted by (``sign`` how many, their times summed, their latest deadline),
    so that the many sums per cell read fewer rows, each bucket computed once (SQLite would
    compute the bucket of a fact again in each of its 48 sums)."""
    if not notified_only:
        return select(*[facts.c[n] for n in names], literal(1).label("sign")).subquery(name)
    keys, buckets = _keys_and_buckets(facts, names)
    return (select(*keys, *buckets, func.count().label("sign"),
                   func.sum(facts.c.upper_s).label("upper_sum"),
                   func.sum(facts.c.lower_s).label("lower_sum"),
                   func.max(facts.c.deadline_epoch).label("deadline_epoch"))
            .where(facts.c.sent_at.is_not(None))
            # buckets first: SQLite would read the facts by the day's index, in no order
            # of the table, for the order of the groups
            .group_by(*buckets, *keys)
            .subquery(name))


def _keys_and_buckets(table: Table, names: Sequence[str]) -> tuple[list[Any], list[Any]]:
    """A notified fact's columns but its times, and the histogram buckets of its times."""
    timed = table.c.upper_s.is_not(None)
    return ([table.c[n] for n in names if n not in TIMES],
            [_bucket(table.c.upper_s, timed).label("upper_bucket"),
             _bucket(table.c.lower_s, timed).label("lower_bucket")])


@functools.cache
def _statements(dialect: str, whole: bool = False) -> tuple[Any, ...]:
    """Two upserts, one per cell table, built once per process. Each sums the signed facts
    (new +1, old -1) once per day and cohort (a CTE) and the three grains from those day
    sums (UNION ALL), instead of one pass over the facts per grain."""
    f = _signed(dialect, TAKEDOWN_READS, True, "signed", whole).c
    counters = _takedown_counters(f)
    # A cell's deadline only grows (GREATEST): new facts whose latest deadline is not past
    # the old ones' move nothing (the cell already holds the old ones').
    new_deadline = func.coalesce(func.max(case((f.sign > 0, f.deadline_epoch))), 0)
    old_deadline = func.coalesce(func.max(case((f.sign < 0, f.deadline_epoch))), 0)
    takedown_days = _by_day(
        dialect, [f.sent_day.label("day"), f.platform_id, f.legal_basis, f.minor, f.case_group],
        {"max_deadline_epoch": new_deadline, **counters}, "takedown_days",
        moved=[*counters.values(), case((new_deadline > old_deadline, 1), else_=0)])
    g = _signed(dialect, FUNNEL_READS, False, "signed", whole).c
    funnel = _funnel_counters(g)
    funnel_days = _by_day(
        dialect,
        [g.created_day.label("day"), g.url_platform_id.label("platform_id"), g.minor,
         g.case_group], funnel, "funnel_days", moved=list(funnel.values()))
    return (
        _upsert(dialect, takedown_cells, TAKEDOWN_KEY, TAKEDOWN_COUNTERS,
                _rollup(takedown_days, dialect, TAKEDOWN_COUNTERS, ("max_deadline_epoch",)),
                greatest=("max_deadline_epoch",), whole=whole),
        _upsert(dialect, funnel_cells, FUNNEL_KEY, FUNNEL_COUNTERS,
                _rollup(funnel_days, dialect, FUNNEL_COUNTERS), whole=whole),
    )


def _by_day(dialect: str, keys: list[Any], values: dict[str, ColumnElement[Any]], name: str,
            moved: list[ColumnElement[Any]]) -> Any:
    """The day sums (``keys[0]`` the day), with the day's week and month, without the days
    and cohorts that nothing in ``moved`` moves."""
    day = keys[0].element
    return (select(*keys, _period_start(day, "w", dialect).label("week"),
                   _period_start(day, "m", dialect).label("month"),
                   *[value.label(column) for column, value in values.items()])
            .group_by(*keys).having(or_(*[m != 0 for m in moved])).cte(name))


def _rollup(days: Any, dialect: str, counters: Sequence[str],
            greatest: Sequence[str] = ()) -> Any:
    """The cells of the three grains from the day sums: the days as they are, one GROUP BY
    per week and per month (of the day sums' week and month: the date functions run once
    per day sum, not once per grain)."""
    cohort = [c for c in days.c
              if c.name not in ("day", "week", "month", *counters, *greatest)]
    parts = [select(literal("d").label("grain"), days.c.day, days.c.week, days.c.month,
                    _year(days.c.day, dialect).label("year"), *cohort,
                    *[days.c[name] for name in (*greatest, *counters)])]
    for grain, start in (("w", days.c.week), ("m", days.c.month)):
        week = start if grain == "w" else _period_start(start, "w", dialect)
        month = start if grain == "m" else _period_start(start, "m", dialect)
        parts.append(select(literal(grain).label("grain"), start.label("day"),
                            week.label("week"), month.label("month"),
                            _year(start, dialect).label("year"), *cohort,
                            *[func.max(days.c[name]).label(name) for name in greatest],
                            *[func.sum(days.c[name]).label(name) for name in counters])
                     .group_by(start, *cohort))
    return union_all(*parts)
