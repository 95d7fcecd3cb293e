"""The app factory and configuration: defaults, instance/config.py, DISRUPT_* variables."""
from __future__ import annotations

import stat

import pytest
from sqlalchemy import text

from disrupt import create_app
from disrupt.config import SETTINGS, from_environment


def test_defaults_live_in_the_instance_folder(tmp_path, monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(f"DISRUPT_{name}", raising=False)
    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_PATH": str(instance)})
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'disrupt.sqlite3'}"
    assert app.config["OUTBOX_DIR"] == str(instance / "outbox")
    assert app.config["MAIL_TRANSPORT"] == "outbox"
    assert app.config["ALLOW_LOOPBACK"] is False
    key_file = instance / "secret_key"
    assert key_file.read_text() == app.config["SECRET_KEY"] and len(app.config["SECRET_KEY"]) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (instance / "data_key").exists()
    again = create_app({"INSTANCE_PATH": str(instance)})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]
    assert again.config["DATA_KEY"] == app.config["DATA_KEY"]


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    with app.extensions["disrupt.db"].engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_instance_config_then_environment_then_mapping(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        'ORGANISATION_NAME = "From file"\nCHECK_TIMEOUT = 3.0\nSMTP_PORT = 2525\n')
    monkeypatch.setenv("DISRUPT_CHECK_TIMEOUT", "7.5")
    monkeypatch.setenv("DISRUPT_TRUSTED_FLAGGER", "yes")
    monkeypatch.setenv("DISRUPT_TIME_SCALE", "1/3600")
    app = create_app({"INSTANCE_PATH": str(instance), "SMTP_PORT": 2626})
    assert app.config["ORGANISATION_NAME"] == "From file"
    assert app.config["CHECK_TIMEOUT"] == 7.5
    assert app.config["TRUSTED_FLAGGER"] is True
    assert app.config["TIME_SCALE"] == pytest.approx(1 / 3600)
    assert app.config["SMTP_PORT"] == 2626


def test_bad_environment_value_is_named():
    with pytest.raises(ValueError, match="DISRUPT_SMTP_PORT='twenty-five' is not a valid int"):
        from_environment({"DISRUPT_SMTP_PORT": "twenty-five"})


def test_database_url_switches_to_postgresql(tmp_path, monkeypatch):
    monkeypatch.setenv("DISRUPT_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.extensions["disrupt.db"].engine.dialect.name == "postgresql"


def test_every_setting_is_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [name for name in SETTINGS if f"`DISRUPT_{name}`" not in readme]
    assert not missing, f"README settings table lacks {missing}"


def test_pages_carry_security_headers_and_no_third_party_url(client):
    for path in ("/", "/case/new", "/case/follow", "/console/login"):
        response = client.get(path)
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert "<script>" not in html and " style=" not in html
        for attr in ('src="http', "src='http", 'href="//', '<link rel="stylesheet" href="http'):
            assert attr not in html, (path, attr)


def test_only_the_hash_worker_may_compile_webassembly(client):
    for path in ("/", "/case/new", "/static/js/hashing/hashing.js"):
        assert "wasm" not in client.get(path).headers["Content-Security-Policy"], path
    worker = client.get("/static/js/hashing/hash-worker.js")
    assert worker.status_code == 200
    policy = worker.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in policy and "unsafe-eval'" not in \
        policy.replace("'wasm-unsafe-eval'", "")
