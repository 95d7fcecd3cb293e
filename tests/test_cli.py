"""The `disrupt` command: one clear line and a non-zero exit on bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(
    *args: str, env: dict[str, str] | None = None, tmp_path=None
) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    if tmp_path is not None:
        full_env["DISRUPT_INSTANCE_PATH"] = str(tmp_path / "instance")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "disrupt", *args], capture_output=True,
                          text=True, env=full_env, timeout=120)


@pytest.mark.parametrize(("args", "code", "message"), [
    (("bogus",), 2, "No such command 'bogus'"),
    (("stats",), 2, "Missing option '--json'"),
    (("hash", "--json"), 2, "Missing argument 'FILES...'"),
    (("stats", "--json", "--since", "yesterday"), 2, "is not a date like 2026-01-31"),
    (("web", "--port", "0"), 2, "0 is not in the range 1<=x<=65535"),
    (("create-user", "--email", "a@b.org", "--role", "boss", "--password", "x" * 12), 2,
     "'boss' is not one of"),
])
def test_usage_errors_are_one_line(args, code, message, tmp_path):
    result = run(*args, tmp_path=tmp_path)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("disrupt: ") and message in lines[0], lines


def test_init_create_user_and_failures(tmp_path):
    result = run("init", "--admin-email", "admin@example.org", "--admin-password",
                 "a long enough password", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "admin admin@example.org created" in result.stdout
    again = run("create-user", "--email", "admin@example.org", "--password", "another password!",
                tmp_path=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == "disrupt: a user with e-mail admin@example.org already exists"
    short = run("create-user", "--email", "cw@example.org", "--password", "short",
                tmp_path=tmp_path)
    assert short.returncode == 1 and "password too short" in short.stderr
    ok = run("create-user", "--email", "cw@example.org", "--password", "a fine passphrase",
             tmp_path=tmp_path)
    assert ok.returncode == 0 and "caseworker cw@example.org created" in ok.stdout


def test_stats_json_on_empty_database_and_unknown_platform(tmp_path):
    assert run("init", "--no-admin", tmp_path=tmp_path).returncode == 0
    result = run("stats", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["overall"]["takedown_rate"] is None and figures["platforms"] == []
    missing = run("stats", "--json", "--platform", "Nowhere", tmp_path=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "disrupt: no platform named 'Nowhere'"


def test_refold_statistics_rebuilds_figures_whose_tables_were_lost(tmp_path):
    from sqlalchemy import text

    from disrupt.db import Database, utcnow
    from disrupt.listeners import connect
    from disrupt.platforms.services import add_platform
    from tests.support.factories import make_case, make_request

    assert run("init", "--no-admin", tmp_path=tmp_path).returncode == 0
    connect()
    db = Database(f"sqlite:///{tmp_path / 'instance' / 'disrupt.sqlite3'}")
    with db.session() as s:
        platform = add_platform(s, name="PicShare", domains=["picshare.test"],
                                contact="abuse@picshare.test")
        s.flush()
        case = make_case(s, now=utcnow(), urls=["https://picshare.test/1",
                                                "https://picshare.test/2"],
                         platform_id=platform.id)
        make_request(s, case, platform, case.urls, sent_at=utcnow())
        s.commit()
    before = json.loads(run("stats", "--json", tmp_path=tmp_path).stdout)
    assert before["overall"]["urls_notified"] == 2
    with db.session() as s:  # a restore that brought the cases but old statistics
        for table in ("takedown_cells", "funnel_cells", "takedown_facts"):
            s.execute(text(f"DELETE FROM {table}"))
        s.commit()
    db.dispose()
    lost = json.loads(run("stats", "--json", tmp_path=tmp_path).stdout)
    assert lost["overall"]["urls_notified"] == 0
    result = run("refold-statistics", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 URLs queued, 2 folded"
    after = json.loads(run("stats", "--json", tmp_path=tmp_path).stdout)
    assert {**after, "generated_at": None} == {**before, "generated_at": None}


def test_bad_setting_is_one_line(tmp_path):
    result = run("stats", "--json", env={"DISRUPT_CHECK_TIMEOUT": "soon"}, tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "disrupt: DISRUPT_CHECK_TIMEOUT='soon' is not a valid float"


def test_hash_missing_file_and_unsupported_file(tmp_path):
    missing = run("hash", str(tmp_path / "nope.jpg"), "--json", tmp_path=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip().endswith("nope.jpg: no such file")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not an image")
    unsupported = run("hash", str(text_file), "--json", tmp_path=tmp_path)
    assert unsupported.returncode == 1 and "notes.txt" in unsupported.stderr
    assert unsupported.stdout == ""


def test_hash_prints_one_json_object_per_file(tmp_path):
    from PIL import Image

    paths = []
    for i, colour in enumerate(((200, 10, 10), (10, 200, 10))):
        path = tmp_path / f"picture{i}.png"
        image = Image.new("RGB", (40, 30), colour)
        image.putpixel((3, 4), (0, 0, 0))
        image.save(path)
        paths.append(str(path))
    result = run("hash", *paths, "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objects) == 2
    assert set(objects[0]) == {"pdq", "pdq_quality", "phash", "sha256", "width", "height",
                               "pipeline"}
    assert (objects[0]["width"], objects[0]["height"]) == (40, 30)


def test_check_url_json(tmp_path):
    from disrupt.demo.simulator import SimulatedPlatform

    platform = SimulatedPlatform("Local").start()
    try:
        url = platform.host_media("/a.jpg", b"\xff\xd8 not really a jpeg")
        env = {"DISRUPT_ALLOW_LOOPBACK": "1"}
        online = json.loads(run("check-url", url, "--json", env=env, tmp_path=tmp_path).stdout)
        assert online["verdict"] == "online" and online["http_status"] == 200
        gone = json.loads(run("check-url", platform.url("/gone.jpg"), "--json", env=env,
                              tmp_path=tmp_path).stdout)
        assert gone["verdict"] == "removed" and gone["http_status"] == 404
        refused = run("check-url", url, "--json", tmp_path=tmp_path)
        assert json.loads(refused.stdout)["verdict"] == "invalid"
        bad = run("check-url", "javascript:alert(1)", "--json", tmp_path=tmp_path)
        assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    finally:
        platform.stop()


@pytest.mark.parametrize("args", [
    ("stats", "--json"),
    ("totp-code", "someone@example.org"),
    ("reset-2fa", "someone@example.org"),
    ("run-checks",),
    ("platforms", "export"),
    ("report", "--year", "2026", "--json"),
])
def test_commands_on_an_instance_never_initialised_say_so_and_create_nothing(args, tmp_path):
    result = run(*args, tmp_path=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("disrupt: no initialised instance at "), lines
    assert "disrupt init" in lines[0]
    assert not (tmp_path / "instance").exists()


def test_a_database_without_the_schema_is_refused_in_one_line(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "secret_key").write_text("k" * 64)
    from cryptography.fernet import Fernet

    (instance / "data_key").write_text(Fernet.generate_key().decode())
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    result = run("stats", "--json", tmp_path=tmp_path,
                 env={"DISRUPT_DATABASE_URL": f"sqlite:///{empty}"})
    assert result.returncode == 1
    assert result.stderr.strip() == "disrupt: the database is empty: run `disrupt init` first"


def test_check_url_without_a_case_needs_no_instance(tmp_path):
    result = run("check-url", "http://[::1", "--json", tmp_path=tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("disrupt: ")
    assert not (tmp_path / "instance").exists()
