"""`disrupt backup` and `disrupt restore`: the whole database in one encrypted file.

The file is encrypted with a key derived from the instance's data key (HKDF-SHA256, then
AES-256-GCM in 1 MiB chunks, each authenticated with the header, its number and whether it
is the last, so a cut, reordered or altered file is refused). The keys themselves are never
in the backup: without the data key a backup is unreadable, and so is the personal data in
the database, which that key encrypts too. Keep a copy of the data key off the machine.

SQLite is copied with its online backup API (a consistent copy while the service runs);
PostgreSQL with ``pg_dump --format=custom`` and restored with ``pg_restore``.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import make_url

MAGIC = b"DISRUPT-BACKUP\x00\x01"
CHUNK = 1 << 20
MAX_HEADER = 4096


class BackupError(Exception):
    """One line for the administrator."""


@dataclass(frozen=True)
class BackupHeader:
    database: str  # sqlite / postgresql
    created_at: str
    schema: list[str]
    key_id: str
    salt: str
    nonce_prefix: str

    def encode(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()


def key_id(data_key: str) -> str:
    """A fingerprint of the data key that says which key a backup needs, and reveals nothing
    about it."""
    return hashlib.sha256(b"disrupt-key-id:" + data_key.encode()).hexdigest()[:16]


def _aead(data_key: str, salt: bytes) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                   info=b"disrupt-backup-v1").derive(data_key.encode())
    return AESGCM(derived)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">IB", index, 1 if final else 0)


def encrypt_stream(source: BinaryIO, target: BinaryIO, *, data_key: str, database: str,
                   schema: list[str], now: datetime) -> None:
    salt, prefix = os.urandom(16), os.urandom(8)
    header = BackupHeader(database=database, created_at=now.isoformat(), schema=sorted(schema),
                          key_id=key_id(data_key), salt=base64.b64encode(salt).decode(),
                          nonce_prefix=base64.b64encode(prefix).decode()).encode()
    aead = _aead(data_key, salt)
    target.write(MAGIC + struct.pack(">I", len(header)) + header)
    index = 0
    piece = source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if piece else b""
        final = not following
        sealed = aead.encrypt(prefix + struct.pack(">I", index), piece,
                              _aad(header, index, final))
        target.write(struct.pack(">I", len(sealed)) + sealed)
        if final:
            return
        piece, index = following, index + 1


def read_header(source: BinaryIO) -> tuple[BackupHeader, bytes]:
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("this is not a DISRUPT backup file")
    (size,) = struct.unpack(">I", source.read(4) or b"\0\0\0\0")
    if not 0 < size <= MAX_HEADER:
        raise BackupError("the backup file is damaged (header)")
    raw = source.read(size)
    try:
        return BackupHeader(**json.loads(raw)), raw
    except (ValueError, TypeError) as exc:
        raise BackupError("the backup file is damaged (header)") from exc


def decrypt_stream(source: BinaryIO, target: BinaryIO, *, data_key: str) -> BackupHeader:
    header, raw = read_header(source)
    if header.key_id != key_id(data_key):
        raise BackupError(f"this backup was made with another data key (key id {header.key_id}; "
                          f"this instance's is {key_id(data_key)}): restore needs the data key "
                          "of the instance that made it")
    aead = _aead(data_key, base64.b64decode(header.salt))
    prefix = base64.b64decode(header.nonce_prefix)
    index = 0
    while True:
        length = source.read(4)
        if len(length) < 4:
            raise BackupError("the backup file is cut short")
        (size,) = struct.unpack(">I", length)
        if size > CHUNK + 16:
            raise BackupError("the backup file is damaged (chunk size)")
        sealed = source.read(size)
        for final in (False, True):
            try:
                piece = aead.decrypt(prefix + struct.pack(">I", index), sealed,
                                     _aad(raw, index, final))
                break
            except InvalidTag:
                continue
        else:
            raise BackupError(f"the backup file is damaged or altered (chunk {index})")
        target.write(piece)
        if final:
            if source.read(1):
                raise BackupError("the backup file has data after its end")
            return header
        index += 1


@contextmanager
def private_folder() -> Iterator[Path]:
    """A temporary folder only this user can read (the plain database passes through it)."""
    folder = Path(tempfile.mkdtemp(prefix="disrupt-backup-"))
    os.chmod(folder, 0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _pg_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError as exc:
        raise BackupError(f"{command[0]} is not installed: install the PostgreSQL client "
                          f"(apt-get install postgresql-client) to {what}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{command[0]} failed: {last}")


def dump_plain(url: str, folder: Path) -> Path:
    """A consistent plain copy of the database in ``folder``."""
    if url.startswith("sqlite"):
        copy = folder / "database.sqlite3"
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return copy
    copy = folder / "database.pgdump"
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(copy),
          "--dbname", _pg_conninfo(url)], "back up a PostgreSQL database")
    return copy


def load_plain(url: str, plain: Path, *, force: bool, tables_now: int) -> None:
    """Put the plain copy into the database at ``url`` (empty unless ``force``)."""
    if tables_now and not force:
        raise BackupError(f"the target database already has {tables_now} tables: restore into "
                          "an empty database, or pass --force to replace everything in it")
    if url.startswith("sqlite"):
        target_path = _sqlite_path(url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(plain)
        target = sqlite3.connect(target_path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        os.chmod(target_path, 0o600)
        return
    command = ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
               "--dbname", _pg_conninfo(url)]
    if force:
        command[1:1] = ["--clean", "--if-exists"]
    _run([*command, str(plain)], "restore a PostgreSQL database")


def write_backup(plain: Path, out: Path, *, data_key: str, database: str, schema: list[str],
                 now: datetime) -> None:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(plain, "rb") as source, os.fdopen(fd, "wb") as target:
        encrypt_stream(source, target, data_key=data_key, database=database, schema=schema,
                       now=now)


def read_backup(path: Path, folder: Path, *, data_key: str) -> tuple[BackupHeader, Path]:
    plain = folder / "restored"
    with open(path, "rb") as source, open(plain, "wb") as target:
        header = decrypt_stream(source, target, data_key=data_key)
    return header, plain
