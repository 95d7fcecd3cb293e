"""`disrupt demo` in a fresh folder: within a minute the takedown rate comes from real checks
of the simulated platforms (5 of 6 notified URLs removed, Slowtube never acts)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from disrupt.demo.simulator import free_port


@pytest.mark.slow
def test_demo_shows_a_takedown_rate_from_real_checks(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    result = subprocess.run(
        [sys.executable, "-m", "disrupt", "demo", "--duration", "45",
         "--port", str(free_port()), "--instance", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Caseworker console" in out and "password" in out
    final = [line for line in out.splitlines() if line.startswith("takedown rate")][-1]
    assert re.search(r"takedown rate 83\.3 %: removed 5, online 1\b", final), out[-2000:]
    assert (tmp_path / "demo" / "demo.sqlite3").exists()
    # What the platforms' mailboxes received is kept for the evaluator to read.
    notices = sorted((tmp_path / "demo" / "mail").glob("notice-*.eml"))
    assert len(notices) >= 2, out[-2000:]
    assert "Subject:" in notices[0].read_text() and notices[0].stat().st_mode & 0o077 == 0
    assert f"{tmp_path / 'demo' / 'mail'}" in out and "/console/demo/mail/" in out


def test_a_second_demo_on_a_busy_port_fails_before_touching_anything(tmp_path):
    import socket

    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    instance = tmp_path / "demo"
    instance.mkdir()
    (instance / "demo.sqlite3").write_bytes(b"the first demo's database")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "disrupt", "demo", "--duration", "5", "--port", str(port),
             "--instance", str(instance)],
            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
        )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port} is in use" in lines[0], lines
    assert "password" not in result.stdout
    assert (instance / "demo.sqlite3").read_bytes() == b"the first demo's database"
