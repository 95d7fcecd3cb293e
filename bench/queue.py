"""Queue page time at 1,000 and 100,000 cases (SQLite file, or PostgreSQL with --postgres).

Prints the median time of the queue page (counts per filter + one page of 50), through the
service and through the web route, and the ratio 100k / 1k. A benchmark, not a test.

    .venv/bin/python bench/queue.py [--postgres] [--sizes 1000,100000]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import disrupt.models  # noqa: E402,F401
from disrupt.accounts.models import User  # noqa: E402
from disrupt.accounts.services import enrol_totp  # noqa: E402
from disrupt.cases.models import Case, ReportedURL  # noqa: E402
from disrupt.console.queue import QueueFilter, Viewer, queue_page  # noqa: E402
from disrupt.db import Database, utcnow  # noqa: E402
from disrupt.migrate import upgrade  # noqa: E402
from disrupt.platforms.models import Platform, RemovalRequest  # noqa: E402
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
        cases, urls, requests = [], [], []
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
                "created_at": created, "updated_at": created})
            for j in range(rng.randrange(1, 4)):
                urls.append({"case_id": i, "url": f"https://h{i % 97}.test/{i}/{j}",
                             "host": f"h{i % 97}.test", "platform_id": rng.randrange(1, 21),
                             "reported_by": "victim", "state": "online", "reappeared": False,
                             "check_count": 0, "indeterminate_streak": 0, "created_at": created})
            if status == "in_progress" and rng.random() < 0.5:
                sent = created + timedelta(hours=1)
                requests.append({
                    "case_id": i, "platform_id": rng.randrange(1, 21), "legal_basis": "dsa_art16",
                    "language": "en", "channel": "email", "subject": "s", "body": "b",
                    "idempotency_key": uuid.uuid4().hex,
                    "status": rng.choice(["sent", "acknowledged", "actioned"]), "attempts": 1,
                    "created_at": created, "sent_at": sent,
                    "deadline_at": sent + timedelta(hours=48)})
        for table, rows in ((Case, cases), (ReportedURL, urls), (RemovalRequest, requests)):
            for k in range(0, len(rows), 5000):
                s.execute(insert(table), rows[k:k + 5000])
        s.commit()


def median_ms(fn, repeat: int = 7) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def measure(url: str, n: int, tmp: Path) -> dict[str, float]:
    from disrupt import create_app

    upgrade(url)
    db = Database(url)
    seed(db, n)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
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
                results[n] = measure(f"sqlite:///{tmp / f'bench{n}.sqlite3'}", n, tmp)
    base, top = sizes[0], sizes[-1]
    print(f"queue page, median of 7 ({'PostgreSQL' if args.postgres else 'SQLite'})")
    for label in results[base]:
        a, b = results[base][label], results[top][label]
        print(f"  {label:<36} {base:>7,} cases {a:8.1f} ms   {top:>7,} cases {b:8.1f} ms"
              f"   ratio {b / a:5.1f}")


if __name__ == "__main__":
    main()
