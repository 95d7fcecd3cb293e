"""Where Meta's PDQ reference images are: $DISRUPT_PDQ_REFERENCE, else shared/ beside the
checkout (as in CI), else the workplace copy. Missing under CI=true is a failure, not a skip."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def _find() -> Path | None:
    """The folder, resolved: tests compare paths from glob with paths built from the CSV,
    and a symlinked shared/ must give both the same spelling."""
    env = os.environ.get("DISRUPT_PDQ_REFERENCE")
    if env:
        return Path(env).resolve()
    candidates = [parent / "shared" / "fixtures" / "pdq-reference"
                  for parent in Path(__file__).resolve().parents]
    candidates.append(Path("/work/shared/fixtures/pdq-reference"))
    found = next((path for path in candidates if (path / "expected-pdq.csv").is_file()), None)
    return found.resolve() if found is not None else None


PDQ_REFERENCE: Path | None = _find()


def require_pdq_reference() -> Path:
    if PDQ_REFERENCE is not None and (PDQ_REFERENCE / "expected-pdq.csv").is_file():
        return PDQ_REFERENCE
    message = "PDQ reference fixtures not found (set DISRUPT_PDQ_REFERENCE)"
    if os.environ.get("CI") == "true" or os.environ.get("DISRUPT_PDQ_REFERENCE"):
        pytest.fail(message)
    pytest.skip(message)
