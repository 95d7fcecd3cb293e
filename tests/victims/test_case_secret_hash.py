"""The case secret is an argon2id password hash at parameters sized for an 80-bit random code;
staff passwords, chosen by people, keep the library's costly defaults. A case opened before
(costly parameters) still opens, and its hash moves to the code parameters when it does."""
from __future__ import annotations

from argon2 import PasswordHasher, extract_parameters
from cryptography.fernet import Fernet

from disrupt.cases.models import Case
from disrupt.db import utcnow
from disrupt.security import DUMMY_CODE_HASH, DUMMY_HASH, DataCipher, canonical_code
from disrupt.victims.services import find_case_by_credentials, open_case

CIPHER = DataCipher(Fernet.generate_key().decode())


def _open(session) -> tuple[Case, str]:
    return open_case(session, age_group="adult", language="en", consent_notices=True,
                     consent_hash_sharing=False, contact=None, urls=[], hashes=[],
                     cipher=CIPHER, now=utcnow())


def _params(stored: str) -> tuple[int, int, int]:
    p = extract_parameters(stored)
    return p.time_cost, p.memory_cost, p.parallelism


def test_case_secrets_use_the_code_parameters_and_staff_the_defaults(db):
    from disrupt.accounts.services import create_user

    with db.session() as session:
        case, secret = _open(session)
        user = create_user(session, email="cw@example.org", name="cw",
                           password="correct horse battery", role="caseworker", now=utcnow())
        session.commit()
        assert case.secret_hash.startswith("$argon2id$")
        assert _params(case.secret_hash) == (1, 8192, 1)
        assert _params(DUMMY_CODE_HASH) == (1, 8192, 1)  # an unknown reference costs the same
        defaults = PasswordHasher()
        assert _params(user.password_hash) == (defaults.time_cost, defaults.memory_cost,
                                               defaults.parallelism)
        assert _params(DUMMY_HASH) == _params(user.password_hash)
        assert find_case_by_credentials(session, case.reference, secret) is case
        assert find_case_by_credentials(session, case.reference, "0000-0000-0000-0000") is None


def test_a_case_hashed_with_the_old_parameters_opens_and_is_rehashed(db):
    with db.session() as session:
        case, secret = _open(session)
        case.secret_hash = PasswordHasher().hash(canonical_code(secret))  # as opened before
        session.commit()
        old = case.secret_hash
        assert find_case_by_credentials(session, case.reference, "0000-0000-0000-0000") is None
        assert session.get(Case, case.id).secret_hash == old  # a wrong secret changes nothing
        assert find_case_by_credentials(session, case.reference, secret) is case
        session.commit()
        assert case.secret_hash != old and _params(case.secret_hash) == (1, 8192, 1)
        assert find_case_by_credentials(session, case.reference, secret) is case
