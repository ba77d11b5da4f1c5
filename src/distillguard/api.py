"""The pipeline as plain Python functions with typed results (re-exported by `import distillguard`).

The CLI is a thin layer over the same calls. Results are frozen dataclasses; tables are Arrow, so they
convert to pandas (`.to_pandas()`) or Polars (`polars.from_arrow`) without copying where possible.

    >>> import distillguard as dg
    >>> sim = dg.simulate("mixed-small", "/tmp/dg-doc/sim", scale=0.05, seed=3)
    >>> summary = dg.ingest([sim.out / "exchanges.parquet"], "/tmp/dg-doc/store.duckdb")
    >>> summary.stored == sim.exchanges
    True
    >>> found = dg.detect(db="/tmp/dg-doc/store.duckdb", out="/tmp/dg-doc/det")
    >>> found.accounts == sim.accounts
    True
    >>> ev = dg.evaluate(sim.out / "labels.csv", "/tmp/dg-doc/det")
    >>> 0.0 <= ev.recall <= 1.0
    True
    >>> accounts = dg.read_detection_accounts("/tmp/dg-doc/det")
    >>> accounts.num_rows == sim.accounts
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from . import backtest as _backtest
from . import detection as _detect
from . import evaluate as _evaluate
from . import ingest as _ingest
from . import simulate as _simulate
from .schema import DETECTION_ACCOUNT_SCHEMA
from .store import Store

PathLike = str | Path


def ingest(logs: Sequence[PathLike], db: PathLike, accounts: PathLike | None = None,
           options: _ingest.IngestOptions | None = None) -> _ingest.IngestSummary:
    """Validate logs (and an accounts file) and append them to the DuckDB store at `db`."""
    with Store.open(db) as store:
        if accounts is not None:
            _ingest.ingest_accounts(store, accounts)
        return _ingest.ingest_logs(store, logs, options or _ingest.IngestOptions())


def simulate(scenario: str, out: PathLike, scale: float = 1.0, seed: int = 1,
             corpora: PathLike = "../shared/data") -> _simulate.SimulationResult:
    """Generate a preset scenario with ground truth into `out` (exchanges, accounts, labels, scenario)."""
    return _simulate.simulate(_simulate.get_scenario(scenario), scale, seed, _simulate.load_corpora(corpora), out)


def detect(logs: Sequence[PathLike] = (), out: PathLike = "detect-out", db: PathLike | None = None,
           accounts: PathLike | None = None, fpr_target: float = 0.001) -> _detect.DetectResult:
    """Find campaign accounts in log files or an ingested store (`db` with no logs); write the output folder."""
    config = _detect.DetectConfig(fpr_target=fpr_target)
    if not logs and db is not None:
        with Store.open(db) as store:
            return _detect.detect_store(store, out, config)
    return _detect.detect_logs(list(logs), out, accounts=accounts, db=db, config=config)


def evaluate(labels: PathLike, out_dir: PathLike) -> _evaluate.Evaluation:
    """Score a detection output folder against the simulator's ground-truth labels."""
    return _evaluate.evaluate_dir(labels, out_dir)


def backtest(logs: Sequence[PathLike], policy: PathLike | None = None, detect: PathLike | None = None,
             labels: PathLike | None = None, delay_hours: float = 24.0) -> list[_backtest.PolicyResult]:
    """Replay logs through the enforcement engine, and the per-key-only baseline, with simulated time."""
    from .policy import DEFAULT_POLICY_TOML, PER_KEY_BASELINE_TOML, load_policy, parse_policy

    policies = {
        "policy": load_policy(policy) if policy else parse_policy(DEFAULT_POLICY_TOML, "<default>"),
        "per-key baseline": parse_policy(PER_KEY_BASELINE_TOML, "per-key baseline"),
    }
    opts = _backtest.BacktestOptions(detect=str(detect) if detect else None, labels=str(labels) if labels else None,
                                     delay_s=delay_hours * 3600.0)
    return _backtest.run_backtest(list(logs), policies, opts)


def read_detection_accounts(out_dir: PathLike) -> pa.Table:
    """`DIR/accounts.csv` of a detection run as an Arrow table (SCHEMA.md §4)."""
    opts = pacsv.ConvertOptions(column_types=DETECTION_ACCOUNT_SCHEMA, strings_can_be_null=True,
                                true_values=["true"], false_values=["false"])
    return pacsv.read_csv(Path(out_dir) / "accounts.csv", convert_options=opts)
