"""Marking text for translation where it is defined, translating it where it is shown.

Services never import Flask, so they cannot call gettext; they mark their user-facing
constants with :func:`N_` (``make translations`` extracts it), and the page or report that
shows one calls ``_()`` on it in the reader's language."""
from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802 (the conventional name extraction tools know)
    return text
