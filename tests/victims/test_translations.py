"""The portal's French catalogue: complete, in step with the code, and compiled."""
from __future__ import annotations

import subprocess
import sys
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "translations" / "fr" / "LC_MESSAGES"


def _ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def test_every_portal_string_is_in_the_french_catalogue(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract",
                    "-F", "translations/babel.cfg", "-k", "_l", "-k", "lazy_gettext",
                    "-o", str(pot), "."], cwd=ROOT, check=True)
    extracted = _ids(read_po(pot.open("rb")))
    assert len(extracted) > 150
    po = read_po((CATALOGUE / "messages.po").open("rb"))
    missing = extracted - _ids(po)
    assert not missing, f"run `make translations` and translate: {sorted(map(str, missing))[:5]}"
    untranslated = [m.id for m in po if m.id and (not m.string or m.fuzzy or
                    (isinstance(m.string, tuple) and not all(m.string)))]
    assert not untranslated, untranslated[:5]


def test_the_compiled_catalogue_matches_the_po_file():
    po = read_po((CATALOGUE / "messages.po").open("rb"))
    mo = read_mo(BytesIO((CATALOGUE / "messages.mo").read_bytes()))
    def plain(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    expected = {plain(m.id): plain(m.string) for m in po if m.id}
    compiled = {plain(m.id): plain(m.string) for m in mo if m.id}
    assert compiled == expected, "run `make translations` to compile the catalogue"


def test_placeholders_survive_translation():
    import re

    po = read_po((CATALOGUE / "messages.po").open("rb"))
    pattern = re.compile(r"%\(\w+\)[sd]")
    for message in po:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[1]
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        for target in targets:
            assert sorted(pattern.findall(source)) == sorted(pattern.findall(target)), source
