"""The demo prints what a newcomer needs to log in, second factor included: log in to the
running demo with the printed password and a code from the printed key, and run the printed
`totp-code` command."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time

import httpx
import pytest

from disrupt.accounts import totp
from disrupt.db import utcnow
from disrupt.demo.simulator import free_port
from tests.support.web import CSRF_RE


def _token(response: httpx.Response) -> str:
    match = CSRF_RE.search(response.text)
    assert match, response.text[:1000]
    return match.group(1) or match.group(2)


@pytest.mark.slow
def test_demo_banner_logs_a_caseworker_in(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISRUPT_")}
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "disrupt", "demo", "--duration", "60", "--port", str(port),
         "--instance", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)
    try:
        banner = ""
        deadline = time.monotonic() + 60
        while "Ctrl-C" not in banner and time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            banner += line
        email, password = re.search(r"caseworker  (\S+)  password (\S+)", banner).groups()
        key = re.search(r"caseworker  ([A-Z2-7]{4}(?: [A-Z2-7]{4})+)\n", banner).group(1)
        command = re.search(r"^\s+(DISRUPT_INSTANCE_PATH=.* totp-code) \S+$", banner,
                            re.MULTILINE).group(1)

        printed = subprocess.run(shlex.split(command.split(" ", 2)[2]) + [email],
                                 env={**env, **dict(v.split("=", 1)
                                                    for v in command.split(" ")[:2])},
                                 capture_output=True, text=True, timeout=60)
        assert printed.returncode == 0, printed.stderr
        step = totp.time_step(utcnow())
        secret = key.replace(" ", "")
        assert printed.stdout.strip() in {totp.code_at(secret, step + d) for d in (-1, 0, 1)}

        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as client:
            for _ in range(100):
                try:
                    page = client.get("/console/login")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            response = client.post("/console/login", data={
                "email": email, "password": password, "csrf_token": _token(page)})
            assert response.status_code == 302, response.text[:500]
            page = client.get("/console/login/code")
            code = totp.code_at(secret, totp.time_step(utcnow()))
            response = client.post("/console/login/code",
                                   data={"code": code, "csrf_token": _token(page)})
            assert response.status_code == 302, response.text[:500]
            queue = client.get("/console/")
            assert queue.status_code == 200 and "DSR-" in queue.text
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
