"""Moving the statistics cells by a set of facts, in SQL: `INSERT … SELECT … GROUP BY … ON
CONFLICT DO UPDATE` over ``takedown_facts``, one per table, instead of one upsert row per
cell built in Python. The facts are summed once per day and cohort, the weeks and months
from those sums. The fold subtracts the facts it replaces and adds the new ones; a fold
from scratch is one grouped insert per table.

The SQL says what facts.py says in Python (``takedown_contribution``,
``funnel_contribution``): the reference computation and the tests compare both."""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Table,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
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

GRAINS = ("d", "w", "m")
TAKEDOWN_KEY = ("grain", "day", "platform_id", "legal_basis", "minor", "case_group")
FUNNEL_KEY = ("grain", "day", "platform_id", "minor", "case_group")
facts = TakedownFact.__table__


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def in_batch(column: ColumnElement[Any], dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the ``url_ids`` parameter (a list): one array parameter on
    PostgreSQL (``= ANY``: parsing and planning thousands of IN parameters costs more than
    the statement), an expanded IN list on SQLite (no arrays)."""
    if dialect == "postgresql":
        return column == any_(bindparam("url_ids", type_=postgresql.ARRAY(BigInteger)))
    return column.in_(bindparam("url_ids", expanding=True))


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


def _in_bucket(seconds: ColumnElement[Any], index: int) -> ColumnElement[bool]:
    """facts.bucket_of(seconds) == index in SQL: above the previous edge (in hours), not
    above this one. Two comparisons per column, not a CASE over every edge."""
    edges = [edge * 3600 for edge in BUCKET_EDGES_HOURS]
    above = seconds > edges[index - 1] if index > 0 else None
    if index == len(edges):
        assert above is not None
        return above
    below = seconds <= edges[index]
    return below if above is None else and_(above, below)


def _count(condition: ColumnElement[bool], sign: int) -> ColumnElement[Any]:
    return sign * func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _takedown_counters(sign: int) -> dict[str, ColumnElement[Any]]:
    timed = facts.c.upper_s.is_not(None)
    counters: dict[str, ColumnElement[Any]] = {"urls": sign * func.count()}
    counters.update({state: _count(facts.c.state == state, sign) for state in URL_STATES})
    counters["reappeared"] = _count(facts.c.reappeared.is_(True), sign)
    counters["timed"] = _count(timed, sign)
    counters["within_deadline"] = _count(facts.c.within_deadline.is_(True), sign)
    counters["upper_sum_s"] = sign * func.coalesce(func.sum(facts.c.upper_s), 0)
    counters["lower_sum_s"] = sign * func.coalesce(func.sum(facts.c.lower_s), 0)
    for index, name in enumerate(UPPER_COLUMNS):
        counters[name] = _count(and_(timed, _in_bucket(facts.c.upper_s, index)), sign)
    for index, name in enumerate(LOWER_COLUMNS):
        counters[name] = _count(and_(timed, _in_bucket(facts.c.lower_s, index)), sign)
    assert tuple(counters) == TAKEDOWN_COUNTERS
    return counters


def _funnel_counters(sign: int) -> dict[str, ColumnElement[Any]]:
    notified = facts.c.sent_at.is_not(None)
    return {"reported": sign * func.count(),
            "verified": _count(facts.c.verified.is_(True), sign),
            "notified": _count(notified, sign),
            "removed": _count(and_(notified, facts.c.state == "removed"), sign)}


def _upsert(dialect: str, table: Table, key: tuple[str, ...], counters: Sequence[str],
            source: Any, greatest: Sequence[str] = ()) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    columns = [c.name for c in source.selected_columns]
    statement = module.insert(table).from_select(columns, source)
    excluded = statement.excluded
    values: dict[str, Any] = {name: table.c[name] + excluded[name] for name in counters}
    bigger = func.greatest if dialect == "postgresql" else func.max
    values.update({name: bigger(table.c[name], excluded[name]) for name in greatest})
    return statement.on_conflict_do_update(index_elements=list(key), set_=values)


def move_cells(session: Session, url_ids: Sequence[int] | None, sign: int) -> None:
    """Add (``sign`` 1) or subtract (-1) the current facts of ``url_ids`` (all facts when
    None) to or from every grain of both cell tables."""
    statements = _statements(_dialect(session), sign, url_ids is not None)
    parameters = {"url_ids": list(url_ids)} if url_ids is not None else {}
    for statement in statements:
        session.execute(statement, parameters)


@functools.cache
def _statements(dialect: str, sign: int, chosen_ids: bool) -> tuple[Any, ...]:
    """Two upserts, one per cell table, built once per process and kind. Each sums the
    facts once per day and cohort (a CTE) and the three grains from those day sums
    (UNION ALL), instead of one pass over the facts per grain."""
    chosen = in_batch(facts.c.reported_url_id, dialect) if chosen_ids else literal(True)
    deadline = func.max(facts.c.deadline_epoch) if sign > 0 else literal(0)
    takedown_days = _by_day(
        and_(chosen, facts.c.sent_at.is_not(None)),
        [facts.c.sent_day.label("day"), facts.c.platform_id, facts.c.legal_basis,
         facts.c.minor, facts.c.case_group],
        {"max_deadline_epoch": deadline, **_takedown_counters(sign)}, "takedown_days")
    funnel_days = _by_day(
        chosen, [facts.c.created_day.label("day"), facts.c.url_platform_id.label("platform_id"),
                 facts.c.minor, facts.c.case_group], _funnel_counters(sign), "funnel_days")
    return (
        _upsert(dialect, takedown_cells, TAKEDOWN_KEY, TAKEDOWN_COUNTERS,
                _rollup(takedown_days, dialect, TAKEDOWN_COUNTERS, ("max_deadline_epoch",)),
                greatest=("max_deadline_epoch",)),
        _upsert(dialect, funnel_cells, FUNNEL_KEY, FUNNEL_COUNTERS,
                _rollup(funnel_days, dialect, FUNNEL_COUNTERS)),
    )


def _by_day(condition: ColumnElement[bool], keys: list[Any],
            values: dict[str, ColumnElement[Any]], name: str) -> Any:
    return (select(*keys, *[value.label(column) for column, value in values.items()])
            .where(condition).group_by(*keys).cte(name))


def _rollup(days: Any, dialect: str, counters: Sequence[str],
            greatest: Sequence[str] = ()) -> Any:
    """The cells of the three grains from the day sums: one GROUP BY per grain."""
    cohort = [c for c in days.c if c.name != "day" and c.name not in (*counters, *greatest)]
    parts = []
    for grain in GRAINS:
        keys = _period_keys(days.c.day, grain, dialect) + cohort
        parts.append(select(literal(grain).label("grain"), *keys,
                            *[func.max(days.c[name]).label(name) for name in greatest],
                            *[func.sum(days.c[name]).label(name) for name in counters])
                     .group_by(*keys))
    return union_all(*parts)


def _period_keys(day: ColumnElement[Any], grain: str, dialect: str) -> list[Any]:
    """The cell's day (its period's first day) and the week, month and year of that day."""
    start = _period_start(day, grain, dialect)
    return [start.label("day"), _period_start(start, "w", dialect).label("week"),
            _period_start(start, "m", dialect).label("month"),
            _year(start, dialect).label("year")]
