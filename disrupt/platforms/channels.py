"""Delivery of a notice by e-mail (SMTP or an outbox folder) or by a platform's HTTP API.
Each carries the request's idempotency key, so a receiver can drop a repeated delivery."""
from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx

from disrupt.platforms.models import RemovalRequest


class DeliveryError(Exception):
    pass


def message_id(request: RemovalRequest, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1] or "disrupt.invalid"
    return f"<notice-{request.idempotency_key}@{domain}>"


def build_email(request: RemovalRequest, config: Any) -> EmailMessage:
    msg = EmailMessage()
    sender = config["ORGANISATION_EMAIL"]
    msg["From"] = f'{config["ORGANISATION_NAME"]} <{sender}>'
    msg["To"] = request.recipient
    msg["Subject"] = request.subject
    msg["Message-ID"] = message_id(request, sender)
    msg["Date"] = format_datetime(request.created_at)
    msg["X-Disrupt-Idempotency-Key"] = request.idempotency_key
    msg.set_content(request.body)
    return msg


def send_email(request: RemovalRequest, config: Any) -> None:
    msg = build_email(request, config)
    if config["MAIL_TRANSPORT"] == "outbox":
        folder = Path(config["OUTBOX_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        # Named by the key: a repeated delivery overwrites instead of duplicating.
        (folder / f"{request.idempotency_key}.eml").write_bytes(msg.as_bytes())
        return
    try:
        if config["SMTP_SSL"]:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                config["SMTP_HOST"], config["SMTP_PORT"], timeout=30,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=30)
        with smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["SMTP_USERNAME"]:
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP: {exc}") from exc


def api_payload(request: RemovalRequest, config: Any) -> dict[str, Any]:
    """The documented JSON body of an API notice (README, "Platform API")."""
    return {
        "idempotency_key": request.idempotency_key,
        "legal_basis": request.legal_basis,
        "language": request.language,
        "notifier": {
            "name": config["ORGANISATION_NAME"],
            "email": config["ORGANISATION_EMAIL"],
            "trusted_flagger": bool(config["TRUSTED_FLAGGER"]),
        },
        "urls": [u.url for u in request.urls],
        "subject": request.subject,
        "notice": request.body,
    }


def send_api(request: RemovalRequest, config: Any) -> None:
    try:
        response = httpx.post(
            request.recipient or "",
            content=json.dumps(api_payload(request, config)),
            headers={"Content-Type": "application/json",
                     "Idempotency-Key": request.idempotency_key,
                     "User-Agent": config["USER_AGENT"]},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"API: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(f"API: HTTP {response.status_code}: {response.text[:200]}")


def deliver(request: RemovalRequest, config: Any) -> None:
    if request.channel == "email":
        send_email(request, config)
    elif request.channel == "api":
        send_api(request, config)
    else:
        raise DeliveryError(f"channel {request.channel!r} is not sent automatically")
