"""The PDQ reference folder is found under one spelling, even through a symlink."""
from __future__ import annotations

from tests.support import fixtures


def test_reference_path_is_resolved_through_a_symlink(tmp_path, monkeypatch):
    real = tmp_path / "real" / "pdq-reference"
    real.mkdir(parents=True)
    (real / "expected-pdq.csv").write_text("FilePath,Hash\n")
    link = tmp_path / "link"
    link.symlink_to(real.parent)
    monkeypatch.setenv("DISRUPT_PDQ_REFERENCE", str(link / "pdq-reference"))
    found = fixtures._find()
    assert found == real.resolve()
    # what the parity tests do: a path from a glob and a path built from the CSV agree
    assert sorted(found.glob("*.csv"))[0] == (found / "expected-pdq.csv").resolve()
