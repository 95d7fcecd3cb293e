"""deploy/ (issue 19): the systemd units pass `systemd-analyze verify`, and the Caddyfile
serves the app through real Caddy in front of real gunicorn started with the unit's own
command line (HTTP on loopback here: TLS needs a public name)."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from disrupt.demo.simulator import free_port
from tests.support.apps import make_test_app

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
VENV = Path(sys.executable).parent.parent
UNITS = ("disrupt-web.service", "disrupt-worker.service")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required under CI (.ci/run installs it)")
        pytest.skip(f"{name} not installed (apt-get install -y {name})")
    return path


def _render(text: str) -> str:
    return text.replace("/opt/disrupt/.venv", str(VENV))


@pytest.mark.parametrize("unit", UNITS)
def test_units_verify(unit, tmp_path):
    analyze = _tool("systemd-analyze")
    rendered = tmp_path / unit
    rendered.write_text(_render((DEPLOY / unit).read_text()))
    done = subprocess.run([analyze, "verify", str(rendered)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert not re.search(r"Unknown (key|section)|not executable|Failed", done.stderr), \
        done.stderr


def _exec_start(unit: str) -> list[str]:
    line = next(line for line in (DEPLOY / unit).read_text().splitlines()
                if line.startswith("ExecStart="))
    return shlex.split(_render(line.removeprefix("ExecStart=")))


def _wait(url: str, seconds: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_caddy_in_front_of_gunicorn_as_the_units_start_it(sqlite_url, tmp_path):
    caddy = _tool("caddy")
    app = make_test_app(sqlite_url, tmp_path)
    app.extensions["disrupt.db"].dispose()
    command = _exec_start("disrupt-web.service")
    bind = command[command.index("--bind") + 1]
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert f"reverse_proxy {bind}" in caddyfile, "the unit and the Caddyfile disagree"
    app_port, site_port = free_port(), free_port()
    command[command.index("--bind") + 1] = f"127.0.0.1:{app_port}"
    command[command.index("--workers") + 1] = "2"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    env.update({"DISRUPT_DATABASE_URL": sqlite_url,
                "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance"),
                "DISRUPT_PROXY_FIX_HOPS": "1", "DISRUPT_METRICS_TOKEN": "t" * 32,
                "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
                "XDG_CONFIG_HOME": str(tmp_path / "xdg-config")})
    site = tmp_path / "Caddyfile"
    site.write_text("{\n\tadmin off\n}\n" + caddyfile.replace(bind, f"127.0.0.1:{app_port}"))
    web = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                           stderr=open(tmp_path / "web.log", "wb"))  # noqa: SIM115
    proxy = subprocess.Popen([caddy, "run", "--config", str(site), "--adapter", "caddyfile"],
                             env={**env, "DISRUPT_DOMAIN": f"http://127.0.0.1:{site_port}"},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(f"http://127.0.0.1:{app_port}/healthz")
        health = _wait(f"http://127.0.0.1:{site_port}/healthz")
        assert health.status_code == 503 and health.json()["problems"][0]["code"] == "no_worker"
        assert health.headers.get("X-Request-ID") and "Server" not in health.headers
        portal = httpx.get(f"http://127.0.0.1:{site_port}/", timeout=5)
        assert portal.status_code == 200 and "Leave this site" in portal.text
        # metrics only from the machine itself, never through the proxy
        assert httpx.get(f"http://127.0.0.1:{site_port}/metrics", timeout=5).status_code == 404
        direct = httpx.get(f"http://127.0.0.1:{app_port}/metrics", timeout=5,
                           headers={"Authorization": "Bearer " + "t" * 32})
        assert direct.status_code == 200 and "disrupt_up 0" in direct.text
    finally:
        for process in (proxy, web):
            process.terminate()
            process.wait(timeout=20)
    log = (tmp_path / "web.log").read_text()
    assert '"endpoint": "operations.healthz"' in log  # the app's JSON request log
    assert "GET /healthz" not in log  # and no access log with paths


def test_caddyfile_validates_for_a_real_name():
    caddy = _tool("caddy")
    done = subprocess.run([caddy, "validate", "--config", str(DEPLOY / "Caddyfile"),
                           "--adapter", "caddyfile"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DISRUPT_DOMAIN": "hotline.example.org"})
    assert done.returncode == 0 and "Valid configuration" in done.stdout + done.stderr, \
        done.stderr
