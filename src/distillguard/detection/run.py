"""The detection pipeline: logs or store → features → links → campaigns → scores → output folder.

Writes the contract files of SCHEMA.md §4 (`accounts.csv`, `campaigns.json`, a plain `report.html`) and the
extras other stages read (`features.parquet`, `links.parquet`, `templates.csv`, `infrastructure.csv`,
`timeline.csv`). Relational work runs inside the store's DuckDB connection; Python only sees one row per
distinct prompt text (fingerprints), per account (scores) and per link (communities).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from ..errors import InputError, StoreError, UsageError
from ..fingerprints.cache import DETECT_MEMORY_LIMIT_GB, duckdb_memory, set_memory
from ..store import Store
from . import features as feat
from . import links as lk
from . import provenance
from .campaigns import CampaignConfig, Grouping, group_accounts, join_fragments, joining_links
from .output import write_outputs, write_plain_report
from .scoring import (
    OperatingPoint,
    ScoreConfig,
    Scores,
    floor_for,
    individual_reasons,
    operating_point,
    score_accounts,
    without_same_customer_links,
)
from .shared_traffic import empty_shared, shared_traffic_features, with_judged_share
from .spark import SparkSettings, bring_back, relational

BLOCK_KINDS = ("shared-template", "shared-wrapper")


@dataclass(frozen=True)
class DetectConfig:
    """Every knob of a detection run."""

    fpr_target: float = 0.001
    links: lk.LinkConfig = field(default_factory=lk.LinkConfig)
    campaigns: CampaignConfig = field(default_factory=CampaignConfig)
    scores: ScoreConfig = field(default_factory=ScoreConfig)
    use_links: bool = True           # False: per-account scoring only (the no-links baseline)
    # DuckDB's memory limit while the run lasts (half of it, at most 2 GB, while Python holds a working set
    # beside it; a quarter during the graph work); beyond it joins, aggregates and work tables spill to
    # `<store>.tmp`. Not part of the result:
    # the flags, scores and campaigns are the same under any limit that lets the run complete
    memory_gb: float = DETECT_MEMORY_LIMIT_GB


@dataclass(frozen=True)
class DetectResult:
    """What a run found, and how long each stage took."""

    out_dir: Path
    accounts: int
    flagged: int
    campaigns: int
    threshold: float
    timings: dict[str, float]
    incremental_update: bool = False  # an incremental update: its report.html stays the plain one


def detect_store(store: Store, out_dir: str | Path, config: DetectConfig = DetectConfig(),
                 fingerprint: feat.FingerprintFn | None = None, near_groups: feat.NearGroupFn | None = None,
                 on_stage: Callable[[str, float], None] | None = None, engine: str = "duckdb",
                 spark: SparkSettings | None = None, incremental: bool = False,
                 rebuild: bool = False) -> DetectResult:
    """Run detection over an open store and write the output folder (features/links on `engine`).

    `incremental`: absorb only the exchanges ingested since the last incremental run into the snapshot
    the last full run left in the store (distillguard.detection.incremental); without a snapshot, or with `rebuild`,
    run a full detection and take one. A DuckDB failure (out of memory, disk full, ...) is a StoreError.
    """
    try:
        return _detect_store(store, out_dir, config, fingerprint, near_groups, on_stage, engine, spark, incremental,
                             rebuild)
    except duckdb.Error as e:
        raise StoreError(_duckdb_message(store, e, config.memory_gb)) from e


def _duckdb_message(store: Store, e: duckdb.Error, memory_gb: float) -> str:
    """One line for a DuckDB error that ended a detect run, with what to do about the usual ones."""
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    hint = {
        duckdb.OutOfMemoryException: f"give DuckDB more memory (--memory-gb, now {memory_gb:g}) or temporary disk "
                                     "space, or detect fewer exchanges",
        duckdb.IOException: "check the free space and permissions of the store's folder and the temporary folder",
    }.get(type(e), "")
    return f"{store.path}: detect failed in DuckDB: {first}" + (f"; {hint}" if hint else "")


def _detect_store(store: Store, out_dir: str | Path, config: DetectConfig, fingerprint: feat.FingerprintFn | None,
                  near_groups: feat.NearGroupFn | None, on_stage: Callable[[str, float], None] | None,
                  engine: str, spark: SparkSettings | None, incremental: bool, rebuild: bool) -> DetectResult:
    if not 0 < config.fpr_target < 1:
        raise UsageError(f"--fpr-target must be between 0 and 1, got {config.fpr_target}")
    con = store.con
    old_limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    set_memory(con, config.memory_gb)  # UsageError unless a positive number
    try:
        out = output_folder(out_dir)
        return _detect_limited(store, out, config, fingerprint, near_groups, on_stage, engine, spark, incremental,
                               rebuild)
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"SET memory_limit = '{old_limit}'")


def _detect_limited(store: Store, out: Path, config: DetectConfig, fingerprint: feat.FingerprintFn | None,
                    near_groups: feat.NearGroupFn | None, on_stage: Callable[[str, float], None] | None,
                    engine: str, spark: SparkSettings | None, incremental: bool, rebuild: bool) -> DetectResult:
    con = store.con
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal t0
        now = time.perf_counter()
        timings[name] = round(now - t0, 3)
        if on_stage:
            on_stage(name, timings[name])
        t0 = now

    snapshot = None
    if incremental:
        from . import incremental as inc

        if engine != "duckdb":
            raise UsageError("--incremental runs on the embedded store only (--engine duckdb)")
        key = inc.state_key(config)
        if not rebuild and inc.snapshot_mark(con, key) is not None:
            u = inc.update(store, out, key, config, fingerprint, stage)
            return DetectResult(out_dir=out, accounts=u.scored, flagged=u.flagged,
                                campaigns=u.campaigns, threshold=u.threshold, timings=timings,
                                incremental_update=True)
        snapshot = (key, inc.high_water(con))
    try:
        return _detect_full(store, out, config, fingerprint, near_groups, stage, timings, engine, spark, snapshot)
    finally:
        with contextlib.suppress(duckdb.Error):  # never hide the error that ended the run
            feat.drop_work_tables(con)


def _detect_full(store: Store, out: Path, config: DetectConfig, fingerprint: feat.FingerprintFn | None,
                 near_groups: feat.NearGroupFn | None, stage: Callable[[str], None], timings: dict[str, float],
                 engine: str, spark: SparkSettings | None,
                 snapshot: tuple[str, int] | None = None) -> DetectResult:
    """The whole pipeline; `snapshot` (state key, high-water mark): also leave the incremental snapshot."""
    con = store.con
    keyed = store.keyed_exchanges()
    feat.prepare(con, fingerprint, near_groups, keyed=keyed)
    stage("fingerprints")
    if config.use_links:
        provenance.prepare(con, keyed)
    stage("provenance")
    rel = relational(store, engine, spark)  # the store itself, or Spark fed from it (detection.spark)
    features = feat.account_features(rel)
    stage("features")
    if config.use_links and features.num_rows:
        links = lk.build_links(rel, config.links)
        features = provenance.with_shares(rel, features)
        bip = pa.concat_tables([lk.key_usage(rel, k, config.links) for k in BLOCK_KINDS])
        bip = bip.filter(pa.compute.greater_equal(bip["share"], config.links.min_key_share))
    else:
        links, bip = _no_links(con)
    # one declared customer's keys are one entity: their links to each other are no coordination evidence
    # (a pass over every exchange: on Spark, over the store's parts)
    orgs = feat.account_orgs(rel, features["account_id"].to_pylist()) if config.use_links else None
    if rel is not con:
        bring_back(con, rel, ("dg_features", "dg_links") if config.use_links and features.num_rows
                   else ("dg_features",))
        rel.close()
    stage("links")
    # the links (gigabytes at scale 1) pass to _judge, which drops what it no longer needs as it goes
    graph = [links, bip]
    del links, bip
    verdict = _judge(store, config, features, graph, orgs, stage, keep_own=snapshot is not None)
    result = _write(store, out, config, features, verdict, stage, timings)
    if snapshot is not None:
        from . import incremental as inc

        inc.save_snapshot(con, inc.Snapshot(snapshot[1], features, verdict.point.enforce,
                                            verdict.grouping, verdict.shared, orgs, out,
                                            frozenset(config.campaigns.kind_weights)), snapshot[0])
        stage("snapshot")
    return result


def _no_links(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, pa.Table]:
    """An empty `dg_links` and empty links and account × key tables (links disabled, or no account)."""
    lk.create_links_table(con)
    return lk.LINK_SCHEMA.empty_table(), pa.table({"account_id": pa.array([], pa.string()),
                                                   "key": pa.array([], pa.uint64()),
                                                   "share": pa.array([], pa.float64())})


# the share of `DetectConfig.memory_gb` DuckDB may hold while the shared-traffic SQL runs (see _judge)
SHARED_TRAFFIC_DUCKDB_SHARE = 0.75


@dataclass(frozen=True)
class _Verdict:
    """Scores, the flag threshold, individual reasons and each account's campaign index (-1: none)."""

    scores: Scores
    point: OperatingPoint
    reasons: list[list[str]]
    campaign: np.ndarray
    grouping: Grouping
    shared: pa.Table


def _judge(store: Store, config: DetectConfig, features: pa.Table, graph: list[pa.Table],
           orgs: list[str | None] | None, stage: Callable[[str], None], keep_own: bool = False) -> _Verdict:
    """Campaigns, scores and campaign assignment, from features and `graph` = [links, account × key].

    `graph` is emptied: once the accounts are grouped, only the wording and payment links across groups stay
    (`joining_links`: what `join_fragments` reads), so scoring's DuckDB work does not run beside the whole graph.
    `keep_own`: leave each group's own content keys in the temporary table `dg_own` (the snapshot's).
    """
    con = store.con
    links, bip = graph.pop(0), graph.pop(0)
    # the graph work is Python's and runs no SQL: DuckDB's buffers need not stay resident beside it
    with duckdb_memory(con, config.memory_gb / 4):
        if orgs is not None:
            links = without_same_customer_links(links, features["account_id"].to_pylist(), orgs, config.scores)
        grouping = group_accounts(links, bip, config.campaigns)
    del bip
    # not read after grouping (an empty table, not a slice: a slice would keep the edges' buffers alive)
    grouping = replace(grouping, edges=grouping.edges.schema.empty_table())
    links = joining_links(links, grouping)
    stage("campaigns")
    if config.use_links:
        # behaviour of the traffic each grouped account shares with its group (cover chat does not dilute it)
        # its SQL runs beside the features, wording links and grouping Python holds: DuckDB gets less of the run's
        # memory there (scale 1's peak was this stage's: DuckDB at its 4 GB and ~2.7 GB more)
        with duckdb_memory(con, config.memory_gb * SHARED_TRAFFIC_DUCKDB_SHARE):
            shared = shared_traffic_features(con, grouping, keep_own="dg_own" if keep_own else None)
        cards = feat.payment_cards(con, features["account_id"].to_pylist())
        scores = score_accounts(features, grouping, config.scores, orgs=orgs, shared=shared, cards=cards)
        point = operating_point(scores, config.fpr_target, config.scores)
    else:  # baseline: the individual score uncapped, at the same floors
        shared = empty_shared()
        scores = score_accounts(features, grouping, replace(config.scores, individual_cap=1.0))
        step = config.scores.band_step
        floors = [floor_for(min(config.fpr_target * step ** k, 0.5), config.scores) for k in range(3)]
        point = OperatingPoint(config.fpr_target, *floors)
    reasons = individual_reasons(features, config.scores)
    stage("scoring")
    # a flagged account's campaign is its group, fragments of one operator's joined by their wording or money (refining
    # the groups on operator evidence alone, content damped, split a campaign paid by many cards into its cards'
    # rings and merged campaigns through a browser's user agent: it lowered ARI on every probe and preset)
    flagged = scores.accounts["score"].to_numpy() >= point.enforce
    ids = scores.accounts["account_id"].filter(pa.array(flagged))
    campaign = np.full(len(flagged), -1, np.int64)
    campaign[flagged] = join_fragments(links, ids, scores.accounts["group"].to_numpy()[flagged], config.campaigns)
    # the grouping without its pair edges (emptied above; the snapshot keeps the rest)
    return _Verdict(scores, point, reasons, campaign, grouping, shared)


def _write(store: Store, out: Path, config: DetectConfig, features: pa.Table, verdict: _Verdict,
           stage: Callable[[str], None], timings: dict[str, float]) -> DetectResult:
    """The output folder, with the plain report (the caller may write the rich one over it)."""
    v = verdict
    with duckdb_memory(store.con):
        n_flagged, n_campaigns = write_outputs(store.con, out, with_judged_share(features, v.shared), v.scores,
                                               v.point, v.reasons, config.campaigns, v.campaign)
        write_plain_report(out)
    stage("output")
    return DetectResult(out_dir=out, accounts=features.num_rows, flagged=n_flagged, campaigns=n_campaigns,
                        threshold=v.point.enforce, timings=timings)


def output_folder(out_dir: str | Path) -> Path:
    """The output folder, created if missing; UsageError if it is a file or cannot be created."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; give a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot create the folder: {e.strerror or e}") from None
    return out


def detect_logs(logs: Sequence[str | Path], out_dir: str | Path, accounts: str | Path | None = None,
                db: str | Path | None = None, config: DetectConfig = DetectConfig(),
                **kwargs: object) -> DetectResult:
    """Ingest `logs` (and `accounts`) into `db` (a temporary store if None) and run detection."""
    with ingested(logs, out_dir, accounts=accounts, db=db) as store:
        return detect_store(store, out_dir, config, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def ingested(logs: Sequence[str | Path], out_dir: str | Path, accounts: str | Path | None = None,
             db: str | Path | None = None) -> Iterator[Store]:
    """The store `logs` (and `accounts`) were ingested into: `db`, or a temporary one removed on exit."""
    from ..ingest import ingest_accounts, ingest_logs

    if db and not logs and not Path(db).exists():
        raise InputError(f"{db}: no such store (give LOG files to ingest into a new one, or the path of an "
                         "ingested store)")
    output_folder(out_dir)  # before any ingest: a bad --out fails fast
    with tempfile.TemporaryDirectory(prefix="distillguard-") as tmp:
        path = Path(db) if db else Path(tmp) / "store.duckdb"
        with Store.open(path) as store:
            if accounts:
                ingest_accounts(store, accounts)
            if logs:
                ingest_logs(store, logs)
            yield store


@contextlib.contextmanager
def report_memory(store: Store) -> Iterator[None]:
    """Hold DuckDB's memory down while a report reads the links back into Python (DuckDB may spill)."""
    with duckdb_memory(store.con):
        yield
