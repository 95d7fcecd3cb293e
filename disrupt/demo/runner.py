"""`disrupt demo`: SQLite, simulated platforms, the web app and the worker on one machine,
with every interval compressed (hours become seconds)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from disrupt.db import utcnow
from disrupt.demo.simulator import NoticeMailbox, SimulatedPlatform

TIME_SCALE = "1/3600"


def _status_line(db) -> str:  # type: ignore[no-untyped-def]
    from disrupt.dashboard.services import takedown_statistics

    with db.session() as session:
        overall = takedown_statistics(session, now=utcnow())["overall"]
    rate = overall["takedown_rate"]
    shown = "—" if rate is None else f"{rate * 100:.1f} %"
    return (f"takedown rate {shown}: removed {overall['removed']}, online {overall['online']}, "
            f"being confirmed {overall['removal_suspected']}, "
            f"not checked yet {overall['pending']}")


class DemoError(Exception):
    """The demo cannot start or stopped on its own; one line for the user."""


def ensure_port_free(host: str, port: int) -> None:
    """Before anything is wiped or printed: a second demo must not take over the first's
    instance folder and print logins for a server that is not its own."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DemoError(f"{host}:{port} is in use ({exc.strerror}): is another demo "
                            "running? Stop it, or choose another port with --port") from exc


def run_demo(*, port: int, instance: Path, duration: float | None = None,
             host: str = "127.0.0.1") -> None:
    """Run until Ctrl-C or ``duration``; raises DemoError if a demo process stops on its own."""
    from disrupt import create_app
    from disrupt.accounts.totp import format_secret
    from disrupt.db import utcnow
    from disrupt.demo.seed import seed_demo
    from disrupt.migrate import upgrade
    from disrupt.platforms.services import Notifier

    ensure_port_free(host, port)
    instance.mkdir(parents=True, exist_ok=True)
    for leftover in instance.glob("demo.sqlite3*"):
        leftover.unlink()
    shutil.rmtree(instance / "outbox", ignore_errors=True)
    shutil.rmtree(instance / "mail", ignore_errors=True)

    mailbox = NoticeMailbox(folder=instance / "mail").start()
    platforms = {
        "PicShare": SimulatedPlatform("PicShare", ip="127.0.0.2", takedown_after=8).start(),
        "ClipHub": SimulatedPlatform("ClipHub", ip="127.0.0.3", takedown_after=15).start(),
        "Slowtube": SimulatedPlatform("Slowtube", ip="127.0.0.4", takedown_after=None).start(),
    }
    env = {
        **os.environ,
        "DISRUPT_INSTANCE_PATH": str(instance),
        "DISRUPT_DATABASE_URL": f"sqlite:///{instance / 'demo.sqlite3'}",
        "DISRUPT_ALLOW_LOOPBACK": "1",
        "DISRUPT_TIME_SCALE": TIME_SCALE,
        "DISRUPT_MAIL_TRANSPORT": "smtp",
        "DISRUPT_SMTP_HOST": "127.0.0.1",
        "DISRUPT_SMTP_PORT": str(mailbox.port),
        "DISRUPT_WORKER_TICK_SECONDS": "1",
        "DISRUPT_STATS_FOLD_SECONDS": "1",  # the dashboard follows the compressed time
        "DISRUPT_CHECK_TIMEOUT": "5",
        "DISRUPT_HOST_SPACING_SECONDS": "0.2",  # politeness compressed like the intervals
        "DISRUPT_ORGANISATION_NAME": "DISRUPT demo hotline",
        "DISRUPT_TRUSTED_FLAGGER": "1",
        "DISRUPT_PUBLIC_URL": f"http://{host}:{port}/",
        "DISRUPT_VICTIM_UPDATE_SECONDS": "2",
        "DISRUPT_VICTIM_UPDATE_MIN_HOURS": "0.002",  # about 7 s, like the compressed hours
        "DISRUPT_DEMO_MAIL_DIR": str(instance / "mail"),
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("DISRUPT_")})
    app = create_app()
    upgrade(app.config["DATABASE_URL"])
    db = app.extensions["disrupt.db"]
    with db.session() as session:
        logins = seed_demo(
            session, platforms=platforms, mailbox=mailbox,
            cipher=app.extensions["disrupt.cipher"],
            notifier=Notifier.from_config(app.config),
            now=utcnow(),
        )
        session.commit()

    python = [sys.executable, "-m", "disrupt"]
    children = [
        subprocess.Popen([*python, "web", "--host", host, "--port", str(port)], env=env),
        subprocess.Popen([*python, "worker"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL),
    ]
    base = f"http://{host}:{port}"
    code_command = (f"DISRUPT_INSTANCE_PATH={instance} "
                    f"DISRUPT_DATABASE_URL={env['DISRUPT_DATABASE_URL']} "
                    f"{Path(sys.executable).parent / 'disrupt'} totp-code")
    print(f"""
DISRUPT demo — everything runs on this machine; intervals are compressed (1 h = 1 s).

  Victim portal       {base}/
  Caseworker console  {base}/console/
    admin       {logins.admin_email}  password {logins.admin_password}
    caseworker  {logins.caseworker_email}  password {logins.caseworker_password}
    Second factor (asked after the password): add a key to an authenticator app
      admin       {format_secret(logins.admin_totp_secret)}
      caseworker  {format_secret(logins.caseworker_totp_secret)}
    or print the current code from another terminal:
      {code_command} {logins.caseworker_email}
  Dashboard           {base}/console/dashboard/

Simulated platforms (they receive the notices the demo sends for its seeded cases):
  PicShare  {platforms['PicShare'].base_url}  e-mail notices, removes content after 8 s
  ClipHub   {platforms['ClipHub'].base_url}  API notices, removes content after 15 s
  Slowtube  {platforms['Slowtube'].base_url}  e-mail notices, never removes anything
  SMTP server for notices: 127.0.0.1:{mailbox.port} (it also takes the update e-mails
  of cases opened with an e-mail address)
  Every e-mail it received, as a file: {instance / 'mail'}
    and in the console: {base}/console/demo/mail/ (and on each request's page)

Within a minute the dashboard shows a takedown rate from real checks. Slowtube's requests
pass their 48 h (48 s) deadline and show under Requests as overdue, with a follow-up button.
Ctrl-C stops it all.
""", flush=True)

    stop = False

    def _stop(*_args: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    next_report = started + 10
    failed = False
    try:
        while not stop and (duration is None or time.monotonic() - started < duration):
            time.sleep(1)
            if time.monotonic() >= next_report:
                print(_status_line(db), flush=True)
                next_report += 10
            if any(child.poll() is not None for child in children):
                failed = True
                break
    except KeyboardInterrupt:
        pass
    finally:
        print(_status_line(db), flush=True)
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        for platform in platforms.values():
            platform.stop()
        mailbox.stop()
        db.dispose()
    if failed:
        raise DemoError("a demo process stopped on its own (see its messages above); "
                        "everything was shut down")
