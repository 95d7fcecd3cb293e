"""`disrupt doctor`: the settings of a real instance checked one by one, one line per problem.

Each check is a function of the settings (and the database) that returns the problems it
found, in words an administrator can act on."""
from __future__ import annotations

import smtplib
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from sqlalchemy.exc import SQLAlchemyError

from disrupt.config import RENAMED, SETTINGS, unread_environment
from disrupt.db import Database, utcnow
from disrupt.operations.health import HealthLimits, assess

Check = Callable[[Any, Database, Path], Iterable[str]]


def check_keys(config: Any, _db: Database, instance: Path) -> Iterable[str]:
    try:
        Fernet(config["DATA_KEY"].encode())
    except (ValueError, TypeError):
        yield "the data key is not a valid Fernet key: personal data cannot be read"
    if len(str(config["SECRET_KEY"])) < 32:
        yield "the secret key is shorter than 32 characters: sessions can be forged"
    for name in ("data_key", "secret_key"):
        path = instance / name
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            yield f"{path} can be read by other users of this machine: chmod 600 {path}"


def check_database(config: Any, db: Database, _instance: Path) -> Iterable[str]:
    from alembic.script import ScriptDirectory

    from disrupt.migrate import alembic_config, current_heads

    try:
        found = current_heads(config["DATABASE_URL"])
    except SQLAlchemyError as exc:
        yield f"the database cannot be reached: {str(exc).splitlines()[0][:160]}"
        return
    expected = set(ScriptDirectory.from_config(alembic_config(config["DATABASE_URL"]))
                   .get_heads())
    if found != expected:
        yield "the database is not at the current schema: run `disrupt init`"


def check_mail(config: Any, _db: Database, _instance: Path) -> Iterable[str]:
    from disrupt.platforms.channels import smtp_session

    if config["MAIL_TRANSPORT"] != "smtp":
        yield ("MAIL_TRANSPORT is not smtp: notices and victims' e-mails are written to "
               f"{config['OUTBOX_DIR']} and never sent")
        return
    try:
        with smtp_session(config) as smtp:
            smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        yield (f"the SMTP server {config['SMTP_HOST']}:{config['SMTP_PORT']} does not accept "
               f"us: {type(exc).__name__}: {str(exc)[:120]}")


def check_time_zone(config: Any, _db: Database, _instance: Path) -> Iterable[str]:
    try:
        ZoneInfo(str(config["ORGANISATION_TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError):
        yield (f"DISRUPT_ORGANISATION_TIMEZONE={config['ORGANISATION_TIMEZONE']!r} is not a "
               "time zone (e.g. Europe/Paris)")


def check_unread_settings(_config: Any, _db: Database, _instance: Path) -> Iterable[str]:
    """A variable nothing reads leaves the default in force without a word: say so."""
    for key in unread_environment():
        old = key.removeprefix("DISRUPT_")
        if old in RENAMED:
            yield (f"{key} is no longer read: rename it DISRUPT_{RENAMED[old]} "
                   "(until then the default applies)")
        else:
            yield f"{key} is not a setting of DISRUPT and is ignored: a typo?"


def check_organisation(config: Any, _db: Database, _instance: Path) -> Iterable[str]:
    if config["ORGANISATION_NAME"] == SETTINGS["ORGANISATION_NAME"][0]:
        yield ("DISRUPT_ORGANISATION_NAME is the demo's: notices and the portal must name "
               "your organisation")
    email = str(config["ORGANISATION_EMAIL"])
    if "@" not in email or email.endswith(".invalid"):
        yield "DISRUPT_ORGANISATION_EMAIL is not a real address: platforms cannot answer notices"
    if not config["PUBLIC_URL"]:
        yield "DISRUPT_PUBLIC_URL is empty: e-mails and printed credentials cannot give the " \
              "portal's address"


def check_transport_security(config: Any, _db: Database, _instance: Path) -> Iterable[str]:
    public = str(config["PUBLIC_URL"])
    if public and not public.startswith("https://"):
        yield "DISRUPT_PUBLIC_URL is not https: victims' sessions would cross the network in clear"
    if public.startswith("https://") and not int(config.get("PROXY_FIX_HOPS") or 0):
        yield ("DISRUPT_PROXY_FIX_HOPS is 0: behind the reverse proxy every visitor shares one "
               "address (throttles) and cookies are not marked Secure; set it to 1")
    if config["ALLOW_LOOPBACK"]:
        yield "DISRUPT_ALLOW_LOOPBACK is on: the checker may reach this machine (tests only)"
    if config.get("TEST_CRASH_AFTER_DELIVERY"):
        yield "DISRUPT_TEST_CRASH_AFTER_DELIVERY is on: a test hook, never for production"


def check_worker(config: Any, db: Database, _instance: Path) -> Iterable[str]:
    try:
        with db.session() as session:
            health = assess(session, now=utcnow(), limits=HealthLimits.from_config(config))
    except SQLAlchemyError:
        return
    for _code, message in health.problems:
        yield message


CHECKS: tuple[Check, ...] = (check_keys, check_database, check_mail, check_time_zone,
                             check_unread_settings, check_organisation,
                             check_transport_security, check_worker)


def diagnose(config: Any, db: Database, instance: Path) -> list[str]:
    return [problem for check in CHECKS for problem in check(config, db, instance) if problem]
