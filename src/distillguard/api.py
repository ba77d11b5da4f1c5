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

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

# Names from the stage modules, never `from . import ingest`: the package's `ingest` (and `simulate`,
# `evaluate`, `backtest`) is the function below, not the module.
from . import detection as _detect
from . import findings
from .backtest import BacktestOptions, PolicyResult, run_backtest
from .detection import DetectConfig as DetectConfig  # re-exported (the package face)
from .detection import DetectResult as DetectResult
from .errors import ReportError
from .evaluate import Evaluation, evaluate_dir
from .ingest import IngestOptions, IngestSummary, ingest_accounts, ingest_logs
from .simulate import SimulationResult, get_scenario, load_corpora
from .simulate import simulate as simulate_scenario
from .store import Store

PathLike = str | Path


def ingest(logs: Sequence[PathLike], db: PathLike, accounts: PathLike | None = None,
           options: IngestOptions | None = None) -> IngestSummary:
    """Validate logs (and an accounts file) and append them to the DuckDB store at `db`."""
    with Store.open(db) as store:
        if accounts is not None:
            ingest_accounts(store, accounts)
        return ingest_logs(store, logs, options or IngestOptions())


def simulate(scenario: str, out: PathLike, scale: float = 1.0, seed: int = 1,
             corpora: PathLike = "../shared/data") -> SimulationResult:
    """Generate a preset scenario with ground truth into `out` (exchanges, accounts, labels, scenario)."""
    return simulate_scenario(get_scenario(scenario), scale, seed, load_corpora(corpora), out)


def detect(logs: Sequence[PathLike] = (), out: PathLike = "detect-out", db: PathLike | None = None,
           accounts: PathLike | None = None, fpr_target: float = 0.001) -> _detect.DetectResult:
    """Find campaign accounts in log files or an ingested store (`db` with no logs); write the output folder.

    The folder gets the rich `report.html`; if that report fails, `ReportError` (its `result` is the detection's
    result, the rest of the folder is complete and `report.html` is the plain report).
    """
    return detect_and_report(list(logs), out, db=db, accounts=accounts,
                             config=_detect.DetectConfig(fpr_target=fpr_target))


def detect_and_report(logs: Sequence[PathLike], out: PathLike, db: PathLike | None = None,
                      accounts: PathLike | None = None, config: _detect.DetectConfig | None = None,
                      report: bool = True, **kwargs: Any) -> _detect.DetectResult:
    """Detection (over `logs` ingested into `db` or a temporary store, or over `db` alone), then the report.

    What `distillguard detect` runs: the detection core writes the output folder with a plain `report.html`,
    then (with `report`) the rich report replaces it, read from the folder and the store while it is open.
    `kwargs` go to `detect_store` (`on_stage`, `engine`, `spark`, `incremental`, `rebuild`, ...); `on_stage`
    also hears the report's time as stage "report". An incremental update keeps its plain report. A failed
    rich report raises `ReportError` carrying the result; the plain report stays.
    """
    with _detect.ingested(list(logs), out, accounts=accounts, db=db) as store:
        res = _detect.detect_store(store, out, config or _detect.DetectConfig(), **kwargs)
        if report and not res.incremental_update:
            write_detection_report(store, res, kwargs.get("on_stage"))
    return res


def write_detection_report(store: Store, res: _detect.DetectResult, on_stage: Any = None) -> None:
    """The rich `report.html` of the detection run `res` over the open `store` (ReportError if it fails)."""
    from .report import write_report

    t0 = time.perf_counter()
    try:
        with _detect.report_memory(store):
            write_report(res.out_dir, Path(store.path) if store.path != ":memory:" else None)
    except Exception as e:  # noqa: BLE001 - any failure of the view: say so, the detection output stands
        raise ReportError(f"{res.out_dir / 'report.html'}: the rich report failed ({type(e).__name__}: {e}); "
                          f"the detection output is complete and report.html is the plain report; retry with "
                          f"`distillguard report {res.out_dir}`", result=res) from e
    if on_stage:
        on_stage("report", round(time.perf_counter() - t0, 3))


def evaluate(labels: PathLike, out_dir: PathLike) -> Evaluation:
    """Score a detection output folder against the simulator's ground-truth labels."""
    return evaluate_dir(labels, out_dir)


def backtest(logs: Sequence[PathLike], policy: PathLike | None = None, detect: PathLike | None = None,
             labels: PathLike | None = None, delay_hours: float = 24.0) -> list[PolicyResult]:
    """Replay logs through the enforcement engine, and the per-key-only baseline, with simulated time."""
    from .policy import DEFAULT_POLICY_TOML, PER_KEY_BASELINE_TOML, load_policy, parse_policy

    policies = {
        "policy": load_policy(policy) if policy else parse_policy(DEFAULT_POLICY_TOML, "<default>"),
        "per-key baseline": parse_policy(PER_KEY_BASELINE_TOML, "per-key baseline"),
    }
    opts = BacktestOptions(detect=str(detect) if detect else None, labels=str(labels) if labels else None,
                                     delay_s=delay_hours * 3600.0)
    return run_backtest(list(logs), policies, opts)


def read_detection_accounts(out_dir: PathLike) -> pa.Table:
    """`DIR/accounts.csv` of a detection run as an Arrow table (SCHEMA.md §4; see `findings.read_accounts`)."""
    return findings.read_accounts(out_dir)
