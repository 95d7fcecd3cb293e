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

from disrupt.events import outbound_address, require_listeners
from disrupt.paths import private_folder, write_private_file
from disrupt.platforms.models import REPLY_STATUSES, RemovalRequest
from disrupt.platforms.services import PlatformReply

# A 4xx answer a retry cannot change; the others (408, 409, 425, 429) are worth retrying.
_RETRYABLE_4XX = {408, 409, 425, 429}


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def organisation_email(config: Any, *, to: str, subject: str, body: str,
                       key: str) -> EmailMessage:
    """A plain-text e-mail from the organisation. `key` makes its Message-ID
    (<key@sender's domain>), by which a receiver can drop a repeated delivery."""
    msg = EmailMessage()
    sender = config["ORGANISATION_EMAIL"]
    msg["From"] = f'{config["ORGANISATION_NAME"]} <{sender}>'
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{key}@{sender.rsplit('@', 1)[-1] or 'disrupt.invalid'}>"
    msg.set_content(body)
    return msg


def build_email(request: RemovalRequest, config: Any) -> EmailMessage:
    msg = organisation_email(config, to=request.recipient or "", subject=request.subject,
                             body=request.body, key=f"notice-{request.idempotency_key}")
    msg["Date"] = format_datetime(request.created_at)
    msg["X-Disrupt-Idempotency-Key"] = request.idempotency_key
    return msg


def send_email(request: RemovalRequest, config: Any) -> None:
    transmit(build_email(request, config), config, key=request.idempotency_key)


def send_internal_email(config: Any, *, to: str, subject: str, body: str, key: str) -> None:
    """A message to the organisation's own staff (escalations), same transport as notices."""
    transmit(organisation_email(config, to=to, subject=subject, body=body, key=key), config,
             key=key)


def transmit(msg: EmailMessage, config: Any, *, key: str) -> None:
    if config["MAIL_TRANSPORT"] == "outbox":
        folder = private_folder(Path(config["OUTBOX_DIR"]))
        # Named by the key: a repeated delivery overwrites instead of duplicating.
        write_private_file(folder / f"{key}.eml", msg.as_bytes())
        return
    try:
        with smtp_session(config) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP: {exc}") from exc


def smtp_session(config: Any) -> smtplib.SMTP:
    """A connection to the configured SMTP server, TLS and login done (a context manager).
    Used to send, and by `disrupt doctor` to check the settings."""
    timeout = float(config["SEND_TIMEOUT_SECONDS"])
    if config["SMTP_SSL"]:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            config["SMTP_HOST"], config["SMTP_PORT"], timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=timeout)
    try:
        if config["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["SMTP_USERNAME"]:
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
    except BaseException:
        smtp.close()
        raise
    return smtp


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


def send_api(request: RemovalRequest, config: Any) -> PlatformReply | None:
    """POST the notice to the address the checker's network guard vouched for; no proxy
    from the environment, no redirect followed. An error says only the status line: the
    answer's body is the remote's words, never shown."""
    url = request.recipient or ""
    timeout = float(config["SEND_TIMEOUT_SECONDS"])
    require_listeners(outbound_address)
    try:
        ((_, (address, port)),) = outbound_address.send(
            url, allow_loopback=bool(config["ALLOW_LOOPBACK"]), timeout=timeout)
        target = httpx.URL(url)
    except ValueError as exc:  # the guard's refusal, or a URL httpx cannot read
        raise DeliveryError(f"API: {exc}" if str(exc).startswith("refused")
                            else "API: not a usable URL", permanent=True) from exc
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with httpx.Client(trust_env=False, follow_redirects=False) as client:
            response = client.post(
                target.copy_with(host=address, port=port, username=None, password=None,
                                 fragment=None),
                content=json.dumps(api_payload(request, config)),
                headers={"Host": target.netloc.decode("ascii"),
                         "Content-Type": "application/json",
                         "Idempotency-Key": request.idempotency_key,
                         "User-Agent": config["USER_AGENT"]},
                timeout=timeout, extensions=extensions,
            )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"API: {type(exc).__name__}") from exc
    if response.status_code >= 300:
        permanent = 400 <= response.status_code < 500 and \
            response.status_code not in _RETRYABLE_4XX
        raise DeliveryError(f"API: HTTP {response.status_code} {response.reason_phrase[:40]}",
                            permanent=permanent)
    return api_reply(response)


def api_reply(response: httpx.Response) -> PlatformReply | None:
    """The platform's answer, when its JSON body carries one (README, "Platform API"):
    {"status": "acknowledged|actioned|rejected", "reason": "…", "reference": "…"}."""
    try:
        answer = response.json()
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    status = answer.get("status")
    reason, reference = answer.get("reason"), answer.get("reference")
    reply = PlatformReply(
        status=status if status in REPLY_STATUSES else None,
        reason=str(reason)[:2000] if reason else None,
        reference=str(reference)[:120] if reference else None,
    )
    if reply.status == "rejected" and not reply.reason:
        reply = PlatformReply("rejected", "no reason given", reply.reference)
    return reply if reply.status or reply.reference else None


def deliver(request: RemovalRequest, config: Any) -> PlatformReply | None:
    """Send the notice once; returns what the platform answered, if anything."""
    if request.channel == "email":
        send_email(request, config)
        return None
    if request.channel == "api":
        return send_api(request, config)
    raise DeliveryError(f"channel {request.channel!r} is not sent automatically",
                        permanent=True)
