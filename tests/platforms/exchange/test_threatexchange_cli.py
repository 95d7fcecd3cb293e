"""A withdrawal reaches the partner platforms: Meta's real `threatexchange` CLI (1.2.17, in
.venv-threatexchange with DISRUPT's extension, contrib/threatexchange_disrupt; `make
threatexchange`) fetches from a running DISRUPT and matches a photo before its case is withdrawn
(or erased) and not after. The stock `stopncii` exchange, fed the same records, keeps matching:
the bug the extension exists for."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from disrupt.cases.models import Case
from disrupt.cases.services import SubmittedHash
from disrupt.db import utcnow
from disrupt.hashing.pipeline import hash_image_bytes
from disrupt.listeners import after_erasure
from disrupt.platforms.exchange.services import create_api_client
from disrupt.platforms.services import add_platform
from disrupt.security import DataCipher
from disrupt.victims.services import erase_case, open_case, withdraw_case

TX_VENV = Path(__file__).resolve().parents[3] / ".venv-threatexchange"
TX_CLI = TX_VENV / "bin" / "threatexchange"


@pytest.fixture(scope="module")
def threatexchange_cli() -> Path:
    if not TX_CLI.exists():
        if os.environ.get("DISRUPT_REQUIRE_THREATEXCHANGE") == "1":
            pytest.fail(f"threatexchange is required (DISRUPT_REQUIRE_THREATEXCHANGE=1) but "
                        f"{TX_CLI} is missing: run `make threatexchange`")
        pytest.skip(f"{TX_CLI} missing: `make threatexchange` installs threatexchange 1.2.17 "
                    "and DISRUPT's extension in .venv-threatexchange")
    return TX_CLI


class Partner:
    """One platform's threatexchange installation: its own HOME (state, credentials)."""

    def __init__(self, cli: Path, home: Path) -> None:
        self.cli, self.home = cli, home
        home.mkdir()

    def run(self, *args: str) -> str:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("TX_") and not key.lower().endswith("_proxy")}
        env.update(HOME=str(self.home), NO_PROXY="*")
        done = subprocess.run([str(self.cli), *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, f"threatexchange {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def matches(self, photo: Path) -> str:
        return self.run("match", "photo", str(photo))


def _photo(tmp_path: Path, name: str, seed: int) -> Path:
    """A blocky random picture: a strong PDQ, far from any other seed's."""
    cells = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    path = tmp_path / f"{name}.png"
    Image.fromarray(cells).resize((512, 512), Image.Resampling.NEAREST).save(path)
    return path


def _open_case_for(session, app, photo: Path) -> int:
    digest = hash_image_bytes(photo.read_bytes())
    submitted = SubmittedHash(kind="image", sha256=digest["sha256"], pipeline=digest["pipeline"],
                              pdq=digest["pdq"], pdq_quality=digest["pdq_quality"],
                              phash=digest["phash"])
    case, _ = open_case(session, age_group="adult", language="en", consent_notices=True,
                        consent_hash_sharing=True, contact=None, urls=[], hashes=[submitted],
                        cipher=DataCipher(app.config["DATA_KEY"]), now=utcnow())
    session.flush()
    return case.id


def test_threatexchange_cli_stops_matching_withdrawn_and_erased_photos(
        app, db, live_server, tmp_path, threatexchange_cli):
    photos = {name: _photo(tmp_path, name, seed)
              for seed, name in enumerate(("withdrawn", "erased", "open", "open_too"))}
    with db.session() as session:
        platform = add_platform(session, name="Alpha", domains=["alpha.example"])
        api_client, function_key = create_api_client(session, platform=platform, name="HMA",
                                                     now=utcnow())
        case_ids = {name: _open_case_for(session, app, photo) for name, photo in photos.items()}
        session.commit()
        subscription_key = api_client.subscription_key
    keys = f"{function_key},{subscription_key},{live_server}/api/exchange/v1"

    extension = Partner(threatexchange_cli, tmp_path / "with-extension")
    (extension.home / ".tx_disrupt_keys").write_text(keys)
    assert "disrupt - DisruptSignalExchangeAPI" in extension.run(
        "config", "extensions", "add", "threatexchange_disrupt")
    extension.run("config", "collab", "edit", "disrupt", "DISRUPT", "--create")
    stock = Partner(threatexchange_cli, tmp_path / "stock")
    (stock.home / ".tx_stopncii_keys").write_text(keys)
    stock.run("config", "collab", "edit", "stop_ncii", "StopNCII-shaped", "--create")

    for partner, collab in ((extension, "(DISRUPT)"), (stock, "(StopNCII-shaped)")):
        partner.run("fetch")
        for name, photo in photos.items():
            assert collab in partner.matches(photo), f"{name} photo not matched before"

    with db.session() as session:
        withdraw_case(session, session.get(Case, case_ids["withdrawn"]), utcnow())
        erase_case(session, session.get(Case, case_ids["erased"]), utcnow())
        session.commit()
        after_erasure(db, session, app.config, case_ids["erased"])

    extension.run("fetch")
    assert extension.matches(photos["withdrawn"]) == ""
    assert extension.matches(photos["erased"]) == ""
    # Two open cases: threatexchange 1.2.17's PDQ index matches nothing once reloaded if it
    # holds a single hash (a faiss multi-hash quirk unrelated to withdrawals).
    assert "pdq 0 (DISRUPT)" in extension.matches(photos["open"])
    assert "pdq 0 (DISRUPT)" in extension.matches(photos["open_too"])

    # threatexchange's own StopNCII exchange tests hashValue against Withdrawn/Deleted, so
    # the same records leave both hashes in its index.
    stock.run("fetch")
    for name, photo in photos.items():
        assert "(StopNCII-shaped)" in stock.matches(photo), f"stock client dropped {name}"


def test_extension_refuses_malformed_credentials_with_a_clear_message(
        tmp_path, threatexchange_cli):
    partner = Partner(threatexchange_cli, tmp_path / "partner")
    partner.run("config", "extensions", "add", "threatexchange_disrupt")
    partner.run("config", "collab", "edit", "disrupt", "DISRUPT", "--create")
    (partner.home / ".tx_disrupt_keys").write_text("only-one-part")
    env = {key: value for key, value in os.environ.items() if not key.startswith("TX_")}
    env.update(HOME=str(partner.home), NO_PROXY="*")
    done = subprocess.run([str(threatexchange_cli), "fetch"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "Invalid credentials from file ~/.tx_disrupt_keys" in done.stdout + done.stderr

