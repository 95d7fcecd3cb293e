"""Regenerate migrations/versions/0001_initial_schema.py from the models.

Only while nothing has been released: once a database exists in the field, add a new
revision instead (alembic revision --autogenerate). The hand-written revisions after 0001
(triggers and other DDL autogenerate cannot see) are set aside while 0001 is regenerated."""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from alembic import command

from disrupt.migrate import alembic_config

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "migrations" / "versions" / "0001_initial_schema.py"


def main() -> None:
    TARGET.unlink(missing_ok=True)
    later = [p for p in TARGET.parent.glob("*.py") if p != TARGET]
    with tempfile.TemporaryDirectory() as tmp:
        for path in later:
            shutil.move(path, Path(tmp) / path.name)
        try:
            command.revision(alembic_config(f"sqlite:///{tmp}/empty.sqlite3"),
                             message="initial schema", autogenerate=True, rev_id="0001")
        finally:
            for path in later:
                shutil.move(Path(tmp) / path.name, path)
    text = TARGET.read_text()
    text = text.replace("disrupt.db.UTCDateTime(timezone=True)", "sa.DateTime(timezone=True)")
    text = re.sub(r"^import disrupt\.db\n", "", text, flags=re.MULTILINE)
    text = re.sub(r"^Create Date: .*$", "Create Date: 2026-11-28", text, flags=re.MULTILINE)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
