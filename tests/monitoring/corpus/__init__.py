"""The labelled verdict corpus of issue 12 (tests/monitoring/test_corpus.py and
bench/verdicts.py): page shapes modelled on real platforms, served by real HTTP servers on
127.0.0.10-21, each with the verdict a check must give.

    with Corpus() as corpus:
        outcome = corpus.check(entry)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.monitoring.corpus.entries import ENTRIES, HOSTS, Entry, install
from tests.monitoring.corpus.pictures import Pictures, pictures
from tests.monitoring.corpus.servers import Host

__all__ = ["CHECK_SETTINGS", "Corpus", "ENTRIES", "Entry"]

#: What the corpus checks with: loopback allowed, a 1 s timeout (slow hosts answer later).
CHECK_SETTINGS: dict[str, Any] = {"allow_loopback": True, "timeout": 1.0,
                                  "max_bytes": 2_000_000, "max_media_bytes": 2_000_000}


class Corpus:
    """Every host started, every page installed; stop() (or the with block) ends them."""

    def __init__(self, bases: dict[str, str] | None = None) -> None:
        """``bases``: the hosts' base URLs when another process serves them (the bench)."""
        self.pictures: Pictures = pictures()
        self.hosts = {name: Host(name, ip) for name, ip in HOSTS.items()} if not bases else {}
        self.bases: dict[str, str] = dict(bases or {})

    def start(self) -> Corpus:
        try:
            for host in self.hosts.values():
                host.start()
            install(self.hosts, self.pictures)
            self.bases = {name: host.base for name, host in self.hosts.items()}
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for host in self.hosts.values():
            host.stop()

    def __enter__(self) -> Corpus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, entry: Entry) -> str:
        return self.bases[entry.host] + entry.path if entry.host else entry.path

    def rules(self, entry: Entry) -> dict[str, Any]:
        names = dict(self.bases)
        names["placeholder_digest"] = self.pictures.placeholder_digest
        return {key: [value.format(**names) for value in values]
                for key, values in entry.rules.items()}

    def target(self, entry: Entry, target_class: Callable[..., Any] | None = None,
               **extra: Any) -> Any:
        """The CheckTarget of an entry: its URL, the victim's hashes, platform rules and
        whether the URL was once seen showing a matching picture."""
        if target_class is None:
            from disrupt.monitoring.checker import CheckTarget as target_class
        return target_class(self.url(entry), hashes=self.pictures.victim_hashes,
                            rules=self.rules(entry), **extra)

    def check(self, entry: Entry) -> Any:
        """One check of an entry with a fresh Checker (no fingerprint carried over)."""
        from disrupt.monitoring.checker import Checker, CheckSettings

        checker = Checker(CheckSettings(**CHECK_SETTINGS))
        return checker.check(self.target(entry, seen_matching=entry.seen_matching))
