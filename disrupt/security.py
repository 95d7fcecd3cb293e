"""Secrets stored as password hashes, personal data encrypted at rest, case credentials."""
from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

# Staff passwords are chosen by people: argon2id at the library's defaults (RFC 9106's
# second recommendation, 64 MiB, about 0.1 s of CPU). A case secret is 80 random bits drawn
# here: no guessing strategy beats 2^79 tries on average, so a costly hash adds nothing to
# its safety, while it costs the portal its capacity under a crowd (bench/load.py). It is
# still an argon2id password hash, at parameters sized for a random code.
_hasher = PasswordHasher()
_code_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)

# Crockford base32 without I, L, O, U: nothing a stressed reader can confuse.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def hash_code(code: str) -> str:
    """The hash of a random code made by :func:`new_case_secret` (never a person's password)."""
    return _code_hasher.hash(code)


def code_needs_rehash(stored_hash: str) -> bool:
    """True for a case secret hashed with other parameters (before they were sized for codes)."""
    try:
        return _code_hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return False


def verify_secret(stored_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against this keeps the time of a lookup for an unknown reference the same.
DUMMY_HASH = _hasher.hash("no such account")
DUMMY_CODE_HASH = _code_hasher.hash("no such case")


def _groups(count: int) -> str:
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(4)) for _ in range(count))


def new_case_reference() -> str:
    return f"DSR-{_groups(2)}"


def new_case_secret() -> str:
    """80 random bits in groups of four, easy to copy by hand."""
    return _groups(4)


def canonical_code(text: str) -> str:
    """Upper-case, drop spaces and dashes, map look-alike letters, keep the dash layout."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    return cleaned


class DataCipher:
    """Encrypts personal data (contacts, messages) with the instance's Fernet key."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode() if isinstance(key, str) else key)

    def encrypt(self, text: str | None) -> bytes | None:
        if text is None or text == "":
            return None
        return self._fernet.encrypt(text.encode("utf-8"))

    def encrypt_bytes(self, data: bytes) -> bytes:
        """Files at rest (evidence captures): the same key, bytes in and out."""
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Raises cryptography's InvalidToken for a file altered or sealed with another key."""
        return self._fernet.decrypt(token)

    def decrypt(self, token: bytes | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            return None
