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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from disrupt.db import utcnow
from disrupt.demo.cdn import SimulatedCDN
from disrupt.demo.escalation import DEMO_HOSTING
from disrupt.demo.rdap import Network, RDAPWorld
from disrupt.demo.seed import DemoLogins, DemoSeedError, notify_traced_host, seed_demo
from disrupt.demo.simulator import NoticeMailbox, SimulatedPlatform
from disrupt.platforms.services import Notifier

TIME_SCALE = "1/3600"


def _status_line(db) -> str:
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


ORGANISATION_EMAIL = "notices@demo.disrupt.test"
#: What the simulated RIR says about each simulated host's network (disrupt/demo/rdap.py).
NETWORKS = {
    "127.0.0.2": Network("NET-PICSHARE-1", "PICSHARE-NET", "IE", "PicShare Ltd",
                         "abuse@picshare.demo"),
    "127.0.0.3": Network("NET-CLIPHUB-1", "CLIPHUB-US", "US", "ClipHub, Inc.",
                         "abuse@cliphub.demo"),
    # Slowtube's host, as escalation.py's seeded trace names it.
    "127.0.0.4": Network("NET-DEMO-HOSTING-1", "DEMO-HOSTING-NET", DEMO_HOSTING["country"],
                         DEMO_HOSTING["holder"], DEMO_HOSTING["abuse"]),
    # The unknown site's address is its CDN's, as for any site behind a CDN.
    "127.0.0.5": Network("NET-127-0-0-0-CF", "CLOUDFLARENET-DEMO", "US",
                         "Cloudflare, Inc. (simulated)", "abuse@cloudflare.demo"),
}
PICSHARE_REPLY = ("Hello,\n\nThank you for your report. We have removed the content you "
                  "reported: it is no longer available on PicShare.\n\nTicket PS-{n}\n\n"
                  "PicShare Trust & Safety")
SLOWTUBE_REPLY = ("Hello,\n\nWe have reviewed the content you reported. It does not violate "
                  "our policies, so we will not remove it.\n\nSlowtube Legal")


@dataclass
class Simulation:
    """Everything simulated, on 127.0.0.x: the platforms, the unknown site and its CDN, the
    RDAP registries, the SMTP server."""

    mailbox: NoticeMailbox
    platforms: dict[str, SimulatedPlatform]
    origin: SimulatedPlatform
    cdn: SimulatedCDN
    rdap: RDAPWorld

    def stop(self) -> None:
        for platform in [*self.platforms.values(), self.origin]:
            platform.stop()
        self.cdn.stop()
        self.rdap.stop()
        self.mailbox.stop()


def start_simulation(instance: Path) -> Simulation:
    mailbox = NoticeMailbox(folder=instance / "mail").start()
    mailbox.deliver_to(ORGANISATION_EMAIL, instance / "mailbox")
    platforms = {
        "PicShare": SimulatedPlatform("PicShare", ip="127.0.0.2", takedown_after=8,
                                      reply_text=PICSHARE_REPLY.format(n=20931)).start(),
        "ClipHub": SimulatedPlatform("ClipHub", ip="127.0.0.3", takedown_after=15).start(),
        "Slowtube": SimulatedPlatform("Slowtube", ip="127.0.0.4", takedown_after=None,
                                      reply_text=SLOWTUBE_REPLY, reply_after=5).start(),
    }
    origin = SimulatedPlatform("FileNest", ip="127.0.0.6", takedown_after=10).start()
    origin.host_media("/", b"<html><title>FileNest</title><body>Files.</body></html>",
                      "text/html")
    cdn = SimulatedCDN("Cloudflare (simulated)", "127.0.0.5", origin).start()
    mailbox.register(NETWORKS["127.0.0.5"].abuse_email, cdn)
    rdap = RDAPWorld(networks=NETWORKS, domains={}, tld="demo")
    return Simulation(mailbox, platforms, origin, cdn, rdap)


def _wipe(instance: Path) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    for leftover in instance.glob("demo.sqlite3*"):
        leftover.unlink()
    for folder in ("outbox", "mail", "mailbox"):
        shutil.rmtree(instance / folder, ignore_errors=True)


def demo_env(instance: Path, sim: Simulation, *, host: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DISRUPT_INSTANCE_PATH": str(instance),
        "DISRUPT_DATABASE_URL": f"sqlite:///{instance / 'demo.sqlite3'}",
        "DISRUPT_ALLOW_LOOPBACK": "1",
        "DISRUPT_TIME_SCALE": TIME_SCALE,
        "DISRUPT_MAIL_TRANSPORT": "smtp",
        "DISRUPT_SMTP_HOST": "127.0.0.1",
        "DISRUPT_SMTP_PORT": str(sim.mailbox.port),
        "DISRUPT_WORKER_TICK_SECONDS": "1",
        "DISRUPT_STATS_FOLD_SECONDS": "1",  # the dashboard follows the compressed time
        "DISRUPT_CHECK_TIMEOUT": "5",
        "DISRUPT_HOST_SPACING_SECONDS": "0.2",  # politeness compressed like the intervals
        "DISRUPT_ORGANISATION_NAME": "DISRUPT demo hotline",
        "DISRUPT_ORGANISATION_EMAIL": ORGANISATION_EMAIL,
        "DISRUPT_TRUSTED_FLAGGER": "1",
        "DISRUPT_PUBLIC_URL": f"http://{host}:{port}/",
        "DISRUPT_VICTIM_UPDATE_SECONDS": "2",
        "DISRUPT_VICTIM_UPDATE_MIN_HOURS": "0.002",  # about 7 s, like the compressed hours
        "DISRUPT_DEMO_MAIL_DIR": str(instance / "mail"),
        "DISRUPT_RDAP_BOOTSTRAP_URL": sim.rdap.bootstrap_url,  # never the real IANA
        "DISRUPT_TRACE_SECONDS": "5",
        "DISRUPT_MAILBOX_MAILDIR": str(instance / "mailbox"),
        "DISRUPT_IMAP_POLL_SECONDS": "2",
    }


def _seed(app: Any, sim: Simulation) -> tuple[DemoLogins, str]:
    """The seeded cases, then the unknown host traced and notified; returns the logins and a
    line saying where its notice went (or why it was not sent)."""
    db = app.extensions["disrupt.db"]
    notifier = Notifier.from_config(app.config)
    with db.session() as session:
        logins = seed_demo(session, platforms=sim.platforms, sites={"FileNest": sim.cdn},
                           mailbox=sim.mailbox, cipher=app.extensions["disrupt.cipher"],
                           notifier=notifier, now=utcnow())
        session.commit()
    try:
        address, case_id = notify_traced_host(db, app.config, url=logins.traced_url,
                                              caseworker_email=logins.caseworker_email,
                                              notifier=notifier)
    except DemoSeedError as exc:
        return logins, f"  Not sent: {exc}."
    return logins, (f"  {logins.traced_url} was traced (network holder, country, abuse "
                    f"contact, CDN)\n  and its notice queued to {address}. See its case page, "
                    f"\"Who hosts these addresses\":\n  {{base}}/console/cases/{case_id}")


def run_demo(*, port: int, instance: Path, duration: float | None = None,
             host: str = "127.0.0.1") -> None:
    """Run until Ctrl-C or ``duration``; raises DemoError if a demo process stops on its own."""
    from disrupt import create_app
    from disrupt.migrate import upgrade

    ensure_port_free(host, port)
    _wipe(instance)
    sim = start_simulation(instance)
    env = demo_env(instance, sim, host=host, port=port)
    os.environ.update({k: v for k, v in env.items() if k.startswith("DISRUPT_")})
    app = create_app()
    upgrade(app.config["DATABASE_URL"])
    db = app.extensions["disrupt.db"]
    try:
        logins, traced = _seed(app, sim)
        python = [sys.executable, "-m", "disrupt"]
        children = [
            subprocess.Popen([*python, "web", "--host", host, "--port", str(port)], env=env),
            subprocess.Popen([*python, "worker"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
        ]
        print(banner(f"http://{host}:{port}", instance, env, logins, sim, traced), flush=True)
        failed = _supervise(children, db, duration)
    finally:
        sim.stop()
        db.dispose()
    if failed:
        raise DemoError("a demo process stopped on its own (see its messages above); "
                        "everything was shut down")


def _supervise(children: list[subprocess.Popen[bytes]], db: Any,
               duration: float | None) -> bool:
    """Print the status every 10 s until Ctrl-C, SIGTERM or ``duration``; stop the children.
    True when one of them stopped on its own."""
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
    return failed


def banner(base: str, instance: Path, env: dict[str, str], logins: DemoLogins,
           sim: Simulation, traced: str) -> str:
    from disrupt.accounts.totp import format_secret

    code_command = (f"DISRUPT_INSTANCE_PATH={instance} "
                    f"DISRUPT_DATABASE_URL={env['DISRUPT_DATABASE_URL']} "
                    f"{Path(sys.executable).parent / 'disrupt'} totp-code")
    platforms = sim.platforms
    return f"""
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
            and answers by e-mail "we have removed the content"
  ClipHub   {platforms['ClipHub'].base_url}  API notices, removes content after 15 s
  Slowtube  {platforms['Slowtube'].base_url}  e-mail notices, never removes anything, and
            answers by e-mail "this does not violate our policies"
  FileNest  {sim.cdn.base_url}  a small site no platform covers, behind a simulated CDN
            (Cloudflare); removes content 10 s after the CDN forwards the notice
  RDAP (IANA bootstrap, two RIRs, a registry)  {sim.rdap.bootstrap_url}
  SMTP server: 127.0.0.1:{sim.mailbox.port} (notices, the victims' update e-mails, and the
  platforms' answers to {ORGANISATION_EMAIL}, delivered into the Maildir
  {instance / 'mailbox'} that the worker reads)
  Every e-mail it received, as a file: {instance / 'mail'}
    and in the console: {base}/console/demo/mail/ (and on each request's page)

Unknown host, traced before the worker started:
{traced.replace("{base}", base)}

Within a minute the dashboard shows a takedown rate from real checks. PicShare's and
Slowtube's e-mail answers appear on their requests' pages (Console → Requests) with a
proposed status (actioned; rejected with the reason) for you to confirm. Slowtube's requests
pass their 48 h (48 s) deadline and show under Requests as overdue, with a follow-up button.
Each URL the checker found online has an evidence capture: on a case page, "Download the
evidence export"; `disrupt evidence verify` (with the two DISRUPT_ variables above)
checks the chain of custody. Ctrl-C stops it all.
"""
