"""Per-account drill-down, `explain` as a page: why an account got its score and what it is linked to.

Which accounts get a page: the highest-scored members of each campaign, flagged accounts outside any
campaign, and the legitimate (unflagged) accounts nearest the operating point, the ones an analyst
checks for false positives. Feature values are shown next to the median of unflagged accounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .findings import Findings
from .summary import signal_words

# features.parquet's columns in an analyst's words (a column not listed: its name with spaces)
FEATURE_WORDS = {
    "exchanges": "exchanges", "first_ts": "first request", "last_ts": "last request", "span_days": "days active (span)",
    "gap_mean": "mean time between requests (s)", "gap_std": "spread of time between requests (s)",
    "gap_median": "median time between requests (s)", "fast_gap_share": "share of requests < 1 s apart",
    "single_turn_share": "share of single-turn requests", "template_diversity": "distinct prompt templates (share)",
    "group_diversity": "distinct template groups (share)", "cap_reasoning": "share targeting reasoning",
    "cap_coding": "share targeting coding", "cap_tool_use": "share targeting tool use", "cap_other": "share other",
    "cot_share": "share asking for chain-of-thought", "structured_share": "share asking for structured output",
    "tools_share": "share with tool definitions", "output_input_ratio": "output / input tokens",
    "max_tokens_mean": "mean max_tokens requested", "long_max_tokens_share": "share with a long max_tokens",
    "no_max_tokens_share": "share without max_tokens", "temperature_std": "spread of temperature",
    "client_fingerprints": "client fingerprints", "ips": "IP addresses", "user_agents": "user agents",
    "models": "models used", "system_prompts": "system prompts", "mean_hours_between": "mean hours between sessions",
    "exchanges_per_active_day": "exchanges per active day", "burstiness": "burstiness",
    "gap_cv": "irregularity of timing (gap CV)", "peak_per_minute": "peak requests in a minute",
    "peak_per_day": "peak requests in a day", "active_days": "active days", "hour_entropy": "spread over hours of day",
    "hours_active": "hours of day active", "top_template_share": "share of the most used template",
    "replayed_share": "share of replayed prompts", "account_age_days": "account age (days)",
    "shared_exchanges": "exchanges carrying its group's content", "shared_share": "share carrying its group's content",
    "shared_share_low": "… its 95 % interval, low", "shared_share_high": "… its 95 % interval, high",
    "task_units": "samples of behaviour (an agent's task once)",
}


def feature_words(name: str) -> str:
    """A feature column's name as an analyst reads it."""
    return FEATURE_WORDS.get(name, name.replace("_", " "))


@dataclass(frozen=True)
class FeatureValue:
    """One feature of an account beside the typical (median) value among unflagged accounts."""

    name: str
    value: float
    typical: float

    @property
    def label(self) -> str:
        """The feature in words."""
        return feature_words(self.name)


@dataclass(frozen=True)
class Neighbour:
    """An account linked to the drilled-down one."""

    account_id: str
    kind: str
    weight: float
    campaign_id: str


@dataclass(frozen=True)
class Activity:
    """What the store says the account did (only when the report is given a store)."""

    exchanges: int
    first_seen: str
    last_seen: str
    ips: int
    user_agent: str


@dataclass(frozen=True)
class AccountDetail:
    """The drill-down of one account."""

    account_id: str
    score: float
    flagged: bool
    campaign_id: str
    reasons: tuple[str, ...]
    features: tuple[FeatureValue, ...]
    neighbours: tuple[Neighbour, ...]
    activity: Activity | None
    why_listed: str

    @property
    def anchor(self) -> str:
        """An id for the HTML anchor of this account (stable, safe characters only)."""
        return "acct-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in self.account_id)


def operating_point(findings: Findings) -> float | None:
    """The decision threshold as observed: the lowest score among flagged accounts (None if none)."""
    flagged = pc.filter(findings.accounts["score"], findings.accounts["flagged"])
    return float(pc.min(flagged).as_py()) if len(flagged) else None


def select_accounts(findings: Findings, per_campaign: int = 3, unassigned: int = 10,
                    near_threshold: int = 12) -> list[tuple[str, str]]:
    """(account_id, why listed) for every account that gets a drill-down, in report order."""
    acc = findings.accounts  # sorted by score, highest first
    ids, camps, flags = (acc["account_id"].to_pylist(), acc["campaign_id"].to_pylist(),
                         acc["flagged"].to_pylist())
    out: list[tuple[str, str]] = []
    taken: dict[str, int] = {}
    loose = 0
    for a, c, f in zip(ids, camps, flags, strict=True):
        if c and taken.get(c, 0) < per_campaign:
            taken[c] = taken.get(c, 0) + 1
            out.append((a, f"top-scored member of {c}"))
        elif not c and f and loose < unassigned:
            loose += 1
            out.append((a, "flagged, not in a campaign"))
    near = [a for a, c, f in zip(ids, camps, flags, strict=True) if not f][:near_threshold]
    out.extend((a, "legitimate, nearest the operating point") for a in near)
    return out


def _feature_columns(features: pa.Table) -> list[str]:
    return [f.name for f in features.schema
            if f.name != "account_id" and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))]


def _features(findings: Findings, ids: list[str], top: int = 8) -> dict[str, tuple[FeatureValue, ...]]:
    feats = findings.features
    if feats is None or "account_id" not in feats.column_names:
        return {}
    cols = _feature_columns(feats)
    if not cols:
        return {}
    acc = findings.accounts
    legit = pc.filter(acc["account_id"], pc.invert(acc["flagged"]))
    legit_rows = feats.filter(pc.is_in(feats["account_id"].cast(pa.string()), value_set=legit))
    typical, spread, scale_sd = {}, {}, {}
    for c in cols:
        v = legit_rows[c].cast(pa.float64()).drop_null().to_numpy(zero_copy_only=False)
        v = v[np.isfinite(v)]
        typical[c] = float(np.median(v)) if len(v) else math.nan
        q1, q3 = (np.percentile(v, [25, 75]) if len(v) else (math.nan, math.nan))
        spread[c] = float(q3 - q1) if len(v) else math.nan
        scale_sd[c] = float(np.std(v)) if len(v) else 0.0
    mine = feats.filter(pc.is_in(feats["account_id"].cast(pa.string()), value_set=pa.array(ids, pa.string())))
    out: dict[str, tuple[FeatureValue, ...]] = {}
    for row in mine.to_pylist():
        items = []
        for c in cols:
            val = row.get(c)
            if val is None or not math.isfinite(float(val)):
                continue
            t, s = typical[c], spread[c]
            scale = s if math.isfinite(s) and s > 0 else (scale_sd[c] if scale_sd[c] > 0 else 1.0)
            dev = abs(float(val) - t) / scale
            items.append((dev if math.isfinite(dev) else 0.0, FeatureValue(c, float(val), t)))
        items.sort(key=lambda x: -x[0])
        out[str(row["account_id"])] = tuple(fv for _, fv in items[:top])
    return out


def _neighbours(findings: Findings, ids: list[str], top: int = 8) -> dict[str, tuple[Neighbour, ...]]:
    links = findings.links
    if links is None or links.num_rows == 0:
        return {}
    value_set = pa.array(ids, pa.string())
    src, dst = links["src"].cast(pa.string()), links["dst"].cast(pa.string())
    sel = links.filter(pc.or_(pc.is_in(src, value_set=value_set), pc.is_in(dst, value_set=value_set)))
    camp = dict(zip(findings.accounts["account_id"].to_pylist(), findings.accounts["campaign_id"].to_pylist(),
                    strict=True))
    wanted = set(ids)
    found: dict[str, dict[str, tuple[list[str], float]]] = {}
    kinds = sel["kind"].to_pylist() if "kind" in sel.column_names else ["link"] * sel.num_rows
    weights = sel["weight"].to_pylist() if "weight" in sel.column_names else [1.0] * sel.num_rows
    for s, d, k, w in zip(sel["src"].cast(pa.string()).to_pylist(), sel["dst"].cast(pa.string()).to_pylist(),
                          kinds, weights, strict=True):
        for me, other in ((s, d), (d, s)):
            if me in wanted and other != me:
                kinds_w = found.setdefault(me, {}).setdefault(other, ([], 0.0))
                if str(k) not in kinds_w[0]:
                    kinds_w[0].append(str(k))
                found[me][other] = (kinds_w[0], max(kinds_w[1], float(w or 0.0)))
    out = {}
    for a, others in found.items():  # one row per linked account: all link kinds, strongest weight
        rows = [Neighbour(o, ", ".join(ks), w, camp.get(o, "")) for o, (ks, w) in others.items()]
        out[a] = tuple(sorted(rows, key=lambda n: (-n.weight, n.account_id))[:top])
    return out


def _activity(store: Path | None, ids: list[str]) -> dict[str, Activity]:
    if store is None or not Path(store).exists() or not ids:
        return {}
    try:
        con = duckdb.connect(str(store), read_only=True)
    except duckdb.Error:
        return {}  # e.g. the gateway holds the write lock: the page goes on without activity
    try:
        con.register("wanted", pa.table({"account_id": pa.array(ids, pa.string())}))
        rows = con.execute(
            """SELECT e.account_id, count(*), strftime(min(e.ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'),
                      strftime(max(e.ts) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'),
                      count(DISTINCT nullif(e.ip, '')), coalesce(mode(e.user_agent), '')
               FROM exchanges e JOIN wanted w USING (account_id) GROUP BY e.account_id"""
        ).fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {str(r[0]): Activity(int(r[1]), str(r[2]), str(r[3]), int(r[4]), str(r[5])) for r in rows}


def account_detail(findings: Findings, account_id: str, store: Path | None = None) -> AccountDetail | None:
    """The drill-down of any one account (None if detect did not see it)."""
    acc = findings.accounts
    sel = acc.filter(pc.equal(acc["account_id"], account_id)).to_pylist()
    if not sel:
        return None
    r, ids = sel[0], [account_id]
    reasons = tuple(signal_words(x) for x in str(r["reasons"]).split(";") if x.strip())
    return AccountDetail(account_id, float(r["score"]), bool(r["flagged"]), str(r["campaign_id"]), reasons,
                         _features(findings, ids).get(account_id, ()), _neighbours(findings, ids).get(account_id, ()),
                         _activity(store, ids).get(account_id), "requested")


def account_details(findings: Findings, store: Path | None = None, **limits: int) -> list[AccountDetail]:
    """Drill-downs for the accounts `select_accounts` picks, with features, links and store activity."""
    chosen = select_accounts(findings, **limits)
    ids = [a for a, _ in chosen]
    acc = findings.accounts
    sel = acc.filter(pc.is_in(acc["account_id"], value_set=pa.array(ids, pa.string())))
    base = {r["account_id"]: r for r in sel.to_pylist()}
    feats, neigh, act = _features(findings, ids), _neighbours(findings, ids), _activity(store, ids)
    out = []
    for a, why in chosen:
        r = base[a]
        reasons = tuple(signal_words(x) for x in str(r["reasons"]).split(";") if x.strip())
        out.append(AccountDetail(a, float(r["score"]), bool(r["flagged"]), str(r["campaign_id"]), reasons,
                                 feats.get(a, ()), neigh.get(a, ()), act.get(a), why))
    return out
