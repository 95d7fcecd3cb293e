"""`disrupt check-url URL --case REF --json`: one line, one JSON object, the evidence."""
from __future__ import annotations

import json
from datetime import UTC, datetime

from disrupt.db import Database
from disrupt.demo.behaviours import BehaviourServer
from tests.support.factories import make_case
from tests.test_cli import run


def test_check_url_with_case_compares_media(tmp_path, case_image, other_image):
    site = BehaviourServer(case_image, other_image).start()
    env = {"DISRUPT_ALLOW_LOOPBACK": "1"}
    try:
        assert run("init", "--no-admin", tmp_path=tmp_path).returncode == 0
        db = Database(f"sqlite:///{tmp_path / 'instance' / 'disrupt.sqlite3'}")
        with db.session() as session:
            reference = make_case(session, urls=[], now=datetime.now(UTC),
                                  images=[case_image]).reference
            session.commit()
        db.dispose()

        def check(path: str, *extra: str) -> dict:
            result = run("check-url", site.url(path), *extra, "--json", env=env,
                         tmp_path=tmp_path)
            assert result.returncode == 0, result.stderr
            assert len(result.stdout.strip().splitlines()) == 1
            return json.loads(result.stdout)

        # Another picture than the victim's, never seen matching: not a removal (issue 12).
        replaced = check("/page/replaced", "--case", reference)
        assert (replaced["verdict"], replaced["rule"]) == ("online", "picture_not_confirmed")
        assert replaced["http_status"] == 200 and replaced["final_url"] == site.url(
            "/page/replaced")
        assert replaced["media_url"] == site.url("/img/other.jpg") and replaced["distance"] > 31
        still = check("/page/ok", "--case", reference)
        assert (still["verdict"], still["distance"]) == ("online", 0)
        # Without the case nothing is compared: the page passes the rules.
        assert check("/page/replaced")["verdict"] == "online"
        redirect = check("/media/private.jpg")
        assert redirect["verdict"] == "invalid" and "private_address" in redirect["reason"]
        assert redirect["redirect_chain"] == [[site.url("/media/private.jpg"), 302]]
        missing = run("check-url", site.url("/page/ok"), "--case", "NOPE", "--json", env=env,
                      tmp_path=tmp_path)
        assert missing.returncode == 1
        assert missing.stderr.strip() == "disrupt: no case with reference 'NOPE'"
    finally:
        site.stop()
