"""One transaction boundary per request (issue 15): the request's session is committed when
the response succeeds and rolled back otherwise; GET handlers write nothing but the record
of the reading; modules documented as never committing do not commit."""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest
from flask import abort
from sqlalchemy import MetaData, func, select

from disrupt.cases.models import Case
from disrupt.db import utcnow
from disrupt.platforms.models import Platform
from disrupt.platforms.services import add_platform
from disrupt.request import READING_RECORDS, commits_refusals, db_session
from disrupt.victims.services import open_case
from tests.support.staff import staff_client
from tests.support.web import post_form

PACKAGE = Path(__file__).resolve().parents[1] / "disrupt"
# Touched on every request by the login check, in its own short transaction.
SESSION_TABLES = {"web_sessions"}


def _commit_calls(path: Path) -> list[int]:
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "commit"]


def test_services_and_politeness_never_commit():
    modules = [*PACKAGE.rglob("services.py"), PACKAGE / "monitoring" / "politeness.py"]
    assert len(modules) >= 8
    found = {str(p.relative_to(PACKAGE)): lines for p in modules if (lines := _commit_calls(p))}
    assert not found, f"commit() in modules that never commit: {found}"


def _route_app(app):
    """Test routes on the app, added before its first request."""
    def add(name: str) -> Platform:
        platform = Platform(name=name)
        db_session().add(platform)
        return platform

    @app.post("/_t/ok")
    def _ok():
        add("committed")
        return "ok"

    @app.post("/_t/refused")
    def _refused():
        add("refused")
        return "no", 400

    @app.post("/_t/aborted")
    def _aborted():
        add("aborted")
        abort(403)

    @app.post("/_t/recorded")
    @commits_refusals
    def _recorded():
        add("recorded")
        return "counted", 429

    @app.post("/_t/raises")
    @commits_refusals
    def _raises():
        add("raised")
        db_session().flush()
        raise RuntimeError("boom")

    @app.get("/_t/get-writes")
    def _get_writes():
        add("from a GET")
        return "wrote"


def _platform_names(db) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(Platform.name)))


def test_the_boundary_commits_success_and_rolls_back_refusals(app, db):
    _route_app(app)
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    assert client.post("/_t/ok").status_code == 200
    assert client.post("/_t/refused").status_code == 400
    assert client.post("/_t/aborted").status_code == 403
    assert client.post("/_t/recorded").status_code == 429
    with pytest.raises(RuntimeError):
        client.post("/_t/raises")
    assert _platform_names(db) == {"committed", "recorded"}
    with pytest.raises(AssertionError, match="wrote to"):
        client.get("/_t/get-writes")
    assert "from a GET" not in _platform_names(db)


def _snapshot(db) -> dict[str, tuple[int, str]]:
    """Rows and a checksum of the rows of every table but the reading records."""
    metadata = MetaData()
    out = {}
    with db.engine.connect() as conn:
        metadata.reflect(conn)
        for table in metadata.sorted_tables:
            if table.name in READING_RECORDS | SESSION_TABLES | {"alembic_version"}:
                continue
            rows = sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            count = conn.scalar(select(func.count()).select_from(table))
            out[table.name] = (count, hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


def _get_paths(app, ids: dict[str, int]) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = rule.rule
        for name in rule.arguments:
            if name not in ids:
                break
            path = path.replace(f"<int:{name}>", str(ids[name]))
        else:
            if "<" not in path:
                paths.append(path)
    return paths


def test_no_get_route_writes(app, db):
    with db.session() as s:
        add_platform(s, name="PicShare", domains=["picshare.test"], contact="abuse@x.test")
        case, secret = open_case(s, age_group="adult", language="en", consent_notices=True,
                                 consent_hash_sharing=False, contact=None,
                                 urls=["https://picshare.test/a.jpg"], hashes=[],
                                 cipher=app.extensions["disrupt.cipher"], now=utcnow())
        s.commit()
        ids = {"case_id": case.id, "year": utcnow().year}
        reference = case.reference
    staff = staff_client(app, "admin@example.org", "admin")
    victim = app.test_client()
    answer = post_form(victim, "/case/follow", {"reference": reference, "secret": secret})
    assert answer.status_code == 302
    paths = _get_paths(app, ids)
    assert len(paths) >= 20 and f"/console/cases/{case.id}" in paths
    before = _snapshot(db)
    assert before["cases"][0] == 1
    answered = []
    for path in paths:
        client = victim if not path.startswith(("/console", "/api")) else staff
        try:
            response = client.get(path)
        except AssertionError:  # the boundary saw the GET write
            raise
        except Exception:  # noqa: BLE001 - a page that fails is other tests' business
            response = None
        assert _snapshot(db) == before, f"GET {path} changed a table"
        if response is not None and response.status_code != 500:
            answered.append(path)
    assert len(answered) >= 20, answered
    with db.session() as s:
        assert s.get(Case, case.id) is not None
