"""Fetch libheif-js from the npm registry and copy its browser bundle into
disrupt/static/vendor/libheif/ (see the README there). Checks the tarball's integrity."""
from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.23.2"
INTEGRITY = ("sha512-qvHIXtggEsw1lCNCWBYKloL2Z36DJBm0R9ThGiH2JnhKYdeZFLPFkP30Lw4yMskxxhx0bKg1gLrBHX1D"
             "2w2pSw==")
FILES = {"package/libheif-wasm/libheif-bundle.mjs": "libheif-bundle.mjs",
         "package/LICENSE": "LICENSE", "package/libheif-wasm/LICENSE": "LICENSE-libheif"}
TARGET = Path(__file__).resolve().parents[1] / "disrupt" / "static" / "vendor" / "libheif"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"libheif-js@{VERSION}", "--silent"], cwd=tmp,
                       check=True, capture_output=True)
        tarball = Path(tmp) / f"libheif-js-{VERSION}.tgz"
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()
                                              ).decode()
        if digest != INTEGRITY:
            sys.exit(f"integrity mismatch: {digest} != {INTEGRITY}")
        with tarfile.open(tarball) as archive:
            for member, name in FILES.items():
                source = archive.extractfile(member)
                assert source is not None
                with open(TARGET / name, "wb") as out:
                    shutil.copyfileobj(source, out)
    print(f"libheif-js {VERSION} copied to {TARGET}")


if __name__ == "__main__":
    main()
