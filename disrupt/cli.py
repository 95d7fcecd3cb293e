"""The `disrupt` command. Bad arguments: one line on stderr and a non-zero exit."""
from __future__ import annotations

import getpass
import json
import socket
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from disrupt.db import utcnow


class CommandError(click.ClickException):
    """A one-line failure; exit status 1."""


def _instance_path() -> Path:
    """Where create_app() will look for the instance, without creating anything."""
    import os

    from flask import Flask

    return Path(os.environ.get("DISRUPT_INSTANCE_PATH")
                or Flask("disrupt", instance_relative_config=True).instance_path)


def _plain_settings() -> dict[str, Any]:
    """The settings as create_app() reads them, with no side effect (no key is generated)."""
    from flask import Config

    from disrupt.config import SETTINGS, from_environment

    config = Config(str(_instance_path()))
    config.update({name: default for name, (default, _) in SETTINGS.items()})
    config.from_pyfile(str(_instance_path() / "config.py"), silent=True)
    try:
        config.update(from_environment())
    except ValueError as exc:  # a bad DISRUPT_* setting
        raise CommandError(str(exc)) from exc
    return dict(config)


def _require_instance() -> None:
    """Refuse, before anything is created, to run on an instance `disrupt init` never made:
    create_app() would generate new keys that cannot read an existing database."""
    path = _instance_path()
    settings = _plain_settings()
    for name, filename in (("DATA_KEY", "data_key"), ("SECRET_KEY", "secret_key")):
        if not settings.get(name) and not (path / filename).is_file():
            raise CommandError(f"no initialised instance at {path} ({filename} is missing): "
                               "run `disrupt init` first, or set DISRUPT_INSTANCE_PATH")
    url = settings.get("DATABASE_URL") or f"sqlite:///{path / 'disrupt.sqlite3'}"
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise CommandError(f"no database at {url.removeprefix('sqlite:///')}: "
                           "run `disrupt init` first")


def _require_schema(app: Any) -> None:
    from alembic.script import ScriptDirectory
    from sqlalchemy.exc import SQLAlchemyError

    from disrupt.migrate import alembic_config, current_heads

    url = app.config["DATABASE_URL"]
    try:
        found = current_heads(url)
    except SQLAlchemyError as exc:
        raise CommandError(f"the database cannot be reached: {str(exc).splitlines()[0]}") from exc
    if found != set(ScriptDirectory.from_config(alembic_config(url)).get_heads()):
        state = "empty" if not found else "at an older schema"
        raise CommandError(f"the database is {state}: run `disrupt init` first")


def _app(*, initialised: bool = True) -> Any:
    """The app for a command; by default only on an instance made by `disrupt init`."""
    from disrupt import create_app

    if initialised:
        _require_instance()
    try:
        app = create_app()
    except ValueError as exc:  # a bad DISRUPT_* setting
        raise CommandError(str(exc)) from exc
    if initialised:
        _require_schema(app)
    return app


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

    app = _app(initialised=False)
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
@click.option("--totp", "with_totp", is_flag=True,
              help="Set up the second factor now and print its key and recovery codes "
                   "(otherwise the user sets it up with a QR code at the first log in)")
def create_user_command(email: str, name: str, role: str, password: str | None,
                        with_totp: bool) -> None:
    """Create a caseworker, supervisor or admin account."""
    from disrupt.accounts.services import AccountError, create_user, enrol_totp

    app = _app()
    password = password or getpass.getpass("Password (12+ characters): ")
    with _db(app).session() as session:
        try:
            user = create_user(session, email=email, name=name, password=password, role=role,
                               now=utcnow())
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        session.flush()
        enrolment = enrol_totp(session, user, app.extensions["disrupt.cipher"], utcnow()) \
            if with_totp else None
        session.commit()
    click.echo(f"{role} {user.email} created")
    if enrolment is not None:
        from disrupt.accounts import totp

        secret, codes = enrolment
        click.echo(f"second factor key (add it to an authenticator app): "
                   f"{totp.format_secret(secret)}")
        issuer = app.config["ORGANISATION_NAME"]
        click.echo(f"  {totp.provisioning_uri(secret, user.email, issuer)}")
        click.echo("recovery codes (shown once): " + " ".join(codes))
    else:
        click.echo("the second factor is set up with a QR code at the first log in")


def _user_by_email(session: Any, email: str) -> Any:
    from sqlalchemy import select

    from disrupt.accounts.models import User

    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise CommandError(f"no user with e-mail {email}")
    return user


@cli.command("totp-code")
@click.argument("email")
def totp_code_command(email: str) -> None:
    """Print the user's current second-factor code (demo and operations: needs the
    instance's data key, like the server)."""
    from disrupt.accounts.services import AccountError, current_totp_code

    app = _app()
    with _db(app).session() as session:
        user = _user_by_email(session, email)
        try:
            click.echo(current_totp_code(user, app.extensions["disrupt.cipher"], utcnow()))
        except AccountError as exc:
            raise CommandError(str(exc)) from exc


@cli.command("reset-2fa")
@click.argument("email")
def reset_2fa_command(email: str) -> None:
    """Remove a user's second factor and recovery codes (lost phone); they set it up again
    at the next log in. Also unlocks the account."""
    from disrupt.accounts.services import record_audit, reset_totp, unlock

    app = _app()
    with _db(app).session() as session:
        user = _user_by_email(session, email)
        moment = utcnow()
        reset_totp(session, user)
        unlock(user, moment)
        record_audit(session, action="reset_second_factor", now=moment, record=user,
                     actor_kind="cli")
        session.commit()
    click.echo(f"second factor of {user.email} removed; set up again at the next log in")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def web(host: str, port: int) -> None:
    """Serve the web app (use gunicorn 'disrupt.wsgi:app' in production)."""
    from werkzeug.serving import run_simple

    from disrupt.logs import configure_logging

    app = _app()
    configure_logging("web", fmt=app.config["LOG_FORMAT"])
    run_simple(host, port, app, threaded=True, use_reloader=False)


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
@click.option("--worker", "name", help="Worker name (default host:pid); a worker restarted "
              "under the same name takes back the notices it had claimed")
def send_notices(name: str | None) -> None:
    """Send the queued notices that are due, once, raise overdue requests and e-mail the
    victims whose case has news."""
    from disrupt.platforms.jobs import raise_overdue_requests, send_queued_notices
    from disrupt.victims.jobs import send_victim_updates

    app = _app()
    worker = name or worker_name()
    sent = send_queued_notices(_db(app), app.config, worker=worker, now=utcnow)
    overdue = raise_overdue_requests(_db(app), app.config, now=utcnow)
    updates = send_victim_updates(_db(app), app.config, worker=worker, now=utcnow)
    click.echo(json.dumps({"notices_sent": sent, "requests_raised_overdue": overdue,
                           "victim_updates_sent": updates}))


@cli.group()
def platforms() -> None:
    """The platform registry as YAML."""


@platforms.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of standard output")
def platforms_export(output: str | None) -> None:
    """Print every platform as YAML (the format `platforms import` reads)."""
    from disrupt.platforms.catalogue import export_platforms

    app = _app()
    with _db(app).session() as session:
        text = export_platforms(session)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@platforms.command("import")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--catalogue", is_flag=True,
              help="Import the shipped catalogue of major platforms (names and domains)")
def platforms_import(file: str | None, catalogue: bool) -> None:
    """Create or update platforms by name from a YAML file (all or nothing)."""
    from disrupt.accounts.services import record_audit
    from disrupt.platforms.catalogue import import_catalogue, import_platforms
    from disrupt.platforms.services import PlatformError

    if bool(file) == catalogue:
        raise click.UsageError("give a YAML file or --catalogue, not both")
    text = None
    if file:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        text = path.read_text(encoding="utf-8")
    app = _app()
    with _db(app).session(claim=True) as session:
        try:
            summary = import_catalogue(session) if catalogue else import_platforms(session, text)
        except PlatformError as exc:
            raise CommandError(f"nothing imported: {exc}") from exc
        record_audit(session, action="import_platforms", now=utcnow(), actor_kind="cli",
                     source="catalogue" if catalogue else "file", **summary.as_dict())
        session.commit()
    click.echo(json.dumps(summary.as_dict()))


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
@click.option("--case", "reference", help="Compare media with this case's active hashes "
              "(and apply the rules of the URL's platform)")
@click.option("--json", "as_json", is_flag=True, required=True, help="Print one JSON object")
def check_url_command(url: str, reference: str | None, as_json: bool) -> None:
    """Check one URL now and print the verdict with its evidence."""
    from disrupt.monitoring.checker import Checker, CheckSettings, CheckTarget
    from disrupt.urls.normalize import InvalidURL, normalize_url

    try:
        normalized = normalize_url(url)
    except InvalidURL as exc:
        raise CommandError(f"{url}: {exc}") from exc
    if reference is None:  # no database needed: nothing is read or written
        outcome = Checker(CheckSettings.from_config(_plain_settings())).check(
            CheckTarget(normalized))
    else:
        from disrupt.monitoring.engine import DatabaseFingerprints
        from disrupt.monitoring.services import case_target

        app = _app()
        settings = CheckSettings.from_config(app.config)
        with _db(app).session() as session:
            try:
                target = case_target(session, normalized, reference)
            except LookupError as exc:
                raise CommandError(str(exc)) from exc
        checker = Checker(settings, fingerprints=DatabaseFingerprints(_db(app)))
        outcome = checker.check(target)
    click.echo(json.dumps({"url": normalized, **outcome.to_json()}, sort_keys=True))


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2026-01-31") from exc


@cli.command()
@click.option("--json", "as_json", is_flag=True, required=True, help="Print the figures as JSON")
@click.option("--since", help="First request sent on or after this day (YYYY-MM-DD, UTC)")
@click.option("--until", help="First request sent before this day (YYYY-MM-DD, UTC)")
@click.option("--platform", "platform_name", help="Only this platform, by name")
@click.option("--by", type=click.Choice(["week", "month", "year"]), default="month",
              show_default=True, help="Period of the trend")
def stats(as_json: bool, since: str | None, until: str | None,
          platform_name: str | None, by: str) -> None:
    """Print the takedown statistics (the dashboard's figures)."""
    from sqlalchemy import select

    from disrupt.dashboard.jobs import fold_changed_urls
    from disrupt.dashboard.services import takedown_statistics
    from disrupt.platforms.models import Platform

    start, end = _day(since), _day(until)
    if start and end and start >= end:
        raise CommandError("--until must come after --since")
    app = _app()
    if app.config["STATS_FOLD_ON_VIEW"] > 0:
        fold_changed_urls(_db(app), app.config, max_urls=int(app.config["STATS_FOLD_ON_VIEW"]))
    with _db(app).session() as session:
        platform_id = None
        if platform_name:
            platform_id = session.scalar(select(Platform.id).where(Platform.name == platform_name))
            if platform_id is None:
                raise CommandError(f"no platform named {platform_name!r}")
        figures = takedown_statistics(session, now=utcnow(), since=start, until=end,
                                      platform_id=platform_id, by=by)
    click.echo(json.dumps(figures, sort_keys=True))


@cli.command("refold-statistics")
def refold_statistics() -> None:
    """Fold every URL into the statistics again: after restoring a database whose statistics
    tables are older than its cases, or after a change to the fold's rules."""
    from disrupt.dashboard.jobs import fold_changed_urls
    from disrupt.dashboard.pending import queue_everything

    app = _app()
    with _db(app).session(claim=True) as session:
        queued = queue_everything(session)
        session.commit()
    folded = fold_changed_urls(_db(app), app.config)
    click.echo(f"{queued} URLs queued, {folded} folded")


@cli.command()
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a printable HTML page")
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of standard output")
@click.option("--language", type=click.Choice(["en", "fr"]), default="en", show_default=True,
              help="Language of the HTML report")
def report(year: int, as_json: bool, output: str | None, language: str) -> None:
    """The annual transparency report (no personal data): HTML to print, or JSON."""
    from disrupt.dashboard.jobs import fold_changed_urls
    from disrupt.dashboard.report import render_report_html, transparency_report

    app = _app()
    fold_changed_urls(_db(app), app.config)
    with _db(app).session() as session:
        figures = transparency_report(session, year=year, now=utcnow())
    text = (json.dumps(figures, sort_keys=True) if as_json
            else render_report_html(app, figures, language))
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


def _require_data_key() -> None:
    settings = _plain_settings()
    path = _instance_path()
    if not settings.get("DATA_KEY") and not (path / "data_key").is_file():
        raise CommandError(f"no data key at {path / 'data_key'} (nor DISRUPT_DATA_KEY): put "
                           "there the data key of the instance that made the backup")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def backup(file: str) -> None:
    """Copy the whole database into FILE, encrypted with the instance's data key."""
    from disrupt.migrate import current_heads
    from disrupt.operations.backup import (
        BackupError,
        dump_plain,
        key_id,
        private_folder,
        write_backup,
    )

    app = _app()
    url = app.config["DATABASE_URL"]
    try:
        with private_folder() as folder:
            plain = dump_plain(url, folder)
            write_backup(plain, Path(file), data_key=app.config["DATA_KEY"],
                         database=_db(app).engine.dialect.name,
                         schema=sorted(current_heads(url)), now=utcnow())
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    click.echo(f"wrote {file} (encrypted with the data key {key_id(app.config['DATA_KEY'])}; "
               "without that key the backup cannot be read)")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that is not empty")
def restore(file: str, force: bool) -> None:
    """Restore a backup made by `disrupt backup` into this instance's database."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from disrupt.migrate import alembic_config, current_heads
    from disrupt.operations.backup import BackupError, load_plain, private_folder, read_backup

    _require_data_key()
    app = _app(initialised=False)
    url = app.config["DATABASE_URL"]
    missing_file = url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")
                                                            ).is_file()
    tables = 0 if missing_file else len(inspect(_db(app).engine).get_table_names())
    _db(app).dispose()
    try:
        with private_folder() as folder:
            header, plain = read_backup(Path(file), folder, data_key=app.config["DATA_KEY"])
            if header.database != _db(app).engine.dialect.name:
                raise BackupError(f"this is a {header.database} backup; this instance's "
                                  f"database is {_db(app).engine.dialect.name}")
            load_plain(url, plain, force=force, tables_now=tables)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    behind = current_heads(url) != heads
    click.echo(f"restored the backup of {header.created_at[:16].replace('T', ' ')} UTC"
               + ("; its schema is older: run `disrupt init` to upgrade it" if behind else ""))


@cli.command()
def doctor() -> None:
    """Check this instance's settings, database, mail, keys and worker: one line a problem."""
    from disrupt.operations.doctor import diagnose

    app = _app()
    problems = diagnose(app.config, _db(app), Path(app.instance_path))
    for problem in problems:
        click.echo(f"problem: {problem}")
    if problems:
        raise CommandError(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found")
    click.echo("no problem found (keep a copy of the data key off this machine)")


@cli.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--instance", default="instance-demo", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the demo's database and mail")
@click.option("--duration", type=click.FloatRange(min=1), help="Stop after this many seconds")
def demo(port: int, instance: str, duration: float | None) -> None:
    """Run everything on this machine with simulated platforms (SQLite, fresh each time)."""
    from disrupt.demo.runner import DemoError, run_demo

    try:
        run_demo(port=port, instance=Path(instance).resolve(), duration=duration)
    except DemoError as exc:
        raise CommandError(str(exc)) from exc


@cli.group()
def evidence() -> None:
    """Evidence captures: the chain of custody and exports (README "Evidence")."""


@evidence.command("verify")
def evidence_verify() -> None:
    """Check the custody log's hash chain; exit 1 with the first broken entry."""
    from disrupt.evidence.services import verify_chain

    app = _app()
    with _db(app).session() as session:
        broken = verify_chain(session)
    if broken:
        raise CommandError(broken)
    click.echo("custody chain verified")


@evidence.command("verify-export")
@click.argument("file", type=click.Path(dir_okay=False))
def evidence_verify_export(file: str) -> None:
    """Check an export's files against its manifest (no instance needed)."""
    from disrupt.evidence.services import verify_export

    problems = verify_export(Path(file))
    if problems:
        raise CommandError(f"{file}: {problems[0]}"
                           + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    click.echo(f"{file}: every file matches the manifest")


@evidence.command("capture")
def evidence_capture() -> None:
    """Fetch the pending captures once (what a worker tick does) and print how many."""
    from disrupt.evidence.jobs import run_pending_captures

    app = _app()
    click.echo(json.dumps({"captures_stored": run_pending_captures(_db(app), app.config,
                                                                   now=utcnow)}))


@evidence.command("purge")
def evidence_purge() -> None:
    """Delete the captures past DISRUPT_EVIDENCE_RETENTION_DAYS (not those on hold)."""
    from disrupt.evidence.jobs import purge_expired_evidence

    app = _app()
    click.echo(json.dumps({"captures_deleted": purge_expired_evidence(_db(app), app.config,
                                                                      now=utcnow)}))


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
