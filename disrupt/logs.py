"""Structured logs for the web app and the worker: one JSON object per line on stderr, with
the request id on every line a request writes.

What goes into a log line is chosen where it is written: endpoint names, ids, counts and
exception classes — never a case's URL, reference, secret, e-mail address or hash (a test
runs the whole loop and searches every line for them)."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "process": self.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in vars(record).items()
                      if key not in _STANDARD and not key.startswith("_")})
        if record.exc_info and record.exc_info[0] is not None:
            # The class only: an exception's text can quote a URL or an address.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_id" in g and not hasattr(record, "request_id"):
            record.request_id = g.request_id
        return True


#: Libraries that log request URLs at INFO (httpx: "HTTP Request: GET <url>"): a checked URL
#: is a victim's URL; aiosmtpd (the demo's mail server) logs every recipient.
QUIET_LOGGERS = ("werkzeug", "httpx", "httpcore", "urllib3", "apscheduler.executors.default",
                 "mail.log")


def configure_logging(process: str, *, fmt: str = "json", level: int = logging.INFO,
                      stream: Any = None) -> None:
    """One handler on the root logger (replacing any), JSON or plain text."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter(process))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {process} %(levelname)s "
                                               "%(name)s %(message)s"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # werkzeug's access log prints the full path and query string; ours prints the endpoint.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def init_request_ids(app: Flask) -> None:
    log = logging.getLogger("disrupt.request")

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.monotonic()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        log.info("request", extra={
            "method": request.method, "endpoint": request.endpoint or "unknown",
            "status": response.status_code,
            "ms": round((time.monotonic() - g.get("request_started", time.monotonic())) * 1000),
        })
        return response
