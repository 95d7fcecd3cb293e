"""CSV for spreadsheets: every export of the app writes its cells through here.

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return that it
strips first) as a formula; such text cells get a leading apostrophe. Numbers are written
as they are (a negative number is not text)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose rows pass through :func:`safe_cell`. Lines end with CRLF (RFC 4180),
    so a cell holding CR or LF is always quoted."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])
