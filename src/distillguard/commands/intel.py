"""`distillguard intel`: share detected campaigns (STIX 2.1, MISP, TAXII 2.1) and use partners' indicators."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from ..cli import handle_errors
from ..errors import UsageError
from ..schema import FieldError, parse_ts


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_ts(value, "--timestamp")
    except FieldError as e:
        raise UsageError(f"--timestamp: {e.reason}") from e


def _attributions(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        campaign, sep, name = v.partition("=")
        if not sep or not campaign or not name:
            raise UsageError(f"--attribute {v!r}: write CAMPAIGN=NAME, e.g. --attribute dg-0001='Actor X'")
        out[campaign] = name
    return out


@click.group()
def intel() -> None:
    """Share campaigns as STIX 2.1 / MISP / TAXII 2.1 and match partners' indicators against our traffic."""


@intel.command()
@click.argument("detect_dir", type=click.Path(file_okay=False))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.option("--format", "fmt", type=click.Choice(["stix", "misp"]), default="stix", show_default=True)
@click.option("--tlp", type=click.Choice(["clear", "white", "green", "amber", "red"]), default="amber",
              show_default=True, help="Traffic Light Protocol marking of everything shared.")
@click.option("--provider", default="DistillGuard operator", show_default=True,
              help="Name of our organisation (the STIX identity / MISP org).")
@click.option("--min-accounts", type=int, default=5, show_default=True,
              help="Share only campaigns with at least this many accounts.")
@click.option("--min-indicator-accounts", type=int, default=2, show_default=True,
              help="Share an address, user agent or template only if at least this many accounts used it.")
@click.option("--attribute", "attribute", multiple=True, metavar="CAMPAIGN=NAME",
              help="Attribute a campaign to an intrusion set (repeatable).")
@click.option("--include-identifiers", is_flag=True,
              help="Also share account ids, payment fingerprints and redacted example prompts.")
@click.option("--valid-days", type=int, default=90, show_default=True, help="Indicators expire after this.")
@click.option("--db", type=click.Path(dir_okay=False, exists=True),
              help="Our store: adds the campaigns' prompt wrappers, drops templates and infrastructure that our "
                   "legitimate users also used, and reports partner matches (`intel match`) back as sightings.")
@click.option("--timestamp", help="Creation time to stamp (ISO-8601), for reproducible exports.")
@handle_errors
def export(detect_dir: str, out: str, fmt: str, tlp: str, provider: str, min_accounts: int,
           min_indicator_accounts: int, attribute: tuple[str, ...], include_identifiers: bool, valid_days: int,
           db: str | None, timestamp: str | None) -> None:
    """Export the campaigns of a detection output folder as a STIX 2.1 bundle or MISP events."""
    from ..intel.findings import load_findings
    from ..intel.stix import ExportOptions, build_bundle, bundle_json, shared_campaigns

    options = ExportOptions(provider=provider, tlp=tlp, min_accounts=min_accounts,
                            min_indicator_accounts=min_indicator_accounts, include_identifiers=include_identifiers,
                            attributions=_attributions(attribute), valid_days=valid_days)
    findings = load_findings(detect_dir)
    now = _now(timestamp)
    n = len(shared_campaigns(findings, options))
    sightings = []
    if db:
        from ..intel.matching import partner_sightings
        from ..intel.wrappers import with_store_wrappers, without_legit_infrastructure
        from ..store import Store

        with Store.open(db) as store:
            findings = with_store_wrappers(shared_campaigns(findings, options), store, min_indicator_accounts)
            findings = without_legit_infrastructure(findings, store)
            sightings = partner_sightings(store)
    if fmt == "misp":
        from ..intel.misp import build_events, events_json

        text = events_json(build_events(findings, options, now))
    else:
        text = bundle_json(build_bundle(findings, options, now, sightings)) + "\n"
    Path(out).write_text(text, encoding="utf-8")
    click.echo(f"{fmt}: {n} of {len(findings)} campaigns shared (>= {min_accounts} accounts), "
               f"TLP:{tlp.upper()} -> {out}")


@intel.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="DuckDB store to add indicators to.")
@click.option("--trust", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="How much to trust these files' source: multiplies each indicator's confidence.")
@handle_errors
def import_(files: tuple[str, ...], db: str, trust: float) -> None:
    """Import partners' STIX 2.1 bundles and MISP events into the store's intel_indicators table."""
    from ..intel.importer import import_files
    from ..store import Store

    with Store.open(db) as store:
        for s in import_files(store, files, _now(None), trust):
            click.echo(f"{s.path}: {s.format}, {s.objects} objects, {s.indicators} indicators stored, "
                       f"{s.revoked} revoked, {len(s.skipped)} skipped")
            for reason in s.skipped[:10]:
                click.echo(f"  skipped {reason}", err=True)


@intel.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help="Store with our traffic.")
@click.option("--detect", "detect_dir", type=click.Path(file_okay=False, exists=True),
              help="Detection folder whose accounts.csv gains partner-indicator evidence.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Flag threshold (default: the folder's own operating point).")
@click.option("--similarity", type=click.FloatRange(0, 1), default=0.6, show_default=True,
              help="MinHash similarity needed for a near-duplicate template match.")
@handle_errors
def match(db: str, detect_dir: str | None, threshold: float | None, similarity: float) -> None:
    """Match our traffic against imported partner indicators (and fold the evidence into a detection)."""
    from ..intel.enrich import enrich_detection
    from ..intel.matching import account_evidence, match_indicators
    from ..store import Store

    with Store.open(db) as store:
        matches = match_indicators(store, _now(None), similarity)
    evidence = account_evidence(matches)
    click.echo(f"{matches.num_rows} matches, {evidence.num_rows} accounts with partner evidence")
    if detect_dir:
        s = enrich_detection(detect_dir, evidence, matches, threshold)
        click.echo(f"{detect_dir}/accounts.csv: {s.newly_flagged} accounts newly flagged "
                   f"(threshold {s.threshold:.3f}); matches in {detect_dir}/partner_matches.csv")


@intel.command()
@click.argument("bundles", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9800, show_default=True)
@click.option("--user", default="partner", show_default=True, help="HTTP Basic user name.")
@click.option("--password-env", default="DISTILLGUARD_TAXII_PASSWORD", show_default=True,
              help="Environment variable holding the Basic password.")
@click.option("--token-env", default="DISTILLGUARD_TAXII_TOKEN", show_default=True,
              help="Environment variable holding a bearer token (optional).")
@click.option("--provider", default="DistillGuard operator", show_default=True)
@handle_errors
def serve(bundles: tuple[str, ...], host: str, port: int, user: str, password_env: str, token_env: str,
          provider: str) -> None:
    """Serve exported STIX bundles read-only over TAXII 2.1 (authenticated)."""
    import uvicorn

    from ..intel.taxii import TaxiiConfig, create_app, load_objects

    password, token = os.environ.get(password_env), os.environ.get(token_env)
    if not password and not token:
        raise UsageError(f"set {password_env} (Basic password for --user {user}) or {token_env}; "
                         "the TAXII server never runs unauthenticated")
    config = TaxiiConfig(users={user: password} if password else {}, tokens=frozenset([token] if token else []),
                         provider=provider)
    objects = load_objects(bundles, _now(None))
    click.echo(f"TAXII 2.1: {len(objects)} objects, discovery http://{host}:{port}/taxii2/ , collection "
               f"{config.collection_id}", err=True)
    uvicorn.run(create_app(objects, config), host=host, port=port, log_level="warning")
