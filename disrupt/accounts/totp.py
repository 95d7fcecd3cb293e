"""TOTP (RFC 6238) second factor and one-time recovery codes. No Flask, no database."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

from disrupt.security import ALPHABET, canonical_code

STEP_SECONDS = 30
DIGITS = 6
# Codes from the step before and after are accepted too (clock drift, typing time).
VALID_WINDOW = 1
RECOVERY_CODES = 10
ISSUER = "DISRUPT"


def new_totp_secret() -> str:
    """160 random bits in base32, what authenticator apps expect."""
    return pyotp.random_base32(32)


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def current_code(secret: str, now: datetime) -> str:
    return code_at(secret, time_step(now))


def matching_step(secret: str, code: str, now: datetime, *, after: int | None) -> int | None:
    """The time step whose code equals ``code`` within the window, if it is later than
    ``after`` (the last step accepted for this user): the same code never works twice."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = time_step(now)
    found = None
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            found = step
    if found is None or (after is not None and found <= after):
        return None
    return found


def provisioning_uri(secret: str, email: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG markup, drawn on the server (no third-party request)."""
    qr = segno.make(uri, error="m")
    svg = qr.svg_inline(scale=4, dark="#000", light="#fff", title="TOTP enrolment QR code")
    return svg


def format_secret(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """80 random bits each, shown as XXXX-XXXX-XXXX-XXXX."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return codes


def recovery_digest(code: str) -> str:
    return hashlib.sha256(canonical_code(code).encode("ascii", "ignore")).hexdigest()


def looks_like_recovery_code(text: str) -> bool:
    return len(canonical_code(text)) == 16
