"""Why an account got its score: its signals, the accounts it is linked to and its campaign's evidence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from . import findings
from .errors import InputError

SHOWN_FEATURES = ("exchanges", "span_days", "exchanges_per_active_day", "single_turn_share", "cap_reasoning",
                  "cap_coding", "cap_tool_use", "cap_other", "cot_share", "structured_share",
                  "long_max_tokens_share", "template_diversity", "burstiness", "hour_entropy", "ips",
                  "account_age_days", "shared_share", "shared_share_low", "shared_share_high")
MAX_LINKED = 10


@dataclass(frozen=True)
class Explanation:
    """Everything the output folder says about one account."""

    account_id: str
    score: float
    flagged: bool
    campaign_id: str
    reasons: tuple[str, ...]
    features: tuple[tuple[str, float | None], ...]
    linked: tuple[tuple[str, str, float], ...]       # (other account, kinds, summed weight)
    linked_total: int
    campaign: findings.Campaign | None


def explain_account(account_id: str, out_dir: str | Path) -> Explanation:
    """Collect the explanation of `account_id` from a detection output folder."""
    out = Path(out_dir)
    path = out / findings.ACCOUNTS
    if not path.is_file():
        raise InputError(f"{path}: not found; run `distillguard detect ... --out {out}` first")
    row = next((v for v in findings.read_verdicts(out) if v.account_id == account_id), None)
    if row is None:
        raise InputError(f"{path}: no account {account_id!r} in this detection output")
    con = duckdb.connect()
    feats: tuple[tuple[str, float | None], ...] = ()
    fp = out / "features.parquet"
    if fp.is_file():
        got = con.execute("SELECT * FROM read_parquet(?) WHERE account_id = ?", [str(fp), account_id]).fetchall()
        names = [d[0] for d in con.description or []]
        if got:
            values = dict(zip(names, got[0], strict=True))
            feats = tuple((k, None if values.get(k) is None else float(values[k]))
                          for k in SHOWN_FEATURES if k in values)
    linked: list[tuple[str, str, float]] = []
    total = 0
    lp = out / "links.parquet"
    if lp.is_file():
        rows = con.execute("""
            SELECT other, string_agg(kind, ';' ORDER BY weight DESC), sum(weight) AS w FROM (
              SELECT dst AS other, kind, weight FROM read_parquet(?) WHERE src = ?
              UNION ALL SELECT src, kind, weight FROM read_parquet(?) WHERE dst = ?)
            GROUP BY other ORDER BY w DESC, other""", [str(lp), account_id, str(lp), account_id]).fetchall()
        total = len(rows)
        linked = [(str(o), str(k), float(w)) for o, k, w in rows[:MAX_LINKED]]
    campaign = None
    if row.campaign_id and (out / findings.CAMPAIGNS).is_file():
        campaign = next((c for c in findings.read_campaigns(out) if c.campaign_id == row.campaign_id), None)
    con.close()
    return Explanation(account_id=account_id, score=row.score, flagged=row.flagged,
                       campaign_id=row.campaign_id or "", reasons=row.reasons,
                       features=feats, linked=tuple(linked), linked_total=total, campaign=campaign)


def format_explanation(e: Explanation) -> str:
    """Plain-text rendering of an explanation."""
    lines = [f"account {e.account_id}: score {e.score:.3f}, {'FLAGGED' if e.flagged else 'not flagged'}"
             + (f", campaign {e.campaign_id}" if e.campaign_id else ""),
             f"reasons: {', '.join(e.reasons) or '(none)'}", "", "signals:"]
    lines += [f"  {k:<26}{'-' if v is None else f'{v:.3f}'}" for k, v in e.features]
    lines += ["", f"linked accounts ({e.linked_total}, strongest first):"]
    lines += [f"  {o:<24}{w:7.3f}  {k}" for o, k, w in e.linked] or ["  (none)"]
    if e.campaign:
        c = e.campaign
        lines += ["", f"campaign {c.campaign_id}: {c.accounts} accounts, {c.exchanges} exchanges, "
                      f"{c.first_seen} – {c.last_seen}, confidence {c.confidence}",
                  f"  capabilities: {c.capabilities}"]
        lines += [f"  - {ev.signal}: {ev.detail}" for ev in c.evidence]
    return "\n".join(lines)
