"""Backtest: replay a historical exchange log through the gateway's enforcement engine in simulated time.

The same `Enforcer` as `distillguard serve` decides every logged request in time order, with the
request's own timestamp as the clock. What detection knows is revealed as it would have been in
production, not all at once:
- an account's detection result (score, campaign) becomes known `delay_s` after its first request
  (detection runs periodically over what has been logged so far);
- a campaign's templates and wrappers (fingerprint `template_id` / `wrapper_id`) are learned online by
  the engine from the traffic of its known members, exactly as in the gateway (policy `learn_*`), plus
  any in `templates.csv` (revealed `delay_s` after the campaign's start, and only if its detected
  members sent at least half of the template's uses in the log);
- with `precomputed_templates`, templates are instead revealed `delay_s` after a detected member first
  sent them, if at least 3 detected members sent them and they sent at least half of all uses.
From then on a fresh account that sends those templates joins the campaign online, as in the gateway.

Per campaign (ground-truth campaigns when `labels` is given, detected ones otherwise) it reports the
exchanges served before the first action and before containment (from when on no day of the campaign
had more than 5 % of its exchanges served) and served after the campaign's first 24 h; for legitimate
accounts, the requests refused or degraded.
"""

from __future__ import annotations

import csv
import heapq
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError
from .gateway.enforce import Enforcer, Request
from .policy import Action, Knowledge, Policy, load_detection
from .schema import prompt_sql
from .store import Store, sql_literal

CONTAINED_SHARE = 0.05
DAY = 86400.0


@dataclass(frozen=True)
class BacktestOptions:
    """Where knowledge comes from and how late it arrives."""

    detect: str | None = None
    labels: str | None = None
    delay_s: float = DAY
    min_template_accounts: int = 3
    min_member_share: float = 0.5
    precomputed_templates: bool = False  # True: reveal templates from the whole log instead of learning online


@dataclass(frozen=True)
class CampaignResult:
    """What one campaign got out of the API under a policy."""

    campaign_id: str
    accounts: int
    exchanges: int
    served: int
    served_before_first_action: int
    first_action_h: float | None
    served_before_containment: int
    containment_h: float | None
    after_24h: int
    served_after_24h: int


@dataclass(frozen=True)
class LegitResult:
    """What legitimate accounts suffered under a policy."""

    accounts: int
    requests: int
    affected: int
    rate_limited: int
    blocked: int
    verification: int
    degraded: int


@dataclass(frozen=True)
class PolicyResult:
    """One policy's backtest."""

    name: str
    campaigns: tuple[CampaignResult, ...]
    legit: LegitResult
    seconds: float
    campaign_exchanges: int = 0
    campaign_served_after_24h: int = 0
    campaign_after_24h: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def served_after_24h_share(self) -> float:
        """Share of all campaign exchanges that were served after each campaign's first 24 h."""
        return self.campaign_served_after_24h / self.campaign_exchanges if self.campaign_exchanges else 0.0

    @property
    def legit_affected_share(self) -> float:
        """Share of legitimate requests refused or degraded."""
        return self.legit.affected / self.legit.requests if self.legit.requests else 0.0


_COLUMNS = ("ts", "account_id", "org_id", "text", "chars", "max_tokens", "prompt_tokens", "completion_tokens")


def load_log(paths: Sequence[str | Path]) -> pa.Table:
    """The log's columns the replay needs, in time order (Parquet read directly, other formats ingested)."""
    files = [Path(p) for p in paths]
    for p in files:
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
    parquet = all(p.suffix == ".parquet" or (p.is_dir() and any(p.rglob("*.parquet"))) for p in files)
    with Store.open(":memory:") as store:
        con = store.con
        if parquet:
            globs = [str(p / "**" / "*.parquet") if p.is_dir() else str(p) for p in files]
            con.execute(f"CREATE VIEW src AS SELECT * FROM read_parquet([{', '.join(map(sql_literal, globs))}], "
                        "union_by_name = true)")
        else:
            from .ingest import ingest_logs, log_files

            ingest_logs(store, log_files(files))
            con.execute("CREATE VIEW src AS SELECT * FROM exchanges")
        cols = {r[0] for r in con.execute("DESCRIBE src").fetchall()}
        opt = {c: c if c in cols else "NULL" for c in ("org_id", "prompt", "params", "prompt_tokens",
                                                      "completion_tokens", "messages")}

        all_chars = (f"list_sum(list_transform({opt['messages']}, lambda m: length(coalesce(m.content, ''))))"
                     if opt["messages"] != "NULL" else "0")
        params = opt["params"] if opt["params"] == "NULL" else f"CAST({opt['params']} AS VARCHAR)"
        sql = f"""
            SELECT epoch_us(CAST(ts AS TIMESTAMPTZ)) / 1e6 AS ts, account_id,
                   CAST({opt['org_id']} AS VARCHAR) AS org_id,
                   {prompt_sql(f"CAST({opt['prompt']} AS VARCHAR)",
                               opt['messages'] if opt['messages'] != 'NULL' else None)} AS text,
                   coalesce(length(CAST({opt['prompt']} AS VARCHAR)), {all_chars}, 0) AS chars,
                   TRY_CAST(json_extract({params}, '$.max_tokens') AS BIGINT) AS max_tokens,
                   CAST({opt['prompt_tokens']} AS BIGINT) AS prompt_tokens,
                   CAST({opt['completion_tokens']} AS BIGINT) AS completion_tokens
            FROM src ORDER BY ts"""
        return con.sql(sql).to_arrow_table()


def _fingerprints(texts: pa.ChunkedArray | pa.Array, chunk: int = 250_000) -> tuple[np.ndarray, np.ndarray]:
    from .fingerprints.texts import fingerprint_texts

    enc = pc.dictionary_encode(texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts)
    distinct = enc.dictionary
    t_ids, w_ids = np.empty(len(distinct), np.int64), np.empty(len(distinct), np.int64)
    for i in range(0, len(distinct), chunk):
        fp = fingerprint_texts(distinct.slice(i, chunk))
        t_ids[i:i + chunk] = fp.column("template_id").to_numpy()
        w_ids[i:i + chunk] = fp.column("wrapper_id").to_numpy()
    idx = enc.indices.to_numpy(zero_copy_only=False)
    return t_ids[idx], w_ids[idx]


def _read_labels(path: str) -> dict[str, str]:
    with open(path, newline="") as f:
        return {r["account_id"]: r.get("campaign_id") or "" for r in csv.DictReader(f)}


@dataclass
class _Prepared:
    log: pa.Table
    templates: np.ndarray
    wrappers: np.ndarray
    truth: dict[str, str]  # account -> campaign ("" = legitimate)
    reveals: list[tuple[float, int, str, tuple[object, ...]]]  # (time, seq, kind, payload)


@dataclass(frozen=True)
class LoadedLog:
    """A log in time order with the fingerprint ids of each exchange (the expensive part, done once)."""

    log: pa.Table
    templates: np.ndarray
    wrappers: np.ndarray


def load_fingerprinted(paths: Sequence[str | Path]) -> LoadedLog:
    """Load the log and fingerprint every distinct prompt once."""
    log = load_log(paths)
    templates, wrappers = _fingerprints(log.column("text"))
    return LoadedLog(log, templates, wrappers)


def prepare(paths: Sequence[str | Path] | LoadedLog, opts: BacktestOptions) -> _Prepared:
    """Load and fingerprint the log (unless given loaded) and schedule when detection becomes known."""
    loaded = paths if isinstance(paths, LoadedLog) else load_fingerprinted(paths)
    log, templates, wrappers = loaded.log, loaded.templates, loaded.wrappers
    accounts = log.column("account_id").to_pylist()
    ts = log.column("ts").to_numpy()
    first_seen: dict[str, float] = {}
    for a, t in zip(accounts, ts, strict=True):
        first_seen.setdefault(a, float(t))
    known = load_detection(opts.detect) if opts.detect else Knowledge()
    reveals: list[tuple[float, int, str, tuple[object, ...]]] = []
    for a, t0 in first_seen.items():
        if a in known.account_score:
            info = (a, known.account_score[a], known.account_campaign.get(a), known.account_reasons.get(a, ""))
            reveals.append((t0 + opts.delay_s, len(reveals), "account", info))
    # campaign-specific templates, revealed delay_s after a detected member first sent them
    members = known.account_campaign
    first_use: dict[tuple[int, str], float] = {}
    senders: dict[tuple[int, str], set[str]] = {}
    member_uses: dict[int, int] = {}
    uses: dict[int, int] = {}
    for a, t, tid, wid in zip(accounts, ts, templates.tolist(), wrappers.tolist(), strict=True):
        cid = members.get(a)
        # a template id (whole prompt skeleton) and a wrapper id (the repeated part around a payload)
        for key_id in (tid,) if wid == tid else (tid, wid):
            uses[key_id] = uses.get(key_id, 0) + 1
            if cid is None:
                continue
            member_uses[key_id] = member_uses.get(key_id, 0) + 1
            key = (key_id, cid)
            first_use.setdefault(key, float(t))
            s = senders.setdefault(key, set())
            if len(s) < opts.min_template_accounts:
                s.add(a)
    camp_first = {}
    for a, cid in members.items():
        if a in first_seen:
            camp_first[cid] = min(camp_first.get(cid, float("inf")), first_seen[a])
    for (tid, cid), t in first_use.items() if opts.precomputed_templates else ():
        if len(senders[(tid, cid)]) >= opts.min_template_accounts and \
                member_uses[tid] >= opts.min_member_share * uses[tid]:
            reveals.append((t + opts.delay_s, len(reveals), "template", (tid, cid)))
    for tid, cid in known.template_campaign.items():  # from templates.csv, held to the same specificity test
        if cid in camp_first and member_uses.get(tid, 0) >= opts.min_member_share * uses.get(tid, 1):
            reveals.append((camp_first[cid] + opts.delay_s, len(reveals), "template", (tid, cid)))
    reveals.append((0.0, len(reveals), "confidence", tuple(known.campaign_confidence.items())))
    heapq.heapify(reveals)
    truth = _read_labels(opts.labels) if opts.labels else {a: members.get(a, "") for a in first_seen}
    return _Prepared(log, templates, wrappers, truth, reveals)


def replay(prep: _Prepared, policy: Policy, name: str) -> PolicyResult:
    """Run one policy over a prepared log."""
    t_start = time.perf_counter()
    enforcer = Enforcer(policy, Knowledge())
    k = enforcer.knowledge
    reveals = list(prep.reveals)
    log = prep.log
    cols = {c: log.column(c).to_pylist() for c in _COLUMNS if c != "text"}
    tids, wids = prep.templates.tolist(), prep.wrappers.tolist()
    truth = prep.truth
    camp_events: dict[str, list[tuple[float, bool, bool]]] = {}  # campaign -> (ts, served, acted on)
    camp_accounts: dict[str, set[str]] = {}
    legit = {"requests": 0, "affected": 0, "rate_limited": 0, "blocked": 0, "verification": 0, "degraded": 0}
    legit_accounts: set[str] = set()
    for i, (ts, acct) in enumerate(zip(cols["ts"], cols["account_id"], strict=True)):
        while reveals and reveals[0][0] <= ts:
            _, _, kind, payload = heapq.heappop(reveals)
            if kind == "account":
                a, score, cid, why = payload
                k.add_account(str(a), float(score), str(cid) if cid else None, str(why))  # type: ignore[arg-type]
            elif kind == "template":
                k.template_campaign[int(payload[0])] = str(payload[1])  # type: ignore[call-overload]
            else:
                k.campaign_confidence.update(dict(payload))  # type: ignore[arg-type]
        chars = cols["chars"][i] or 0
        req = Request(acct, ts, tids[i], wids[i], cols["org_id"][i], False,
                      cols["prompt_tokens"][i] or chars // 4 + 1, cols["max_tokens"][i])
        d = enforcer.decide(req)
        if d.allowed:
            enforcer.settle(req, d, cols["completion_tokens"][i] or 0)
        cid = truth.get(acct, "")
        if cid:
            camp_events.setdefault(cid, []).append((ts, d.allowed, d.action != Action.ALLOW))
            camp_accounts.setdefault(cid, set()).add(acct)
        else:
            legit_accounts.add(acct)
            legit["requests"] += 1
            hit = not d.allowed or d.action == Action.DEGRADE
            legit["affected"] += hit
            legit["rate_limited"] += d.status == 429
            legit["blocked"] += d.code == "account_blocked"
            legit["verification"] += d.code == "verification_required"
            legit["degraded"] += d.action == Action.DEGRADE and d.allowed
    campaigns = tuple(_campaign_result(cid, ev, len(camp_accounts[cid])) for cid, ev in sorted(camp_events.items()))
    return PolicyResult(
        name=name, campaigns=campaigns, legit=LegitResult(len(legit_accounts), **legit),
        seconds=time.perf_counter() - t_start,
        campaign_exchanges=sum(c.exchanges for c in campaigns),
        campaign_served_after_24h=sum(c.served_after_24h for c in campaigns),
        campaign_after_24h=sum(c.after_24h for c in campaigns),
        extra={"accounts_assigned_online": sum(1 for s in enforcer.accounts.values() if s.campaign)})


def _campaign_result(cid: str, ev: list[tuple[float, bool, bool]], accounts: int) -> CampaignResult:
    ts = np.array([e[0] for e in ev])
    served = np.array([e[1] for e in ev], dtype=bool)
    acted = np.array([e[2] for e in ev], dtype=bool)
    n = len(ev)
    first_action = int(np.argmax(acted)) if acted.any() else None
    # containment: from the end of the last day (since the campaign's start) in which more than 5 % of
    # its exchanges were served on, every day is >= 95 % refused (days, not hours: at ~26 exchanges per
    # account per day an hour holds too few exchanges for a share to mean anything)
    hour = ((ts - ts[0]) // DAY).astype(np.int64)
    per_hour = np.bincount(hour, minlength=int(hour[-1]) + 1)
    served_hour = np.bincount(hour, weights=served, minlength=len(per_hour))
    leaky = np.flatnonzero(served_hour > CONTAINED_SHARE * per_hour)
    if not len(leaky):
        contained: int | None = 0
    elif leaky[-1] == len(per_hour) - 1:
        contained = None  # still leaking on the campaign's last day
    else:
        contained = int(np.searchsorted(hour, leaky[-1] + 1))
    after = ts >= ts[0] + DAY
    return CampaignResult(
        campaign_id=cid, accounts=accounts, exchanges=n, served=int(served.sum()),
        served_before_first_action=int(served[:first_action].sum()) if first_action is not None else int(served.sum()),
        first_action_h=(ts[first_action] - ts[0]) / 3600 if first_action is not None else None,
        served_before_containment=int(served[:contained].sum()) if contained is not None else int(served.sum()),
        containment_h=(ts[contained] - ts[0]) / 3600 if contained is not None else None,
        after_24h=int(after.sum()), served_after_24h=int((served & after).sum()))


def run_backtest(paths: Sequence[str | Path] | LoadedLog, policies: dict[str, Policy],
                 opts: BacktestOptions | None = None) -> list[PolicyResult]:
    """Replay the log once per policy (fingerprints and knowledge schedule computed once)."""
    prep = prepare(paths, opts or BacktestOptions())
    return [replay(prep, p, name) for name, p in policies.items()]


def format_results(results: Sequence[PolicyResult]) -> str:
    """Plain-text tables: per policy and campaign, then legitimate traffic."""
    out = []
    hdr = (f"{'policy':<18} {'campaign':<16} {'accts':>6} {'exch':>8} {'served':>8} {'pre-1st':>8} {'1st h':>6} "
           f"{'pre-cont':>8} {'cont h':>7} {'srv>24h':>8} {'% >24h':>7}")
    out.append(hdr)
    for r in results:
        for c in r.campaigns:
            share = 100 * c.served_after_24h / c.exchanges if c.exchanges else 0
            out.append(f"{r.name:<18} {c.campaign_id:<16} {c.accounts:>6} {c.exchanges:>8} {c.served:>8} "
                       f"{c.served_before_first_action:>8} {_h(c.first_action_h):>6} {c.served_before_containment:>8} "
                       f"{_h(c.containment_h):>7} {c.served_after_24h:>8} {share:>6.2f}%")
    out.append("")
    out.append(f"{'policy':<18} {'campaign exch':>13} {'served >24h':>11} {'% of campaign':>13} {'legit req':>10} "
               f"{'affected':>8} {'% legit':>8} {'429':>6} {'blocked':>7} {'verify':>6} {'degraded':>8} "
               f"{'joined online':>13} {'secs':>6}")
    for r in results:
        lg = r.legit
        out.append(f"{r.name:<18} {r.campaign_exchanges:>13} {r.campaign_served_after_24h:>11} "
                   f"{100 * r.served_after_24h_share:>12.2f}% {lg.requests:>10} {lg.affected:>8} "
                   f"{100 * r.legit_affected_share:>7.3f}% {lg.rate_limited:>6} {lg.blocked:>7} {lg.verification:>6} "
                   f"{lg.degraded:>8} {r.extra.get('accounts_assigned_online', 0):>13} {r.seconds:>6.1f}")
    return "\n".join(out)


def _h(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def write_json(results: Sequence[PolicyResult], path: str | Path) -> None:
    """Write the results as JSON (one object per policy)."""
    rows = [{**asdict(r), "served_after_24h_share": r.served_after_24h_share,
             "legit_affected_share": r.legit_affected_share} for r in results]
    Path(path).write_text(json.dumps(rows, indent=1))
