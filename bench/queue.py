"""Queue page time at 1,000 and 100,000 cases (SQLite file, or PostgreSQL with --postgres);
`--sizes 1000,100000,1000000` for the issue's goal (under 50 ms at 100k, 100 ms at 1M).

Prints the median time of the queue page (counts per filter + one page of 50), through the
service and through the web route, and the ratio 100k / 1k. A benchmark, not a test.

    .venv/bin/python bench/queue.py [--postgres] [--analyze] [--sizes 1000,100000,1000000]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

# This file is named queue.py: its folder must not shadow the standard library's queue
# (psycopg imports it), so the repository root takes the folder's place on the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import disrupt.schema  # noqa: E402,F401
from disrupt.accounts.models import User  # noqa: E402
from disrupt.accounts.services import enrol_totp  # noqa: E402
from disrupt.cases.models import Case, ReportedURL  # noqa: E402
from disrupt.cases.tallies import recount  # noqa: E402
from disrupt.console.queue import QueueFilter, Viewer, queue_page  # noqa: E402
from disrupt.db import Database, utcnow  # noqa: E402
from disrupt.migrate import upgrade  # noqa: E402
from disrupt.platforms.models import (  # noqa: E402
    Platform,
    RemovalRequest,
    removal_request_urls,
)
from disrupt.security import hash_secret  # noqa: E402
from tests.support.web import login  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def seed(db: Database, n: int) -> None:
    rng = random.Random(n)
    now = utcnow()
    with db.session() as s:
        s.execute(insert(User), [
            {"email": f"cw{i}@bench.test", "name": f"cw{i}", "password_hash": "x",
             "role": "caseworker", "active": True, "failed_logins": 0, "created_at": now,
             "session_nonce": uuid.uuid4().hex} for i in range(10)])
        s.execute(insert(Platform), [
            {"name": f"P{i}", "channel": "email", "deadline_hours": 48, "trusted_flagger": False,
             "default_legal_basis": "dsa_art16", "removal_rules": {}} for i in range(20)])
        cases: list[dict] = []
        urls: list[dict] = []
        requests: list[dict] = []
        links: list[dict] = []
        for i in range(1, n + 1):
            created = now - timedelta(minutes=rng.randrange(60 * 24 * 365))
            status = rng.choices(["new", "in_progress", "closed"], [2, 3, 5])[0]
            minor = rng.random() < 0.05
            cases.append({
                "id": i, "reference": f"DSR-{i:08d}", "status": status,
                "age_group": "minor" if minor else "adult", "language": "en",
                "consent_notices": True, "consent_hash_sharing": False,
                "priority": 2 if minor else (1 if rng.random() < 0.1 else 0),
                "assignee_id": rng.choice([None, None, *range(1, 11)]),
                "created_at": created, "updated_at": created, "waiting_deadline": None,
                "overdue_from": None})
            first_url = len(urls) + 1
            for j in range(rng.randrange(1, 4)):
                urls.append({"id": len(urls) + 1, "case_id": i,
                             "url": f"https://h{i % 97}.test/{i}/{j}",
                             "host": f"h{i % 97}.test", "platform_id": rng.randrange(1, 21),
                             "reported_by": "victim", "state": "online", "reappeared": False,
                             "check_count": 0, "indeterminate_streak": 0, "created_at": created})
            if status == "in_progress" and rng.random() < 0.5:
                sent = created + timedelta(hours=1)
                requests.append({
                    "id": len(requests) + 1, "case_id": i, "platform_id": rng.randrange(1, 21),
                    "legal_basis": "dsa_art16",
                    "language": "en", "channel": "email", "subject": "s", "body": "b",
                    "idempotency_key": uuid.uuid4().hex,
                    "status": rng.choice(["sent", "acknowledged", "actioned"]), "attempts": 1,
                    "created_at": created, "sent_at": sent,
                    "deadline_at": sent + timedelta(hours=48)})
                links.extend({"request_id": len(requests), "url_id": u}
                             for u in range(first_url, len(urls) + 1))
                if requests[-1]["status"] != "actioned":  # what cases.tallies keeps
                    # every address is online: the request is overdue once its deadline passed
                    cases[-1]["waiting_deadline"] = sent + timedelta(hours=48)
                    cases[-1]["overdue_from"] = sent + timedelta(hours=48)
        for table, rows in ((Case.__table__, cases), (ReportedURL.__table__, urls),
                            (RemovalRequest.__table__, requests), (removal_request_urls, links)):
            for k in range(0, len(rows), 5000):
                s.execute(insert(table), rows[k:k + 5000])
        recount(s)  # bulk inserts bypass the ORM that keeps the tallies
        s.commit()


def median_ms(fn, repeat: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(url: str, n: int, tmp: Path, analyze: bool = False) -> dict[str, float]:
    from disrupt import create_app

    upgrade(url)
    db = Database(url)
    started = time.perf_counter()
    seed(db, n)
    print(f"seeded {n:,} cases in {time.perf_counter() - started:.0f} s", flush=True)
    # DISRUPT never runs ANALYZE on SQLite (PostgreSQL's autovacuum does): neither does the
    # benchmark unless --analyze. (Before, its ANALYZE ran inside a transaction rolled back.)
    if db.engine.dialect.name == "postgresql" or analyze:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    now = utcnow()
    out = {}
    for label, viewer, where in (
        ("caseworker, open", Viewer(user_id=1, sees_all=False), QueueFilter()),
        ("supervisor, open", Viewer(user_id=1, sees_all=True), QueueFilter()),
        ("supervisor, minors+overdue", Viewer(user_id=1, sees_all=True),
         QueueFilter(priority="minor", overdue=True)),
    ):
        def run(viewer: Viewer = viewer, where: QueueFilter = where) -> None:
            with db.session() as s:
                queue_page(s, where, viewer, now)
        out[f"service: {label}"] = median_ms(run)

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / f"inst{n}"),
                      "TESTING": True})
    client = app.test_client()
    with db.session() as s:
        user = s.get(User, 1)
        user.password_hash = hash_secret("bench password 1")
        enrol_totp(s, user, app.extensions["disrupt.cipher"], utcnow())
        s.commit()
        email = user.email
    login(client, email, "bench password 1")

    def page() -> None:
        response = client.get("/console/")
        assert response.status_code == 200, response.status_code

    out["web: GET /console/ (caseworker)"] = median_ms(page)
    app.extensions["disrupt.db"].dispose()
    db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--analyze", action="store_true",
                        help="SQLite: give the query planner statistics (DISRUPT does not)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n in sizes:
            if args.postgres:
                import psycopg

                name = f"disrupt_bench_{uuid.uuid4().hex[:8]}"
                admin = psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                                        autocommit=True)
                admin.execute(f'CREATE DATABASE "{name}"')
                try:
                    results[n] = measure(f"postgresql+psycopg://postgres@127.0.0.1/{name}", n, tmp)
                finally:
                    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                    admin.close()
            else:
                results[n] = measure(f"sqlite:///{tmp / f'bench{n}.sqlite3'}", n, tmp,
                                     analyze=args.analyze)
    base, top = sizes[0], sizes[-1]
    engine = "PostgreSQL" if args.postgres else \
        "SQLite" + (" with ANALYZE" if args.analyze else "")
    print(f"queue page, median of 7 ({engine})")
    for label in results[base]:
        figures = "   ".join(f"{n:>9,} cases {results[n][label]:7.1f} ms" for n in sizes)
        ratio = results[top][label] / results[base][label]
        print(f"  {label:<36} {figures}   ratio {top:,}/{base:,} {ratio:5.1f}")


if __name__ == "__main__":
    main()
