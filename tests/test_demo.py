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
