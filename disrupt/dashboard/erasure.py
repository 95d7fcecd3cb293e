"""The dashboard's part of an erasure: nothing to delete. Its facts and cells hold codes,
dates and counts per URL id, never an address or anything the victim wrote; an erased case's
URLs are folded again as "erased" (their case's status changed) and keep counting
anonymously."""
from __future__ import annotations

PERSONAL: dict[str, tuple[str, ...]] = {}
NOT_PERSONAL = {
    "takedown_facts": ("case_group", "state", "legal_basis"),
    "takedown_cells": ("grain", "legal_basis", "case_group"),
    "funnel_cells": ("grain", "case_group"),
}


def connect() -> None:
    """No listener: see the module's docstring."""
