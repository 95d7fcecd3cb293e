"""Capture what a process would log in production (the JSON handler of disrupt.logs at INFO),
then give the root logger back to pytest."""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from disrupt.logs import QUIET_LOGGERS, configure_logging


@contextmanager
def production_logs(process: str = "test") -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {name: logging.getLogger(name).level for name in QUIET_LOGGERS})
    buffer = io.StringIO()
    configure_logging(process, stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


def log_lines(buffer: io.StringIO) -> list[dict]:
    """Every line, parsed: a line that is not one JSON object fails the test."""
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]
