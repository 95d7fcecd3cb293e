"""The `disrupt` command. Bad arguments: one line on stderr and a non-zero exit."""
from __future__ import annotations

import getpass
import json
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from disrupt.db import utcnow


class CommandError(click.ClickException):
    """A one-line failure; exit status 1."""


def _app() -> Any:
    from disrupt import create_app

    try:
        return create_app()
    except ValueError as exc:  # a bad DISRUPT_* setting
        raise CommandError(str(exc)) from exc


def _db(app: Any) -> Any:
    return app.extensions["disrupt.db"]


def worker_name() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """DISRUPT: takedown of non-consensual intimate images."""


@cli.command()
@click.option("--admin-email", help="E-mail of the first admin (prompted if missing)")
@click.option("--admin-name", default="Administrator", show_default=True)
@click.option("--admin-password", help="Password of the first admin (prompted if missing)")
@click.option("--no-admin", is_flag=True, help="Only migrate the database")
def init(admin_email: str | None, admin_name: str, admin_password: str | None,
         no_admin: bool) -> None:
    """Create or upgrade the database, then create the first admin."""
    from sqlalchemy import func, select

    from disrupt.accounts.models import User
    from disrupt.accounts.services import AccountError, create_user
    from disrupt.migrate import upgrade

    app = _app()
    upgrade(app.config["DATABASE_URL"])
    click.echo("database is up to date")
    if no_admin:
        return
    with _db(app).session() as session:
        if session.scalar(select(func.count()).select_from(User)):
            click.echo("users exist already; no admin created")
            return
        email = admin_email or click.prompt("Admin e-mail")
        password = admin_password or getpass.getpass("Admin password (12+ characters): ")
        try:
            create_user(session, email=email, name=admin_name, password=password, role="admin",
                        now=utcnow())
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        session.commit()
    click.echo(f"admin {email} created")


@cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice(["caseworker", "supervisor", "admin"]),
              default="caseworker", show_default=True)
@click.option("--password", help="Prompted if missing")
def create_user_command(email: str, name: str, role: str, password: str | None) -> None:
    """Create a caseworker, supervisor or admin account."""
    from disrupt.accounts.services import AccountError, create_user

    app = _app()
    password = password or getpass.getpass("Password (12+ characters): ")
    with _db(app).session() as session:
        try:
            create_user(session, email=email, name=name, password=password, role=role,
                        now=utcnow())
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        session.commit()
    click.echo(f"{role} {email} created")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def web(host: str, port: int) -> None:
    """Serve the web app (use gunicorn 'disrupt:create_app()' in production)."""
    from werkzeug.serving import run_simple

    run_simple(host, port, _app(), threaded=True, use_reloader=False)


@cli.command()
def worker() -> None:
    """Run the scheduler: URL checks and the notice outbox."""
    from disrupt.worker import run_worker

    app = _app()
    run_worker(_db(app), app.config, worker=worker_name())


@cli.command("run-checks")
def run_checks() -> None:
    """Check every due URL once (what one worker tick does) and print how many."""
    from disrupt.monitoring.jobs import run_due_checks

    app = _app()
    total = 0
    while count := run_due_checks(_db(app), app.config, worker=worker_name(), now=utcnow):
        total += count
    click.echo(json.dumps({"checks_recorded": total}))


@cli.command("send-notices")
def send_notices() -> None:
    """Send the queued notices that are due, once."""
    from disrupt.platforms.jobs import send_queued_notices

    app = _app()
    sent = send_queued_notices(_db(app), app.config, worker=worker_name(), now=utcnow)
    click.echo(json.dumps({"notices_sent": sent}))


@cli.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, required=True,
              help="Print one JSON object per file, one per line")
def hash_command(files: tuple[str, ...], as_json: bool) -> None:
    """Hash image or video files with the server pipeline."""
    from disrupt.hashing.pipeline import UnsupportedMedia, hash_media_file

    failed = False
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise CommandError(f"{name}: no such file")
        try:
            click.echo(json.dumps(hash_media_file(path), sort_keys=True))
        except UnsupportedMedia as exc:
            click.echo(f"disrupt: {name}: {exc}", err=True)
            failed = True
    if failed:
        sys.exit(1)


@cli.command("check-url")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, required=True, help="Print one JSON object")
def check_url_command(url: str, as_json: bool) -> None:
    """Check one URL now and print the verdict with its evidence."""
    from disrupt.cases.urlnorm import InvalidURL, normalize_url
    from disrupt.monitoring.checker import CheckSettings, check_url

    app = _app()
    try:
        normalized = normalize_url(url)
    except InvalidURL as exc:
        raise CommandError(f"{url}: {exc}") from exc
    outcome = check_url(normalized, CheckSettings.from_config(app.config))
    click.echo(json.dumps({"url": normalized, **outcome.to_json()}, sort_keys=True))


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-01-31") from exc


@cli.command()
@click.option("--json", "as_json", is_flag=True, required=True, help="Print the figures as JSON")
@click.option("--since", help="Requests sent on or after this date (YYYY-MM-DD)")
@click.option("--until", help="Requests sent before this date (YYYY-MM-DD)")
@click.option("--platform", "platform_name", help="Only this platform, by name")
def stats(as_json: bool, since: str | None, until: str | None,
          platform_name: str | None) -> None:
    """Print the takedown statistics."""
    from sqlalchemy import select

    from disrupt.dashboard.services import takedown_statistics
    from disrupt.platforms.models import Platform

    start, end = _date(since), _date(until)
    app = _app()
    with _db(app).session() as session:
        platform_id = None
        if platform_name:
            platform_id = session.scalar(select(Platform.id).where(Platform.name == platform_name))
            if platform_id is None:
                raise CommandError(f"no platform named {platform_name!r}")
        figures = takedown_statistics(session, since=start, until=end, platform_id=platform_id)
    click.echo(json.dumps(figures, sort_keys=True))


@cli.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--instance", default="instance-demo", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the demo's database and mail")
@click.option("--duration", type=click.FloatRange(min=1), help="Stop after this many seconds")
def demo(port: int, instance: str, duration: float | None) -> None:
    """Run everything on this machine with simulated platforms (SQLite, fresh each time)."""
    from disrupt.demo.runner import run_demo

    run_demo(port=port, instance=Path(instance).resolve(), duration=duration)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="disrupt", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("disrupt: aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        click.echo(f"disrupt: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"disrupt: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:
        click.echo(f"disrupt: {exc}", err=True)
        sys.exit(1)
