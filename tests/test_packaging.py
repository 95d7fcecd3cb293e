"""An installed wheel carries the templates and migrations, and finds them."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_templates_migrations_and_static(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("disrupt-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").rglob("*"):
        if template.is_file():
            assert f"disrupt/templates/{template.relative_to(ROOT / 'templates')}" in names
    assert "disrupt/migrations/env.py" in names
    assert any(n.startswith("disrupt/migrations/versions/") for n in names)
    assert "disrupt/static/css/app.css" in names

    # Unpacked without the source tree, the package finds its own copies.
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = subprocess.run(
        [sys.executable, "-c",
         "from disrupt.paths import templates_dir, migrations_dir;"
         "print(templates_dir()); print(migrations_dir())"],
        capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(target)},
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    templates, migrations = probe.stdout.split()
    assert templates == str(target / "disrupt" / "templates")
    assert migrations == str(target / "disrupt" / "migrations")
