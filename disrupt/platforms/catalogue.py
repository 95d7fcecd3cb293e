"""The platform registry as YAML: export, import (an upsert by name), and the catalogue of
major platforms shipped with the project (catalogue.yaml: names and domains only)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from disrupt.platforms.models import Platform, PlatformDomain
from disrupt.platforms.services import (
    PLATFORM_FIELDS,
    PlatformError,
    _apply,
    normalize_domain,
    reattach_urls,
)

CATALOGUE = Path(__file__).with_name("catalogue.yaml")


def platform_record(platform: Platform) -> dict[str, Any]:
    """Every field, in a stable order: what export writes and import reads back."""
    return {
        "name": platform.name,
        "domains": [d.domain for d in sorted(platform.domains, key=lambda d: d.domain)],
        "channel": platform.channel,
        "contact": platform.contact,
        "jurisdiction": platform.jurisdiction,
        "deadline_hours": platform.deadline_hours,
        "trusted_flagger": platform.trusted_flagger,
        "default_legal_basis": platform.default_legal_basis,
        "removal_rules": {k: list(v) for k, v in sorted((platform.removal_rules or {}).items())},
        "notes": platform.notes,
    }


def export_platforms(session: Session) -> str:
    platforms = session.scalars(
        select(Platform).options(selectinload(Platform.domains)).order_by(Platform.name))
    document = {"platforms": [platform_record(p) for p in platforms]}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


@dataclass
class ImportSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped_domains: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": len(self.created), "updated": len(self.updated),
                "unchanged": len(self.unchanged), "skipped_domains": self.skipped_domains}


class _NoAliasLoader(yaml.SafeLoader):
    """Refuses aliases (`*name`): nested ones expand a small file into a huge document (a
    "billion laughs"), and a platform list never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases are not accepted", self.peek_event().start_mark)
        return super().compose_node(parent, index)


def parse_platforms(text: str) -> list[dict[str, Any]]:
    try:
        document = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if getattr(exc, "problem", None) == "aliases are not accepted":
            raise PlatformError(f"YAML aliases (*name) are not accepted{where}") from exc
        raise PlatformError(f"not valid YAML{where}") from exc
    if isinstance(document, dict):
        document = document.get("platforms")
    if not isinstance(document, list) or not all(isinstance(e, dict) for e in document):
        raise PlatformError("expected a list of platforms under 'platforms:'")
    names = [str(e.get("name", "")).strip() for e in document]
    for index, (entry, name) in enumerate(zip(document, names, strict=True), start=1):
        if not name:
            raise PlatformError(f"platform #{index} has no name")
        unknown = set(entry) - set(PLATFORM_FIELDS)
        if unknown:
            raise PlatformError(f"{name}: unknown field {sorted(unknown)[0]!r}")
        if names.count(name) > 1:
            raise PlatformError(f"{name} appears twice")
    return document


def import_platforms(session: Session, text: str, *, merge_domains: bool = False) -> ImportSummary:
    """Create or update platforms by name. Fields absent from an entry keep their value.
    ``domains`` replace the platform's domains, or with ``merge_domains`` (the catalogue) are
    added to them, skipping any another platform owns. All or nothing: the caller commits
    only if this returns."""
    entries = parse_platforms(text)
    summary = ImportSummary()
    existing = {p.name: p for p in session.scalars(select(Platform))}
    before = {name: platform_record(p) for name, p in existing.items()}
    # Release the domains that move between platforms before any platform claims them.
    if not merge_domains:
        incoming = {}
        for entry in entries:
            for raw in entry.get("domains") or []:
                try:
                    incoming[normalize_domain(str(raw))] = str(entry["name"]).strip()
                except PlatformError as exc:
                    raise PlatformError(f"{entry['name']}: {exc}") from exc
        for row in session.scalars(select(PlatformDomain).where(
                PlatformDomain.domain.in_(list(incoming)))):
            if row.platform.name != incoming[row.domain]:
                row.platform.domains.remove(row)
        session.flush()
    for entry in entries:
        name = str(entry["name"]).strip()
        platform = existing.get(name)
        fields = dict(entry)
        if merge_domains and "domains" in fields:
            fields["domains"] = _merged_domains(session, platform, fields["domains"], summary)
            if not fields["domains"]:
                continue  # every domain belongs to other platforms already
        result = _apply(session, platform, fields)
        if platform is None:
            summary.created.append(name)
        elif platform_record(result) != before[name]:
            summary.updated.append(name)
        else:
            summary.unchanged.append(name)
    reattach_urls(session)
    return summary


def _merged_domains(session: Session, platform: Platform | None, raw: Any,
                    summary: ImportSummary) -> list[str]:
    if not isinstance(raw, list):
        raise PlatformError("domains must be a list")
    mine = [d.domain for d in platform.domains] if platform is not None else []
    merged = list(mine)
    for value in raw:
        domain = normalize_domain(str(value))
        owner = session.scalar(select(Platform.name).join(PlatformDomain)
                               .where(PlatformDomain.domain == domain))
        if owner is not None and (platform is None or owner != platform.name):
            summary.skipped_domains.append(f"{domain} (belongs to {owner})")
        elif domain not in merged:
            merged.append(domain)
    return merged


def import_catalogue(session: Session) -> ImportSummary:
    return import_platforms(session, CATALOGUE.read_text(encoding="utf-8"), merge_domains=True)
