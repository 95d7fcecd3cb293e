"""Print the README's settings table from disrupt.config.SETTINGS (`--write` updates README)."""
from __future__ import annotations

import sys
from pathlib import Path

from disrupt.config import SETTINGS

HEADER = "| variable | default | meaning |\n|---|---|---|\n"


def table() -> str:
    rows = []
    for name, (default, meaning) in SETTINGS.items():
        if default is None:
            shown = "(generated)"
        elif isinstance(default, str):
            shown = f"`{default}`" if default else "(empty)"
        else:
            shown = f"`{default!r}`"
        rows.append(f"| `DISRUPT_{name}` | {shown} | {meaning} |")
    return HEADER + "\n".join(rows) + "\n"


def main() -> None:
    if "--write" not in sys.argv:
        print(table(), end="")
        return
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    start = text.index(HEADER)
    end = text.index("\n\n", start)
    readme.write_text(text[:start] + table().rstrip("\n") + text[end:])


if __name__ == "__main__":
    main()
