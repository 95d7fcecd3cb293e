"""Settings: defaults here, overridden by instance/config.py, then DISRUPT_* environment
variables, then the mapping given to create_app. Read only in the factory."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

# name -> (default, description). The README's settings table is generated from this.
SETTINGS: dict[str, tuple[Any, str]] = {
    "DATABASE_URL": (None, "SQLAlchemy URL; default a SQLite file instance/disrupt.sqlite3. "
                           "postgresql+psycopg://user@host/db for PostgreSQL"),
    "SECRET_KEY": (None, "Flask session key; generated once into instance/secret_key"),
    "DATA_KEY": (None, "Fernet key encrypting personal data at rest; generated once into "
                       "instance/data_key. Keep a copy off the machine"),
    "ORGANISATION_NAME": ("DISRUPT demo hotline", "Notifier name written into notices"),
    "ORGANISATION_EMAIL": ("notices@disrupt.invalid", "Notifier e-mail, the From of notices"),
    "TRUSTED_FLAGGER": (False, "The organisation is a DSA art. 22 trusted flagger"),
    "MAIL_TRANSPORT": ("outbox", "outbox (write .eml files to OUTBOX_DIR) or smtp"),
    "OUTBOX_DIR": (None, "Folder for outgoing mail with MAIL_TRANSPORT=outbox; "
                         "default instance/outbox"),
    "SMTP_HOST": ("127.0.0.1", "SMTP server"),
    "SMTP_PORT": (25, "SMTP port"),
    "SMTP_USERNAME": ("", "SMTP login, empty for none"),
    "SMTP_PASSWORD": ("", "SMTP password"),
    "SMTP_STARTTLS": (False, "Upgrade the SMTP connection with STARTTLS"),
    "SMTP_SSL": (False, "Connect with implicit TLS (port 465)"),
    "SEND_MAX_ATTEMPTS": (8, "Attempts before a notice is marked failed (backoff doubles)"),
    "SEND_RETRY_SECONDS": (60, "First retry delay of a failed send"),
    "SEND_TIMEOUT_SECONDS": (30.0, "Seconds one notice delivery (SMTP or platform API) may take "
                                   "before it counts as failed and is retried"),
    "IMAP_HOST": ("", "IMAP server of the organisation's mailbox, where platforms' e-mail "
                      "replies arrive; empty: the worker reads no mailbox"),
    "IMAP_PORT": (993, "IMAP port (implicit TLS; the connection is always TLS)"),
    "IMAP_USER": ("", "IMAP login"),
    "IMAP_PASSWORD": ("", "IMAP password"),
    "IMAP_FOLDER": ("INBOX", "Mailbox folder the worker reads (read-only: nothing is deleted "
                             "or marked)"),
    "IMAP_CA_FILE": ("", "PEM file of the CA that signed the IMAP server's certificate; "
                         "empty: the system's trusted CAs"),
    "IMAP_POLL_SECONDS": (300.0, "How often the worker reads new e-mails from the mailbox "
                                 "(IMAP or Maildir)"),
    "MAILBOX_MAILDIR": ("", "A Maildir folder (with cur/ and new/) on this machine that the "
                            "worker reads platforms' replies from instead of IMAP, read-only; "
                            "empty: IMAP (IMAP_HOST)"),
    "ESCALATION_EMAIL": ("", "Address that also gets an e-mail when removal requests pass their "
                             "deadline (they always show on the console); empty for none"),
    "TEST_CRASH_AFTER_DELIVERY": (False, "Test hook: the notice job exits right after a delivery, "
                                         "before recording it. Never set in production"),
    "ALLOW_LOOPBACK": (False, "Let the URL checker reach 127.0.0.0/8 (tests and demo only)"),
    "CHECK_TIMEOUT": (15.0, "Total seconds one request of a URL check may take (redirects "
                            "included)"),
    "CHECK_MAX_BYTES": (5_000_000, "Bytes read at most from one checked URL"),
    "CHECK_MAX_REDIRECTS": (5, "Redirects followed at most"),
    "CHECK_MAX_MEDIA_BYTES": (10_000_000, "Bytes read at most from a page's main picture when "
                                          "it is compared with the case's hashes"),
    "CHECK_MAX_PICTURES": (12, "Pictures of one page a check compares at most with the case's "
                               "hashes (in page order; it stops at the first match)"),
    "CHECK_MAX_MEDIA_PIXELS": (8_000_000, "Pixels a check decodes at most from one picture "
                                          "(larger JPEGs are decoded at 1/2, 1/4 or 1/8 scale; "
                                          "other larger pictures are not compared)"),
    "CHECK_DEADLINE_SECONDS": (60.0, "Total seconds one check may spend on the page, the "
                                     "soft-404 probe and the pictures together"),
    "CHECK_BATCH_SIZE": (50, "URLs a worker claims at a time (it claims more as checks finish)"),
    "CHECK_CONCURRENCY": (16, "Checks a worker runs at once (threads)"),
    "CHECK_DRAIN_SECONDS": (60.0, "A worker tick stops claiming new URLs after this long"),
    "HOST_CONCURRENCY": (2, "Requests at once to one host, across all workers (a platform can "
                            "override it)"),
    "HOST_SPACING_SECONDS": (1.0, "Seconds between the starts of two requests to one host, "
                                  "across all workers (a platform can override it)"),
    "HOST_SLOT_LEASE_SECONDS": (60.0, "How long a worker's hold on a host slot lasts unless "
                                      "renewed (a crashed worker's slots free up after it)"),
    "SOFT404_PROBE_TTL_SECONDS": (86400.0, "How long a host's soft-404 fingerprint (the answer "
                                           "to a random path) is reused"),
    "LEASE_SECONDS": (300, "How long a worker's claim on a URL lasts"),
    "WORKER_TICK_SECONDS": (5.0, "How often the worker looks for due work"),
    "TIME_SCALE": (1.0, "Multiplier on every schedule interval (the demo uses 1/3600: hours "
                        "become seconds)"),
    "CHECK_INVALID_AFTER_DAYS": (7.0, "Days of unbroken network failures (DNS, timeouts, refused "
                                      "connections) before a URL is no longer checked; a "
                                      "caseworker can check it again"),
    "CHECK_FIRST_DELAY_MINUTES": (20.0, "A new URL is first checked after a random delay of up to "
                                        "this many minutes (at least a fifth of it), so that a "
                                        "site cannot tie the check to the report (README)"),
    "REMOVAL_CONFIRM_SECONDS": (3600, "A removal counts after a second removal verdict this long "
                                      "after the first"),
    "USER_AGENT": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                   "Gecko) Chrome/142.0.0.0 Safari/537.36",
                   "User-Agent of URL checks: an ordinary browser's by default, so that an "
                   "abuser-run site cannot show the checker another picture (README)"),
    "ERASED_HASH_RETENTION_DAYS": (30, "Days the hashes of an erased case stay in the exchange as "
                                       "Deleted, so partner platforms delete them; then purged"),
    "RETENTION_PURGE_SECONDS": (3600, "How often the worker runs the retention purge"),
    "EVIDENCE_RETENTION_DAYS": (365, "Days evidence captures (encrypted WARC files of reported "
                                     "pages) are kept; then the worker deletes them, except "
                                     "those on a legal hold"),
    "EVIDENCE_DIR": (None, "Folder of the encrypted evidence captures; default "
                           "instance/evidence"),
    "SESSION_IDLE_MINUTES": (30, "Idle minutes before a caseworker's session ends"),
    "VICTIM_IDLE_MINUTES": (15, "Idle minutes before a victim's session (her case page) ends"),
    "VICTIM_REFERENCE_SLOW_AFTER": (20, "Wrong secrets for one case reference (from any "
                                        "client) before answers about it are slowed down; the "
                                        "right secret always opens the case"),
    "VICTIM_REFERENCE_DELAY_SECONDS": (2.0, "Longest wait added to an answer about a case "
                                            "reference under guessing (it doubles from 1/8 s "
                                            "with each further wrong secret)"),
    "VICTIM_CLIENT_ATTEMPTS": (60, "Wrong reference/secret pairs from one client address before "
                                   "that address is locked"),
    "VICTIM_LOCKOUT_MINUTES": (30, "How long a locked client address stays locked; also the "
                                   "window in which wrong secrets are counted"),
    "VICTIM_CASES_PER_CLIENT_HOUR": (10, "Cases one client address may open in an hour"),
    "VICTIM_URLS_PER_REQUEST": (200, "Web addresses a victim may send in one form"),
    "VICTIM_URLS_PER_CASE": (500, "Web addresses one case may hold (victim's additions)"),
    "VICTIM_HASHES_PER_REQUEST": (100, "Image fingerprints a victim may send in one form"),
    "VICTIM_HASHES_PER_CASE": (200, "Image fingerprints one case may hold"),
    "MAX_REQUEST_BYTES": (2_000_000, "Largest request body accepted; a larger one is refused "
                                     "(413) before it is read"),
    "CASE_MATCHES_PAGE_SIZE": (50, "Matches with other cases listed per page on a case page"),
    "PLANTED_HASH_CASES": (5, "A fingerprint found in at least this many other cases is flagged "
                              "\"possibly planted\" on the case page"),
    "PUBLIC_URL": ("", "The portal's address as victims reach it (https://…), written in the "
                       "update e-mails; empty: the e-mails give no link"),
    "VICTIM_UPDATE_SECONDS": (60.0, "How often the worker looks for case news to e-mail to the "
                                  "victims who left an address"),
    "VICTIM_UPDATE_MIN_HOURS": (6.0, "At most one update e-mail per case in this many hours; "
                                   "news in between goes in the next one"),
    "VICTIM_CONTACT_CONFIRM_HOURS": (72.0, "How long the link that confirms a victim's e-mail "
                                        "address works; no update e-mail goes to an "
                                        "unconfirmed address"),
    "ORGANISATION_TIMEZONE": ("Europe/Paris", "The organisation's time zone: every date and time "
                                              "the portal, the console and referral summaries "
                                              "show is in it, with the zone's name"),
    "HEARTBEAT_STALE_TICKS": (3, "Worker ticks without a heartbeat before the console and "
                              "/healthz say no worker is running"),
    "CHECK_LAG_ALERT_SECONDS": (3600.0, "How long the oldest due URL check may wait before the "
                                "console and /healthz say checks are late"),
    "METRICS_TOKEN": ("", "Bearer token for /metrics (Prometheus); empty: no metrics page"),
    "LOG_FORMAT": ("json", "json (one object per line, with request ids) or text, for "
                   "`disrupt web`, `disrupt worker` and disrupt.wsgi"),
    "PROXY_FIX_HOPS": (0, "Reverse proxies in front of the app whose X-Forwarded-For, "
                       "-Proto and -Host it trusts (1 behind Caddy or nginx; 0 when served "
                       "directly)"),
    "RDAP_BOOTSTRAP_URL": ("https://data.iana.org/rdap/", "Where IANA's RDAP bootstrap "
                           "files are (dns.json, ipv4.json, ipv6.json): who answers for which "
                           "TLD and address block"),
    "TRACE_TTL_HOURS": (168.0, "How long a host's trace (network holder, country, abuse "
                        "contact, registrar, CDN) is reused before it is traced again"),
    "TRACE_SECONDS": (60.0, "How often the worker traces the hosts of reported URLs"),
    "DEMO_MAIL_DIR": ("", "Demo only: folder of the e-mails the demo's SMTP server received, "
                      "readable from the console at /console/demo/mail/; empty on a real "
                      "instance (no such page)"),
    "LEAVE_SITE_URL": ("https://www.wikipedia.org/", "Neutral page the portal's \"Leave this "
                                                     "site\" button and Shift×3 open"),
    "STATS_FOLD_SECONDS": (30.0, "How often the worker counts changed URLs into the statistics"),
    "STATS_FOLD_ON_VIEW": (5000, "URLs not yet counted that `disrupt stats` counts first (0: "
                                 "leave it all to the worker; the dashboard never folds)"),
}

_TRUE = {"1", "true", "yes", "on"}


def _coerce(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in _TRUE
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            if "/" in raw:
                num, den = raw.split("/", 1)
                return float(num) / float(den)
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"DISRUPT_{name}={raw!r} is not a valid {type(default).__name__}") from exc
    return raw


#: Settings that were renamed: the old name is no longer read (`disrupt doctor` says so).
RENAMED = {"PORTAL_TIMEZONE": "ORGANISATION_TIMEZONE"}
#: DISRUPT_* variables that are not settings: read by the process, the tests or the proxy.
NOT_SETTINGS = {"INSTANCE_PATH", "DOMAIN", "REQUIRE_CHROMIUM", "REQUIRE_DOVECOT",
                "REQUIRE_POSTGRES", "REQUIRE_THREATEXCHANGE"}


def unread_environment(environ: dict[str, str] | None = None) -> list[str]:
    """The DISRUPT_* variables that no setting reads (a typo, or a renamed setting)."""
    environ = dict(os.environ if environ is None else environ)
    return sorted(key for key in environ if key.startswith("DISRUPT_")
                  and key.removeprefix("DISRUPT_") not in SETTINGS
                  and key.removeprefix("DISRUPT_") not in NOT_SETTINGS
                  and not key.startswith("DISRUPT_TEST_"))


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    environ = dict(os.environ if environ is None else environ)
    found: dict[str, Any] = {}
    for name, (default, _) in SETTINGS.items():
        key = f"DISRUPT_{name}"
        if key in environ:
            found[name] = _coerce(name, environ[key], default)
    return found


def persisted_secret(instance_path: Path, filename: str, make: Any) -> str:
    """Read a generated secret from the instance folder, creating it (mode 0600) on first run."""
    path = instance_path / filename
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def finish(config: dict[str, Any], instance_path: Path) -> None:
    """Fill the settings whose defaults depend on the instance folder."""
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance_path / 'disrupt.sqlite3'}"
    if not config.get("OUTBOX_DIR"):
        config["OUTBOX_DIR"] = str(instance_path / "outbox")
    if not config.get("EVIDENCE_DIR"):
        config["EVIDENCE_DIR"] = str(instance_path / "evidence")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = persisted_secret(
            instance_path, "secret_key", lambda: secrets.token_hex(32)
        )
    if not config.get("DATA_KEY"):
        config["DATA_KEY"] = persisted_secret(
            instance_path, "data_key", lambda: Fernet.generate_key().decode()
        )
