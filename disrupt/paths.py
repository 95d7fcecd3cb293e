"""Where the top-level folders are, in a checkout and in an installed wheel."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (PACKAGE_DIR.parent / name, PACKAGE_DIR / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {name}/ folder is missing from the installation")


def templates_dir() -> Path:
    return _find("templates")


def migrations_dir() -> Path:
    return _find("migrations")


def translations_dir() -> Path:
    return _find("translations")


def private_folder(path: Path) -> Path:
    """Create `path` (and missing parents) readable by this user only, and tighten an
    existing one: the instance folder holds the database, keys and outgoing mail."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.geteuid():
        path.chmod(0o700)  # a folder another user owns is theirs to set: left as it is
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Write `data` to a file readable by this user only (0600), replacing any content."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)  # an older file may have been created wider
        fh.write(data)
