"""Upgrades (issue 19): a database at the first released schema (revision 0002, what ran before
this round's changes), filled as that version filled it, upgraded in place by `disrupt init`,
keeps every row and gets sensible values in every new column — on SQLite and PostgreSQL.

Every later migration must pass this: a new NOT NULL column needs a server default or a data
step, a new rule must not lose a row."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from disrupt.accounts.models import AuditEvent, User
from disrupt.cases.models import Case, MediaHash, ReportedURL
from disrupt.db import Database, make_engine
from disrupt.migrate import upgrade
from disrupt.monitoring.models import URLCheck
from disrupt.platforms.models import Platform, RemovalRequest
from tests.support.apps import make_test_app

FIRST_RELEASED = "0002"
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).isoformat(sep=" ")


def _fill_first_schema(url: str) -> None:
    """Rows written with the columns revision 0002 had, as that code wrote them."""
    engine = make_engine(url)
    statements = [
        ("INSERT INTO users (id, email, name, password_hash, role, active, failed_logins, "
         "created_at, session_nonce) VALUES (1, 'cw@example.org', 'Casey', 'x', 'caseworker', "
         "true, 0, :at, 'n1')"),
        ("INSERT INTO platforms (id, name, channel, deadline_hours, trusted_flagger, "
         "default_legal_basis, removal_rules) VALUES (1, 'PicShare', 'email', 48, false, "
         "'dsa_art16', '{}')"),
        ("INSERT INTO cases (id, reference, secret_hash, status, age_group, reporter, language, "
         "consent_notices, consent_hash_sharing, priority, created_at, updated_at) VALUES "
         "(1, 'DSR-OLD-1', 'h', 'in_progress', 'adult', 'self', 'fr', true, true, 0, :at, :at), "
         "(2, 'DSR-OLD-2', 'h', 'withdrawn', 'minor', 'self', 'en', true, false, 2, :at, :at)"),
        ("INSERT INTO media_hashes (id, case_id, kind, pdq, pdq_quality, sha256, pipeline, "
         "status, created_at) VALUES (1, 1, 'image', :pdq, 80, :sha, 'p1', 'active', :at)"),
        ("INSERT INTO reported_urls (id, case_id, url, host, platform_id, reported_by, state, "
         "reappeared, check_count, indeterminate_streak, created_at, stats_dirty, removed_at, "
         "removal_suspected_at) VALUES "
         "(1, 1, 'https://picshare.test/p/1', 'picshare.test', 1, 'victim', 'removed', false, "
         "2, 0, :at, true, :at, :at), "
         "(2, 1, 'https://picshare.test/p/2', 'picshare.test', 1, 'victim', 'online', false, "
         "1, 0, :at, true, NULL, NULL), "
         # removed by a rule that rules-3 changed: to be confirmed again
         "(3, 1, 'https://picshare.test/p/3', 'picshare.test', 1, 'victim', 'removed', false, "
         "2, 0, :at, true, :at, :at)"),
        ("INSERT INTO reported_urls (id, case_id, url, host, platform_id, reported_by, state, "
         "state_reason, reappeared, check_count, indeterminate_streak, created_at, stats_dirty) "
         "VALUES (4, 1, 'https://gone.test/p/4', 'gone.test', NULL, 'victim', 'invalid', "
         "'guard: Could not resolve gone.test', false, 1, 0, :at, true)"),
        ("INSERT INTO url_checks (id, reported_url_id, due_at, checked_at, verdict, rule, reason, "
         "truncated, detector_version) VALUES "
         "(1, 1, :at, :at, 'removed', 'status_removed', 'HTTP 404', false, 'rules-2'), "
         "(2, 2, :at, :at, 'online', 'media_match', 'PDQ distance 3', false, 'rules-2'), "
         "(3, 3, :at, :at, 'removed', 'media_replaced', 'another picture', false, 'rules-2')"),
        ("INSERT INTO removal_requests (id, case_id, platform_id, legal_basis, language, channel, "
         "subject, body, idempotency_key, status, attempts, created_at, sent_at) VALUES "
         "(1, 1, 1, 'dsa_art16', 'fr', 'email', 'Notice', 'body', 'key-1', 'sent', 1, :at, :at)"),
        "INSERT INTO removal_request_urls (request_id, url_id) VALUES (1, 1), (1, 2)",
        ("INSERT INTO audit_events (id, at, actor_id, actor_kind, action, record_type, "
         "record_id, case_id, detail) VALUES (1, :at, 1, 'user', 'view_case', 'cases', 1, 1, "
         "'{}')"),
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"at": AT, "pdq": "ab" * 32, "sha": "cd" * 32})
        if engine.dialect.name == "postgresql":  # the ids above were given by hand
            for table in ("users", "platforms", "cases", "media_hashes", "reported_urls",
                          "url_checks", "removal_requests", "audit_events"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    engine.dispose()


def test_init_upgrades_the_first_released_schema_in_place(database_url, tmp_path):
    if database_url.startswith("postgresql"):
        engine = make_engine(database_url)
        with engine.begin() as conn:  # start from nothing: the fixture built head already
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        os.remove(database_url.removeprefix("sqlite:///"))
    upgrade(database_url, FIRST_RELEASED)
    _fill_first_schema(database_url)
    make_test_app(database_url, tmp_path).extensions["disrupt.db"].dispose()  # the keys
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    env.update({"DISRUPT_DATABASE_URL": database_url,
                "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")})
    done = subprocess.run([sys.executable, "-m", "disrupt", "init", "--no-admin"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    db = Database(database_url)
    try:
        with db.session() as session:
            counts = {model.__tablename__: session.scalar(select(func.count())
                                                          .select_from(model))
                      for model in (User, Platform, Case, MediaHash, ReportedURL, URLCheck,
                                    RemovalRequest, AuditEvent)}
            assert counts == {"users": 1, "platforms": 1, "cases": 2, "media_hashes": 1,
                              "reported_urls": 4, "url_checks": 3, "removal_requests": 1,
                              "audit_events": 1}
            case = session.get(Case, 1)
            assert (case.reference, case.language, case.status) == ("DSR-OLD-1", "fr",
                                                                    "in_progress")
            request = session.get(RemovalRequest, 1)
            assert sorted(u.id for u in request.urls) == [1, 2] and request.status == "sent"
            assert session.get(MediaHash, 1).sha256 == "cd" * 32
            assert json.dumps(session.get(AuditEvent, 1).detail) == "{}"
            # Detector rules-3: a removal by HTTP status stands; one by a picture that did
            # not match is confirmed again before it counts; a DNS failure is checked again;
            # a picture seen matching before is remembered.
            by_404, online, replaced, unresolved = (session.get(ReportedURL, i)
                                                    for i in (1, 2, 3, 4))
            assert by_404.state == "removed" and by_404.picture_confirmed_at is None
            assert online.picture_confirmed_at is not None
            assert replaced.state == "removal_suspected" and replaced.removed_at is None
            assert replaced.removal_suspected_at is not None and replaced.next_check_at
            assert unresolved.state == "indeterminate" and unresolved.next_check_at
            # every row of every table can be read back through the models of head
            for model in (User, Platform, Case, MediaHash, ReportedURL, URLCheck,
                          RemovalRequest, AuditEvent):
                list(session.scalars(select(model)))
    finally:
        db.dispose()
    stats = subprocess.run([sys.executable, "-m", "disrupt", "stats", "--json"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert stats.returncode == 0, stats.stderr
