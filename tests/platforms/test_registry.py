"""The platform registry: host matching (subdomains, public-suffix edge cases), validation,
YAML export/import round trip, the shipped catalogue and the CLI commands."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from disrupt.cli import cli
from disrupt.db import utcnow
from disrupt.platforms.catalogue import (
    CATALOGUE,
    export_platforms,
    import_catalogue,
    import_platforms,
)
from disrupt.platforms.models import Platform
from disrupt.platforms.services import (
    PlatformError,
    RemovalRules,
    add_platform,
    platform_for_host,
    update_platform,
)
from tests.platforms.support import make_case

MATCHES = [
    ("example.com", "Example"),
    ("www.example.com", "Example"),
    ("a.b.cdn.example.com", "Example"),
    ("WWW.EXAMPLE.COM.", "Example"),
    ("video.example.com", "Example Video"),          # the more specific domain wins
    ("x.video.example.com", "Example Video"),
    ("notexample.com", None),                         # a suffix of the string, not a domain
    ("example.com.evil.net", None),
    ("example.co.uk", "UK shop"),
    ("img.example.co.uk", "UK shop"),
    ("other.co.uk", None),                            # co.uk is a public suffix: no match
    ("alice.github.io", "GitHub"),                    # the operator of a private suffix
    ("www.alice.github.io", "GitHub"),
    ("bob.github.io", "Bob's site"),                  # ... unless the user site is registered
    ("cdn.bob.github.io", "Bob's site"),
    ("someone.blogspot.com", "Google"),
    ("someone.blogspot.co.uk", None),                 # blogspot.co.uk is not registered
    ("www.bücher.de", "Bücher"),                      # IDN, registered in Unicode
    ("xn--bcher-kva.de", "Bücher"),
    ("127.0.0.2", "Loopback"),
    ("127.0.0.22", None),
    ("", None),
    ("exa mple.com", None),
]


@pytest.fixture
def registry(db):
    with db.session() as session:
        add_platform(session, name="Example", domains=["example.com"])
        add_platform(session, name="Example Video", domains=["video.example.com"])
        add_platform(session, name="UK shop", domains=["example.co.uk"])
        add_platform(session, name="GitHub", domains=["github.com", "github.io"])
        add_platform(session, name="Bob's site", domains=["bob.github.io"])
        add_platform(session, name="Google", domains=["google.com", "blogspot.com"])
        add_platform(session, name="Bücher", domains=["bücher.de"])
        add_platform(session, name="Loopback", domains=["127.0.0.2"])
        session.commit()
    return db


def test_a_host_matches_the_right_platform(registry):
    with registry.session() as session:
        found = {host: getattr(platform_for_host(session, host), "name", None)
                 for host, _ in MATCHES}
    assert found == dict(MATCHES)


@pytest.mark.parametrize(("domains", "message"), [
    (["co.uk"], "co.uk is a public suffix"),
    (["com"], "com is a public suffix"),
    (["exa mple.com"], "is not a domain name"),
    ([], "at least one domain"),
    (["example.com"], "example.com already belongs to Example"),
    (["WWW.Example.com."], None),  # a subdomain of another platform's domain is fine
])
def test_domain_validation(registry, domains, message):
    with registry.session() as session:
        if message is None:
            platform = add_platform(session, name="New", domains=domains)
            assert [d.domain for d in platform.domains] == ["www.example.com"]
            return
        with pytest.raises(PlatformError, match=message) as refused:
            add_platform(session, name="New", domains=domains)
        assert refused.value.field == "domains"


@pytest.mark.parametrize(("fields", "field"), [
    ({"channel": "email", "contact": "not an address"}, "contact"),
    ({"channel": "api", "contact": "ftp://x.example/notices"}, "contact"),
    ({"channel": "pigeon"}, "channel"),
    ({"deadline_hours": 0}, "deadline_hours"),
    ({"default_legal_basis": "gdpr"}, "default_legal_basis"),
    ({"removal_rules": {"placeholder_digests": ["abc"]}}, "placeholder_digests"),
    ({"removal_rules": {"captcha": ["x"]}}, "removal_rules"),
    ({"name": "Example"}, "name"),
])
def test_platform_field_validation(registry, fields, field):
    with registry.session() as session:
        with pytest.raises(PlatformError) as refused:
            add_platform(session, **{"name": "New", "domains": ["new.example"], **fields})
        assert refused.value.field == field


def test_removal_rules_and_reattaching_urls(db):
    now = utcnow()
    with db.session() as session:
        old = add_platform(session, name="Old", domains=["media.example"])
        case = make_case(session, ["https://cdn.media.example/a.jpg",
                                   "https://other.example/b.jpg"], now=now)
        assert [u.platform_id for u in case.urls] == [old.id, None]
        new = add_platform(session, name="New", domains=["other.example"], removal_rules={
            "soft_404_markers": ["This content is no longer available", " "],
            "placeholder_digests": ["AA" * 32]})
        update_platform(session, new, domains=["other.example", "cdn.media.example"])
        session.commit()
        session.refresh(case)
        assert [u.platform_id for u in case.urls] == [new.id, new.id]
        rules = RemovalRules.of(new)
        assert rules.soft_404_markers == ("This content is no longer available",)
        assert rules.placeholder_digests == ("aa" * 32,)
        assert RemovalRules.of(None) == RemovalRules()


SAMPLE = """
platforms:
  - name: PicShare
    domains: [picshare.example, img.picshare-cdn.example]
    channel: email
    contact: abuse@picshare.example
    jurisdiction: EU
    deadline_hours: 24
    trusted_flagger: true
    default_legal_basis: dsa_art16
    removal_rules:
      soft_404_markers: [This photo was removed]
      placeholder_redirects: ["https://picshare.example/removed"]
    notes: Ask for the legal team.
  - name: ClipHub
    domains: [cliphub.example]
    channel: api
    contact: https://api.cliphub.example/notices
    default_legal_basis: take_it_down
"""


def test_yaml_round_trip(database_url, tmp_path):
    from tests.support.apps import make_test_app

    app = make_test_app(database_url, tmp_path)
    db = app.extensions["disrupt.db"]
    with db.session() as session:
        summary = import_platforms(session, SAMPLE)
        session.commit()
        assert (summary.created, summary.updated) == (["PicShare", "ClipHub"], [])
        exported = export_platforms(session)
    document = yaml.safe_load(exported)
    assert [p["name"] for p in document["platforms"]] == ["ClipHub", "PicShare"]
    picshare = document["platforms"][1]
    assert picshare == {
        "name": "PicShare", "domains": ["img.picshare-cdn.example", "picshare.example"],
        "channel": "email", "contact": "abuse@picshare.example", "jurisdiction": "EU",
        "deadline_hours": 24, "trusted_flagger": True, "default_legal_basis": "dsa_art16",
        "removal_rules": {"placeholder_redirects": ["https://picshare.example/removed"],
                          "soft_404_markers": ["This photo was removed"]},
        "notes": "Ask for the legal team.",
    }
    assert document["platforms"][0]["deadline_hours"] == 48  # the default
    with db.session() as session:
        again = import_platforms(session, exported)
        session.commit()
        assert again.unchanged == ["ClipHub", "PicShare"] and not again.updated
        assert export_platforms(session) == exported
    app.extensions["disrupt.db"].dispose()


def test_import_moves_domains_and_is_all_or_nothing(db):
    with db.session() as session:
        import_platforms(session, SAMPLE)
        session.commit()
    moved = SAMPLE.replace("domains: [cliphub.example]",
                           "domains: [cliphub.example, img.picshare-cdn.example]") \
        .replace("domains: [picshare.example, img.picshare-cdn.example]",
                 "domains: [picshare.example]")
    with db.session() as session:
        summary = import_platforms(session, moved)
        session.commit()
        assert sorted(summary.updated) == ["ClipHub", "PicShare"]
        assert platform_for_host(session, "img.picshare-cdn.example").name == "ClipHub"
    broken = SAMPLE.replace("deadline_hours: 24", "deadline_hours: 12") + \
        "  - name: Bad\n    domains: [co.uk]\n"
    with db.session() as session:
        with pytest.raises(PlatformError, match="Bad: co.uk is a public suffix"):
            import_platforms(session, broken)
        session.rollback()
    with db.session() as session:
        assert session.scalar(select(Platform.deadline_hours)
                              .where(Platform.name == "PicShare")) == 24


@pytest.mark.parametrize(("text", "message"), [
    ("platforms: [", "not valid YAML at line 1"),
    ("platforms: 3", "expected a list of platforms"),
    ("platforms:\n  - domains: [a.example]\n", "platform #1 has no name"),
    ("platforms:\n  - {name: A, domains: [a.example], colour: red}\n", "unknown field 'colour'"),
    ("platforms:\n  - {name: A, domains: [a.example]}\n  - {name: A, domains: [b.example]}\n",
     "A appears twice"),
])
def test_import_refuses_bad_files(db, text, message):
    with db.session() as session, pytest.raises(PlatformError, match=message):
        import_platforms(session, text)


def test_the_catalogue_has_names_and_domains_only_and_imports_idempotently(db):
    entries = yaml.safe_load(CATALOGUE.read_text())["platforms"]
    assert len(entries) >= 25
    assert all(set(e) == {"name", "domains"} and e["domains"] for e in entries)
    with db.session() as session:
        # The organisation filled in a contact and added a domain: a re-import keeps them.
        add_platform(session, name="Reddit", domains=["reddit.example"], channel="email",
                     contact="legal@reddit.example")
        add_platform(session, name="My Blogger page", domains=["blogspot.com"])
        first = import_catalogue(session)
        session.commit()
        assert len(first.created) == len(entries) - 1 and first.updated == ["Reddit"]
        assert "blogspot.com (belongs to My Blogger page)" in first.skipped_domains
        second = import_catalogue(session)
        session.commit()
        assert not second.created and not second.updated
        reddit = session.scalar(select(Platform).where(Platform.name == "Reddit"))
        assert reddit.contact == "legal@reddit.example" and reddit.channel == "email"
        assert {"reddit.example", "reddit.com", "redd.it"} <= {d.domain for d in reddit.domains}
        assert platform_for_host(session, "www.youtube.com").name == "YouTube"
        assert platform_for_host(session, "someone.github.io").name == "GitHub"
        assert session.scalar(select(func.count()).select_from(Platform)
                              .where(Platform.contact.is_not(None))) == 1


def test_cli_import_and_export(database_url, tmp_path):
    env = {"DISRUPT_DATABASE_URL": database_url,
           "DISRUPT_INSTANCE_PATH": str(tmp_path / "instance")}
    source = tmp_path / "platforms.yaml"
    source.write_text(SAMPLE)
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--no-admin"], env=env).exit_code == 0
    result = runner.invoke(cli, ["platforms", "import", str(source)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["created"] == 2
    out = tmp_path / "out.yaml"
    result = runner.invoke(cli, ["platforms", "export", "--output", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert [p["name"] for p in yaml.safe_load(out.read_text())["platforms"]] == \
        ["ClipHub", "PicShare"]
    printed = runner.invoke(cli, ["platforms", "export"], env=env)
    assert printed.output == out.read_text()
    result = runner.invoke(cli, ["platforms", "import", "--catalogue"], env=env)
    assert result.exit_code == 0 and json.loads(result.output)["created"] >= 25
    bad = tmp_path / "bad.yaml"
    bad.write_text("platforms:\n  - {name: X, domains: [com]}\n")
    result = runner.invoke(cli, ["platforms", "import", str(bad)], env=env)
    assert result.exit_code == 1
    assert "nothing imported: X: com is a public suffix" in result.output
    result = runner.invoke(cli, ["platforms", "import"], env=env)
    assert result.exit_code == 2


@pytest.mark.parametrize(("host", "expected"), [
    ("x.alice.github.io", ["x.alice.github.io", "alice.github.io", "github.io"]),
    ("github.io", ["github.io"]),
    ("bucket.s3.amazonaws.com", ["bucket.s3.amazonaws.com", "s3.amazonaws.com",
                                 "amazonaws.com"]),
    ("someone.blogspot.co.uk", ["someone.blogspot.co.uk", "blogspot.co.uk"]),
    ("cdn.example.co.uk", ["cdn.example.co.uk", "example.co.uk"]),
    ("www.city.kawasaki.jp", ["www.city.kawasaki.jp", "city.kawasaki.jp"]),
    ("co.uk", ["co.uk"]),
    ("127.0.0.1", ["127.0.0.1"]),
    ("", []),
])
def test_platform_candidates(host, expected):
    from disrupt.platforms.hosts import platform_candidates

    assert platform_candidates(host) == expected


@pytest.mark.parametrize(("host", "expected"), [
    ("com", True), ("co.uk", True), ("b.kawasaki.jp", True), ("github.io", False),
    ("example.com", False), ("city.kawasaki.jp", False), ("127.0.0.1", False),
])
def test_icann_public_suffix(host, expected):
    from disrupt.platforms.hosts import is_icann_public_suffix

    assert is_icann_public_suffix(host) is expected
