"""A real Dovecot IMAP server for the tests: its own configuration, maildir and passwd-file
in a temporary folder, implicit TLS on 127.0.0.1 with a certificate from a CA generated
here, run as an unprivileged user (``nobody`` when the tests run as root)."""
from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
USER = "replies@hotline.test"
PASSWORD = "imap-test-password"
FOLDER = "INBOX"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
listen = {host}
protocols = imap
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
mail_location = maildir:{root}/mail/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = {host}
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot",) if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _write_ca_and_certificate(folder: Path) -> None:
    """ca.pem (trusted by the client), cert.pem and key.pem (the server's, for 127.0.0.1)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DISRUPT test IMAP CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(
              digital_signature=True, key_cert_sign=True, crl_sign=True,
              content_commitment=False, key_encipherment=False, data_encipherment=False,
              key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(HOST))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


@dataclass
class DovecotServer:
    root: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def ca_file(self) -> str:
        return str(self.root / "ca.pem")

    def settings(self, **overrides: object) -> dict[str, object]:
        """The app settings that read this server's mailbox."""
        return {"IMAP_HOST": HOST, "IMAP_PORT": self.port, "IMAP_USER": USER,
                "IMAP_PASSWORD": PASSWORD, "IMAP_FOLDER": FOLDER, "IMAP_CA_FILE": self.ca_file,
                **overrides}

    def connect(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=self.ca_file)
        imap = imaplib.IMAP4_SSL(HOST, self.port, ssl_context=context, timeout=10)
        imap.login(USER, PASSWORD)
        return imap

    def deliver(self, raw: bytes, folder: str = FOLDER) -> None:
        """Put a message in the mailbox as a platform's reply arrives (IMAP APPEND)."""
        imap = self.connect()
        try:
            status, _ = imap.append(folder, None, None, raw)
            assert status == "OK", status
        finally:
            imap.logout()

    def clear(self, folder: str = FOLDER) -> None:
        """Empty the folder between tests (the server is shared by the session)."""
        imap = self.connect()
        try:
            imap.select(folder)
            imap.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
            imap.expunge()
        finally:
            imap.logout()

    def message_count(self, folder: str = FOLDER) -> int:
        imap = self.connect()
        try:
            status, data = imap.status(folder, "(MESSAGES)")
            assert status == "OK"
            return int(data[0].split(b"MESSAGES ")[1].rstrip(b")"))
        finally:
            imap.logout()

    def flags(self, folder: str = FOLDER) -> list[bytes]:
        imap = self.connect()
        try:
            imap.select(folder, readonly=True)
            status, data = imap.uid("FETCH", "1:*", "(FLAGS)")
            return [d for d in data if isinstance(d, bytes)]
        finally:
            imap.logout()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start_dovecot(binary: str) -> DovecotServer:
    """Dovecot in the foreground (-F), as an unprivileged user; waits until it answers."""
    account = pwd.getpwuid(os.getuid()) if os.getuid() != 0 else pwd.getpwnam("nobody")
    root = Path(tempfile.mkdtemp(prefix="disrupt-dovecot-"))
    os.chmod(root, 0o700)
    for name in ("run", "state", "mail"):
        (root / name).mkdir()
    _write_ca_and_certificate(root)
    (root / "passwd").write_text(
        f"{USER}:{{PLAIN}}{PASSWORD}:{account.pw_uid}:{account.pw_gid}::{root}/mail/home::\n")
    port = _free_port()
    group = account.pw_name if os.getuid() != 0 else "nogroup"
    (root / "dovecot.conf").write_text(CONFIG.format(
        root=root, user=account.pw_name, group=group, host=HOST, port=port))
    for path in [root, *root.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    server = DovecotServer(root=root, port=port)
    kwargs: dict = {}
    if os.getuid() == 0:
        kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    server.process = subprocess.Popen(
        [binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, **kwargs)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            error = server.process.stderr.read().decode() if server.process.stderr else ""
            server.stop()
            raise RuntimeError(f"dovecot exited: {error}\n{log}")
        try:
            server.connect().logout()
            return server
        except (OSError, imaplib.IMAP4.error):
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("dovecot did not answer on 127.0.0.1 within 15 s")
