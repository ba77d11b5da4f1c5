"""Partner evidence folded into a detection output folder (`accounts.csv` gains `partner-indicator`).

The account's score becomes the noisy-or of its own score and its partner score, so independent
evidence adds up; an account is flagged when that reaches the folder's operating point (its recorded
flag threshold, else the lowest score it flagged, unless a threshold is given). The original file is kept
as `accounts.before-intel.csv`, the new one replaces `accounts.csv` atomically, and every match is listed
in `partner_matches.csv`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .. import findings
from ..errors import InputError
from .matching import REASON

BACKUP = "accounts.before-intel.csv"


@dataclass(frozen=True)
class EnrichSummary:
    """What folding partner evidence into a detection folder changed."""

    matched: int
    newly_flagged: int
    threshold: float


def enrich_detection(detect_dir: str | Path, evidence: pa.Table, matches: pa.Table,
                     threshold: float | None = None) -> EnrichSummary:
    """Rewrite `detect_dir/accounts.csv` with partner evidence; write `partner_matches.csv`."""
    d = Path(detect_dir)
    path, backup = d / findings.ACCOUNTS, d / BACKUP
    if not path.is_file():
        raise InputError(f"{path}: not found; give the folder written by `distillguard detect --out DIR`")
    # re-running starts again from detect's own decision
    accounts = findings.read_accounts(d, BACKUP if backup.is_file() else findings.ACCOUNTS)
    if "flagged" not in accounts.column_names:
        raise InputError(f"{path}: expected columns account_id,score,flagged,campaign_id,reasons")
    if threshold is None:
        threshold = findings.read_run(d).threshold
    if threshold is None:  # a folder from before operating_point.json: the lowest score it flagged
        flagged_scores = pc.filter(accounts["score"], accounts["flagged"])
        threshold = pc.min(flagged_scores).as_py() if len(flagged_scores) else 0.5
    partner = dict(zip(evidence.column("account_id").to_pylist(), evidence.column("partner_score").to_pylist(),
                       strict=True))
    ids = accounts["account_id"].to_pylist()
    scores, flags = accounts["score"].to_pylist(), accounts["flagged"].to_pylist()
    reasons_col = accounts["reasons"].to_pylist()
    newly = 0
    for i, account in enumerate(ids):
        p = partner.get(account)
        if p is None:
            continue
        score = 1.0 - (1.0 - scores[i]) * (1.0 - p)
        reasons = [x for x in (reasons_col[i] or "").split(";") if x and x != REASON]
        was = flags[i]
        now_flagged = was or score >= threshold
        reasons = [REASON, *reasons] if now_flagged and not was else [*reasons, REASON]
        newly += now_flagged and not was
        scores[i], flags[i], reasons_col[i] = score, now_flagged, ";".join(reasons)
    for name, values, typ in (("score", scores, pa.float64()), ("flagged", flags, pa.bool_()),
                              ("reasons", reasons_col, pa.string())):
        accounts = accounts.set_column(accounts.column_names.index(name), name, pa.array(values, typ))
    if not backup.is_file():
        shutil.copyfile(path, backup)
    findings.write_accounts(d, accounts)
    pacsv.write_csv(matches, d / "partner_matches.csv")
    return EnrichSummary(matched=len(partner), newly_flagged=newly, threshold=threshold)
