"""The detection output folder (SCHEMA.md §4) as typed records: the one reader of `accounts.csv`,
`campaigns.json` and `operating_point.json`, and the one atomic writer for stages that rewrite accounts.

    accounts.csv          account_id,score,flagged,campaign_id,reasons[,verdict] (+ any extra column, as text)
    campaigns.json        [{campaign_id, accounts, exchanges, first_seen, last_seen, capabilities, evidence,
                            confidence, response, ...}]
    operating_point.json  {"fpr_target", "thresholds": {"enforce", "review", "watch"}, "accounts": {...}}:
                          the run's operating point (absent in folders written before it existed)

Readers (the gateway's policy, report, intel, explain, evaluate, incremental, the LiteLLM hook) take what
they need from `read(folder)` or the narrower `read_accounts` / `read_campaigns` / `read_run`. The contract
does not import detection, report, the gateway or the CLI.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import InputError, RecordError

ACCOUNTS, CAMPAIGNS, OPERATING_POINT = "accounts.csv", "campaigns.json", "operating_point.json"
ACCOUNT_COLUMNS = ("account_id", "score", "flagged", "campaign_id", "reasons")
_TRUE = ("true", "1", "yes")


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence that binds a campaign: a signal code and a human detail."""

    signal: str
    detail: str


@dataclass(frozen=True)
class Campaign:
    """One detected campaign as in `campaigns.json`; keys this version does not know are kept in `extra`."""

    campaign_id: str
    accounts: int
    exchanges: int
    first_seen: str
    last_seen: str
    capabilities: dict[str, float]
    evidence: tuple[Evidence, ...]
    confidence: float
    response: dict[str, Any] | None = None  # what the default policy would do
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def signals(self) -> tuple[str, ...]:
        """The evidence's signal codes, first occurrence order, without repeats."""
        return tuple(dict.fromkeys(e.signal for e in self.evidence))


@dataclass(frozen=True)
class AccountVerdict:
    """One row of `accounts.csv`: `verdict` is the account's band (enforce / review / watch / '') where the
    folder has the column; any other column beyond the contract's is in `extra`."""

    account_id: str
    score: float
    flagged: bool
    campaign_id: str | None
    reasons: tuple[str, ...]
    verdict: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunInfo:
    """The run's operating point: the fpr target and the score thresholds of its bands (`enforce` = flagged).

    All None for a folder written before `operating_point.json` existed."""

    fpr_target: float | None = None
    enforce: float | None = None
    review: float | None = None
    watch: float | None = None

    @property
    def threshold(self) -> float | None:
        """The flag threshold (the enforce band's)."""
        return self.enforce


@dataclass(frozen=True)
class Findings:
    """A detection output folder: accounts (Arrow, see `read_accounts`), campaigns and the operating point."""

    folder: Path
    accounts: pa.Table
    campaigns: tuple[Campaign, ...]
    run: RunInfo

    def campaign(self, campaign_id: str) -> Campaign | None:
        """The campaign with this id, or None."""
        return next((c for c in self.campaigns if c.campaign_id == campaign_id), None)

    def verdicts(self) -> Iterator[AccountVerdict]:
        """The accounts as records, in file order."""
        return verdicts(self.accounts)


def read(folder: str | Path) -> Findings:
    """The whole folder (accounts.csv and campaigns.json required, operating_point.json optional)."""
    d = _folder(folder)
    return Findings(folder=d, accounts=read_accounts(d), campaigns=read_campaigns(d), run=read_run(d))


def _folder(folder: str | Path) -> Path:
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"{d}: not a folder; give the --out folder of `distillguard detect`")
    return d


def read_accounts(folder: str | Path, name: str = ACCOUNTS,
                  require: tuple[str, ...] = ("account_id", "score")) -> pa.Table:
    """`accounts.csv` in file order: account_id, score (double), flagged (bool), campaign_id and reasons
    (strings, null when empty), then any extra columns as strings.

    A missing `flagged` column means flagged (folders from before the column); a score that is not a number
    is an InputError naming the line. `name`: another file of the same form in the folder (a backup);
    `require`: the columns that must be in the file (a missing optional one reads as empty).
    """
    path = Path(folder) / name
    if not path.is_file():
        raise InputError(f"{path}: missing; give the folder written by `distillguard detect --out DIR`")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file; expected the header {','.join(ACCOUNT_COLUMNS)}")
    try:
        raw = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                             convert_options=pacsv.ConvertOptions(column_types=_all_text(path),
                                                                  strings_can_be_null=False))
    except (pa.ArrowInvalid, OSError) as e:
        raise InputError(f"{path}: cannot read ({str(e).splitlines()[0]}); is it the CSV that "
                         "`distillguard detect` wrote?") from e
    missing = [c for c in require if c not in raw.column_names]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; expected the header "
                         f"{','.join(ACCOUNT_COLUMNS)} (SCHEMA.md §4)")
    n = raw.num_rows
    text = raw["score"]
    try:
        score = pc.cast(text, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        bad = next(i for i, v in enumerate(text.to_pylist()) if not _is_number(v))
        raise InputError(f"{path}:{bad + 2}: score: not a number: {text[bad].as_py()!r}") from None
    flagged = (pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(raw["flagged"])), pa.array(_TRUE))
               if "flagged" in raw.column_names else pa.array([True] * n))
    cols = {"account_id": raw["account_id"], "score": score, "flagged": flagged,
            "campaign_id": _nullable(raw, "campaign_id", n), "reasons": _nullable(raw, "reasons", n)}
    for c in raw.column_names:
        if c not in cols:
            cols[c] = raw[c]
    return pa.table(cols)


def _all_text(path: Path) -> dict[str, pa.DataType]:
    with path.open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f), [])
    return {c: pa.string() for c in header}


def _is_number(v: str | None) -> bool:
    try:
        float(v or "x")
        return True
    except ValueError:
        return False


def _nullable(raw: pa.Table, name: str, n: int) -> pa.ChunkedArray | pa.Array:
    if name not in raw.column_names:
        return pa.nulls(n, pa.string())
    col = raw[name]
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)


def verdicts(accounts: pa.Table) -> Iterator[AccountVerdict]:
    """The rows of an accounts table (as `read_accounts` returns it) as records."""
    extra = [c for c in accounts.column_names if c not in ACCOUNT_COLUMNS and c != "verdict"]
    cols = {c: accounts[c].to_pylist() for c in accounts.column_names}
    for i in range(accounts.num_rows):
        reasons = cols["reasons"][i]
        yield AccountVerdict(account_id=cols["account_id"][i], score=cols["score"][i], flagged=cols["flagged"][i],
                             campaign_id=cols["campaign_id"][i] or None,
                             reasons=tuple(r for r in (reasons or "").split(";") if r),
                             verdict=cols["verdict"][i] or "" if "verdict" in cols else None,
                             extra={c: cols[c][i] or "" for c in extra})


def read_verdicts(folder: str | Path) -> Iterator[AccountVerdict]:
    """`accounts.csv` as records."""
    return verdicts(read_accounts(folder))


def read_campaigns(folder: str | Path, strict: bool = True) -> tuple[Campaign, ...]:
    """`campaigns.json` in file order. A campaign without one of the contract's fields (campaign_id,
    accounts, exchanges, first_seen, last_seen) or with a wrong type is a RecordError naming the item
    (1-based) and the field; `strict=False` (a reader that needs only ids and confidence, e.g. the
    gateway's policy) reads a missing count as 0 and a missing time as ''."""
    path = Path(folder) / CAMPAIGNS
    return tuple(_campaign(path, i, c, strict) for i, c in enumerate(_campaign_list(path), start=1))


def read_campaign_records(folder: str | Path) -> list[dict[str, Any]]:
    """`campaigns.json` as its JSON objects, keys in file order (checked as `read_campaigns` checks them), for
    a stage that keeps and re-writes the records as they are (the incremental snapshot)."""
    path = Path(folder) / CAMPAIGNS
    raw = _campaign_list(path)
    for i, c in enumerate(raw, start=1):
        _campaign(path, i, c, True)
    return raw


def _campaign_list(path: Path) -> list[Any]:
    if not path.is_file():
        raise InputError(f"{path}: missing; give the folder written by `distillguard detect --out DIR`")
    try:
        raw = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e}); expected a list of campaign objects") from e
    if not isinstance(raw, list):
        raise InputError(f"{path}: expected a JSON list of campaign objects, got {type(raw).__name__}")
    return raw


_KNOWN = ("campaign_id", "accounts", "exchanges", "first_seen", "last_seen", "capabilities", "evidence",
          "confidence", "response")


_REQUIRED = ("campaign_id", "accounts", "exchanges", "first_seen", "last_seen")


def _campaign(path: Path, i: int, c: Any, strict: bool) -> Campaign:
    if not isinstance(c, dict):
        raise RecordError(str(path), i, None, "expected a campaign object")
    missing = next((k for k in _REQUIRED[: None if strict else 1] if c.get(k) is None), None)
    if missing:
        raise RecordError(str(path), i, missing, "required field is missing")
    if not strict:
        c = {"accounts": 0, "exchanges": 0, "first_seen": "", "last_seen": ""} | {
            k: v for k, v in c.items() if v is not None}
    try:
        caps = c.get("capabilities") or {}
        return Campaign(
            campaign_id=str(c["campaign_id"]),
            accounts=int(c["accounts"]),
            exchanges=int(c["exchanges"]),
            first_seen=str(c["first_seen"]),
            last_seen=str(c["last_seen"]),
            capabilities={str(k): float(v) for k, v in caps.items() if isinstance(v, int | float)}
            if isinstance(caps, dict) else {},
            evidence=tuple(Evidence(str(e.get("signal", "")), str(e.get("detail", "")))
                           for e in c.get("evidence") or () if isinstance(e, dict)),
            confidence=float(c["confidence"]) if c.get("confidence") is not None else 1.0,
            response=c["response"] if isinstance(c.get("response"), dict) else None,
            extra={k: v for k, v in c.items() if k not in _KNOWN},
        )
    except (TypeError, ValueError) as e:
        raise RecordError(str(path), i, None, f"wrong type ({e})") from None


def read_run(folder: str | Path) -> RunInfo:
    """`operating_point.json`, or an empty RunInfo for a folder written before it existed."""
    path = Path(folder) / OPERATING_POINT
    if not path.is_file():
        return RunInfo()
    try:
        raw = orjson.loads(path.read_bytes())
        bands = raw.get("thresholds") or {}
        return RunInfo(fpr_target=_opt_float(raw.get("fpr_target")), enforce=_opt_float(bands.get("enforce")),
                       review=_opt_float(bands.get("review")), watch=_opt_float(bands.get("watch")))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
        raise InputError(f"{path}: expected an object with fpr_target and thresholds ({e})") from None


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def write_accounts(folder: str | Path, accounts: pa.Table) -> None:
    """Rewrite `accounts.csv` atomically (a reader, e.g. the gateway reloading on its mtime, sees the old
    file or the new one, never half of one). `accounts` as `read_accounts` returns it: written as detect
    writes it (score with six decimals, flagged `true`/`false`, nulls empty)."""
    names = accounts.column_names
    cols = [accounts[c].to_pylist() for c in names]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(names)
    for row in zip(*cols, strict=True):
        w.writerow([_cell(v) for v in row])
    atomic_write(Path(folder) / ACCOUNTS, buf.getvalue().encode("utf-8"))


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder, fsync'd, then renamed over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
