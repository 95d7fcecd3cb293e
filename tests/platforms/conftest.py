"""The real IMAP server (Dovecot) the platforms' e-mail replies are delivered into."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.imap import DovecotServer, dovecot_binary, start_dovecot


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """One Dovecot for the session (TLS on 127.0.0.1, a free port, its own CA)."""
    binary = dovecot_binary()
    if binary is None:
        if os.environ.get("DISRUPT_REQUIRE_DOVECOT") == "1":
            pytest.fail("Dovecot is required (DISRUPT_REQUIRE_DOVECOT=1) but not installed")
        pytest.skip("Dovecot not installed: apt-get install -y dovecot-imapd")
    server = start_dovecot(binary)
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot_server: DovecotServer) -> DovecotServer:
    """The shared server with an empty INBOX for this test."""
    dovecot_server.clear()
    return dovecot_server
