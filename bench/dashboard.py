"""Benchmark of the dashboard at scale (issue 8).

For each size (reported URLs, ten checks each) and each database (SQLite file, PostgreSQL
server): generate the data in bulk (executemany on SQLite, COPY on PostgreSQL), fold it into
the statistics cells (what the worker does as checks arrive; timed separately), then time

  refold  the steady state: URLs/s refolded after a change, in the worker's batches
  page    GET /console/dashboard/ through the Flask test client, logged in (median of 5)
  stats   `disrupt stats --json` run in-process with click's CliRunner (median of 3)

and print the growth ratio largest ÷ smallest size, and at the largest size the ratio
against the naive computation of the same figures (disrupt/dashboard/reference.py: every
URL, every request and the whole check log read), run once in the same process; the two
results are compared for equality.

    .venv/bin/python bench/dashboard.py --sizes 10000,100000          # quick
    .venv/bin/python bench/dashboard.py                               # 10k and 1M, both DBs

Goal: growth under 10x for 100x the data; the page at least 20x faster than the naive scan.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# Run as a script, sys.path[0] is bench/, whose modules (queue.py...) shadow the stdlib.
sys.path[0] = str(Path(__file__).resolve().parents[1])

START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 3 * 365 * 86400
NOW = datetime(2026, 1, 15, tzinfo=UTC)
CHECK_HOURS = (1, 6, 24, 48, 72, 96, 120, 144, 168, 192)
SENT_AFTER = timedelta(hours=2)
CONFIRM = timedelta(hours=1)
PLATFORMS = [("PicShare", 48, 30), ("ClipHub", 24, 20), ("Slowtube", 48, 12),
             ("Vidz", 48, 10), ("ForumX", 72, 10), ("ImgDump", 48, 8), ("TubeY", 24, 6),
             ("Chatty", 48, 4)]
BASES = [("dsa_art16", 70), ("take_it_down", 20), ("lcen_art6", 10)]
CHUNK = 20_000
PASSWORD = "bench passphrase 42"


def _patterns() -> list[tuple[tuple[str, ...], int]]:
    """Verdict sequences over CHECK_HOURS with their weights."""
    n = len(CHECK_HOURS)
    patterns = []
    for k in range(1, 8):  # removed from check k on, confirmed at k + 1
        patterns.append((("online",) * k + ("removed",) * (n - k), 10))
    patterns.append((("online",) * n, 15))
    patterns.append((("indeterminate",) * n, 5))
    patterns.append((("online",) * 4 + ("restricted",) * (n - 4), 3))
    patterns.append((("online", "online", "removed", "removed", "removed", "removed",
                      "removed", "online", "online", "online"), 4))  # reappeared
    patterns.append((("online",) * (n - 1) + ("removed",), 3))  # being confirmed
    patterns.append((("online", "indeterminate", "removed", "indeterminate", "removed")
                     + ("removed",) * (n - 5), 5))
    return patterns


def _replay(verdicts: tuple[str, ...]) -> dict[str, Any]:
    """The ReportedURL fields after these checks, from the real state machine, as offsets."""
    from disrupt.monitoring.states import apply_verdict

    url = SimpleNamespace(state="pending", check_count=0, last_checked_at=None,
                          state_reason=None, indeterminate_streak=0, last_seen_online_at=None,
                          first_seen_online_at=None, removal_suspected_at=None, removed_at=None,
                          reappeared=False, reappeared_at=None, picture_confirmed_at=None,
                          network_failing_since=None)
    for hours, verdict in zip(CHECK_HOURS, verdicts, strict=True):
        apply_verdict(url, verdict, now=START + timedelta(hours=hours), confirm_after=CONFIRM,
                      reason=verdict)
    fields = {k: v for k, v in vars(url).items() if k != "state_reason"}
    return {k: (v - START if isinstance(v, datetime) else v) for k, v in fields.items()}


def _defaults(table: Any, given: list[str]) -> dict[str, Any]:
    """Values for the columns not given: the column's scalar default, else NULL."""
    values = {}
    for column in table.columns:
        if column.name in given:
            continue
        default = column.default
        if default is not None and default.is_scalar:
            values[column.name] = default.arg
        elif column.nullable or column.primary_key:
            values[column.name] = None
        else:
            raise SystemExit(f"{table.name}.{column.name}: no value for a NOT NULL column")
    return {k: v for k, v in values.items() if not table.c[k].primary_key}


class Writer:
    """Bulk rows into one table: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, target: Any, table: Any, columns: list[str]) -> None:
        self.target, self.table = target, table
        extra = _defaults(table, columns)
        self.columns = columns + list(extra)
        self.extra = tuple(extra.values())

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        rows = [row + self.extra for row in rows]
        cols = ", ".join(f'"{c}"' for c in self.columns)
        if isinstance(self.target, sqlite3.Connection):
            marks = ", ".join("?" for _ in self.columns)
            self.target.executemany(
                f'INSERT INTO "{self.table.name}" ({cols}) VALUES ({marks})',
                [tuple(_sqlite_value(v) for v in row) for row in rows])
        else:
            with self.target.cursor() as cur, cur.copy(
                    f'COPY "{self.table.name}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        import json
        return json.dumps(value)
    return value


def generate(url: str, size: int, seed: int = 8) -> None:
    """Cases (3 URLs each), URLs, one request per notified URL (90 %), ten checks per URL."""
    from sqlalchemy import select

    import disrupt.schema  # noqa: F401
    from disrupt.accounts.services import create_user
    from disrupt.cases.models import Case, ReportedURL
    from disrupt.db import Database
    from disrupt.monitoring.models import URLCheck
    from disrupt.platforms.models import Platform, RemovalRequest, removal_request_urls
    from disrupt.platforms.services import add_platform

    rng = random.Random(seed)
    db = Database(url)
    with db.session() as session:
        for name, hours, _ in PLATFORMS:
            add_platform(session, name=name, domains=[f"{name.lower()}.test"],
                         deadline_hours=hours, contact=f"abuse@{name.lower()}.test")
        create_user(session, email="bench@example.org", name="Bench", password=PASSWORD,
                    role="caseworker", now=NOW)
        session.commit()
        platform_ids = [session.scalar(select(Platform.id).where(Platform.name == name))
                        for name, _, _ in PLATFORMS]
    db.dispose()
    deadlines = {pid: hours for pid, (_, hours, _) in zip(platform_ids, PLATFORMS, strict=True)}
    patterns = [(verdicts, _replay(verdicts)) for verdicts, _ in _patterns()]
    weights = [w for _, w in _patterns()]
    if url.startswith("sqlite"):
        target: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        target.execute("PRAGMA synchronous=OFF")
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(url)
        target = psycopg.connect(host=u.host, port=u.port or 5432, user=u.username,
                                 dbname=u.database)
    cases = Writer(target, Case.__table__, ["id", "reference", "status", "age_group",
                                            "created_at", "updated_at"])
    urls = Writer(target, ReportedURL.__table__, [
        "id", "case_id", "url", "host", "platform_id", "state", "reappeared", "check_count",
        "first_seen_online_at", "last_seen_online_at", "removal_suspected_at", "removed_at",
        "reappeared_at", "last_checked_at", "created_at"])
    requests = Writer(target, RemovalRequest.__table__, [
        "id", "case_id", "platform_id", "legal_basis", "language", "channel", "subject", "body",
        "idempotency_key", "status", "attempts", "created_at", "sent_at", "deadline_at"])
    links = Writer(target, removal_request_urls, ["request_id", "url_id"])
    checks = Writer(target, URLCheck.__table__, [
        "id", "reported_url_id", "due_at", "checked_at", "verdict", "reason", "detector_version",
        "http_status"])
    check_id = 0
    case_count = (size + 2) // 3
    for first in range(0, case_count, CHUNK):
        case_rows, url_rows, request_rows, link_rows, check_rows = [], [], [], [], []
        for case_id in range(first + 1, min(case_count, first + CHUNK) + 1):
            base = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
            roll = rng.random()
            status = "withdrawn" if roll < 0.03 else "erased" if roll < 0.05 else "in_progress"
            case_rows.append((case_id, f"B{case_id:010d}", status,
                              "minor" if rng.random() < 0.05 else "adult", base, base))
            for j in range(3):
                url_id = (case_id - 1) * 3 + j + 1
                if url_id > size:
                    break
                created = base + timedelta(minutes=j)
                platform_id = rng.choices(platform_ids, [w for _, _, w in PLATFORMS])[0]
                verdicts, final = rng.choices(patterns, weights)[0]
                at = {k: (created + v if isinstance(v, timedelta) else v)
                      for k, v in final.items()}
                url_rows.append((
                    url_id, case_id, f"https://example.test/{url_id}", "example.test",
                    platform_id, at["state"], at["reappeared"], at["check_count"],
                    at["first_seen_online_at"], at["last_seen_online_at"],
                    at["removal_suspected_at"], at["removed_at"], at["reappeared_at"],
                    at["last_checked_at"], created))
                for hours, verdict in zip(CHECK_HOURS, verdicts, strict=True):
                    check_id += 1
                    moment = created + timedelta(hours=hours)
                    check_rows.append((check_id, url_id, moment, moment, verdict, "b", "b",
                                       404 if verdict == "removed" else 200))
                if rng.random() < 0.9:
                    sent = created + SENT_AFTER
                    request_rows.append((
                        url_id, case_id, platform_id, rng.choices(
                            [b for b, _ in BASES], [w for _, w in BASES])[0], "en", "email",
                        "s", "b", uuid.UUID(int=rng.getrandbits(128)).hex,
                        "actioned" if at["state"] == "removed" else "sent", 1, sent, sent,
                        sent + timedelta(hours=deadlines[platform_id])))
                    link_rows.append((url_id, url_id))
        for writer, rows in ((cases, case_rows), (urls, url_rows), (requests, request_rows),
                             (links, link_rows), (checks, check_rows)):
            writer.write(rows)
        target.commit()
    # Every URL waits for its first fold (what dashboard.pending.queue_everything does).
    target.execute("INSERT INTO statistics_pending (reported_url_id) SELECT id FROM reported_urls")
    target.commit()
    if not isinstance(target, sqlite3.Connection):
        with target.cursor() as cur:
            for table in ("cases", "reported_urls", "removal_requests", "url_checks"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))")
        target.commit()
    target.close()


def analyze(url: str) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("ANALYZE")
        conn.close()
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(url)
        with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username,
                             dbname=u.database, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


def median_time(fn: Any, repeat: int) -> float:
    fn()  # warm the caches once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def refold(db: Any, config: Any, size: int) -> float:
    """The steady state: URLs already folded, changed and queued again, folded in the
    worker's batches (5,000). Every one changes (its `reappeared` flipped), so every one
    moves its cells; the naive comparison at the largest size covers the result."""
    from sqlalchemy import update

    from disrupt.cases.models import ReportedURL
    from disrupt.dashboard.jobs import fold_changed_urls
    from disrupt.dashboard.pending import queue_urls

    sample = random.Random(9).sample(range(1, size + 1), min(size // 2, 20_000))
    with db.session() as session:
        session.execute(update(ReportedURL).where(ReportedURL.id.in_(sample))
                        .values(reappeared=~ReportedURL.reappeared))
        queue_urls(session, sample)
        session.commit()
    started = time.perf_counter()
    folded = fold_changed_urls(db, config, batch=5000)
    assert folded == len(sample), (folded, len(sample))
    return folded / (time.perf_counter() - started)


def measure(url: str, workdir: Path, naive: bool) -> dict[str, float]:
    from click.testing import CliRunner

    from disrupt import create_app
    from disrupt.cli import cli
    from disrupt.dashboard.jobs import fold_changed_urls
    from disrupt.dashboard.reference import naive_statistics
    from disrupt.dashboard.services import takedown_statistics
    from tests.support.web import login

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(workdir / "instance"),
                      "TESTING": True})
    db = app.extensions["disrupt.db"]
    result: dict[str, float] = {}
    analyze(url)
    started = time.perf_counter()
    folded = fold_changed_urls(db, app.config)  # the job's own batches (jobs.batch_size)
    result["fold_s"] = time.perf_counter() - started
    result["folded"] = folded
    result["refold_urls_per_s"] = refold(db, app.config, folded)
    analyze(url)
    client = app.test_client()
    login(client, "bench@example.org", PASSWORD)

    def page() -> None:
        response = client.get("/console/dashboard/")
        assert response.status_code == 200, response.status_code

    result["page_s"] = median_time(page, 5)

    def service() -> None:
        with db.session() as session:
            takedown_statistics(session, now=NOW)

    result["service_s"] = median_time(service, 5)
    env = {"DISRUPT_DATABASE_URL": url, "DISRUPT_INSTANCE_PATH": str(workdir / "instance")}

    def stats_command() -> None:
        outcome = CliRunner().invoke(cli, ["stats", "--json"], env=env)
        assert outcome.exit_code == 0, outcome.output

    result["stats_s"] = median_time(stats_command, 3)
    if naive:
        with db.session() as session:
            started = time.perf_counter()
            slow = naive_statistics(session, now=NOW, confirm_after=CONFIRM)
            result["naive_s"] = time.perf_counter() - started
            fast = takedown_statistics(session, now=NOW)
        result["naive_equal"] = float(slow == fast)
    db.dispose()
    return result


def fresh_database(kind: str, size: int, workdir: Path, pg_admin: str) -> tuple[str, Any]:
    from disrupt.migrate import upgrade

    if kind == "sqlite":
        path = workdir / f"bench-{size}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        upgrade(url)
        return url, lambda: [Path(f"{path}{s}").unlink(missing_ok=True)
                             for s in ("", "-wal", "-shm")]
    import psycopg
    from sqlalchemy.engine import make_url

    admin_url = make_url(pg_admin)
    name = f"disrupt_bench_{size}_{uuid.uuid4().hex[:6]}"
    admin = psycopg.connect(host=admin_url.host, port=admin_url.port or 5432,
                            user=admin_url.username, dbname=admin_url.database, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)

    def drop() -> None:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,1000000",
                        help="comma-separated numbers of reported URLs")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-admin-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--workdir", help="folder for the SQLite files (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated databases")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="disrupt-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, int], dict[str, float]] = {}
    try:
        for kind in args.databases.split(","):
            for size in sizes:
                url, cleanup = fresh_database(kind, size, workdir, args.pg_admin_url)
                started = time.perf_counter()
                generate(url, size)
                generated = time.perf_counter() - started
                figures = measure(url, workdir, naive=size == sizes[-1])
                figures["generate_s"] = generated
                results[(kind, size)] = figures
                line = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
                print(f"{kind:10} {size:>9,} URLs ({size * 10:,} checks): {line}", flush=True)
                if not args.keep:
                    cleanup()
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    small, large = sizes[0], sizes[-1]
    for kind in args.databases.split(","):
        a, b = results.get((kind, small)), results.get((kind, large))
        if not a or not b:
            continue
        print(f"{kind}: page {a['page_s'] * 1000:.1f} ms -> {b['page_s'] * 1000:.1f} ms, "
              f"growth x{b['page_s'] / a['page_s']:.2f} for x{large / small:.0f} data; "
              f"`disrupt stats` {a['stats_s'] * 1000:.1f} ms -> {b['stats_s'] * 1000:.1f} ms, "
              f"growth x{b['stats_s'] / a['stats_s']:.2f}")
        if "naive_s" in b:
            print(f"{kind}: at {large:,} URLs the naive scan takes {b['naive_s']:.2f} s: the "
                  f"page is x{b['naive_s'] / b['page_s']:.0f} faster, the service call "
                  f"x{b['naive_s'] / b['service_s']:.0f}; same figures: "
                  f"{'yes' if b['naive_equal'] else 'NO'}")


if __name__ == "__main__":
    main()
