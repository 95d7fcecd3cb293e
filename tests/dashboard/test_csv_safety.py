"""Every CSV export neutralises cells a spreadsheet would run as a formula (issue 20 row 4)."""
from __future__ import annotations

import csv
import io

from sqlalchemy import update

from disrupt.csv_export import safe_cell
from disrupt.dashboard.tables import StatTable
from disrupt.platforms.models import Platform
from tests.dashboard.test_pages import console  # noqa: F401  (fixture)

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)",
           "\t=cmd", "\r=cmd"]


def test_safe_cell_quotes_formula_starts_and_keeps_numbers():
    for text in HOSTILE:
        assert safe_cell(text) == "'" + text
    assert safe_cell(-5) == -5 and safe_cell(2.5) == 2.5
    assert safe_cell("PicShare") == "PicShare" and safe_cell("") == ""


def test_stat_table_csv_cells_never_start_a_formula():
    table = StatTable("platforms", "t", (("platform", "Platform", "text"), ("n", "N", "int")),
                      [{"platform": text, "n": -1} for text in HOSTILE])
    rows = list(csv.reader(io.StringIO(table.to_csv())))[1:]
    assert [row[0] for row in rows] == ["'" + text for text in HOSTILE]
    assert {row[1] for row in rows} == {"-1"}


def test_platform_named_like_a_formula_is_quoted_in_the_dashboard_export(console, db):  # noqa: F811
    with db.session() as session:
        session.execute(update(Platform).where(Platform.name == "PicShare")
                        .values(name=HOSTILE[0]))
        session.commit()
    body = console.get("/console/dashboard/export/platforms.csv").get_data(as_text=True)
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert "'" + HOSTILE[0] in cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in cells)
