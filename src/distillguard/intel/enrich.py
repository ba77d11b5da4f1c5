"""Partner evidence folded into a detection output folder (`accounts.csv` gains `partner-indicator`).

The account's score becomes the noisy-or of its own score and its partner score, so independent
evidence adds up; an account is flagged when that reaches the folder's operating point (the lowest
score it flagged, unless a threshold is given). The original file is kept as
`accounts.before-intel.csv` and every match is listed in `partner_matches.csv`.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

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
    path, backup = d / "accounts.csv", d / BACKUP
    if not path.is_file():
        raise InputError(f"{path}: not found; give the folder written by `distillguard detect --out DIR`")
    source = backup if backup.is_file() else path  # re-running starts again from detect's own decision
    with source.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    if "score" not in fields or "flagged" not in fields:
        raise InputError(f"{source}: expected columns account_id,score,flagged,campaign_id,reasons")
    if threshold is None:
        flagged_scores = [float(r["score"]) for r in rows if r["flagged"] == "true"]
        threshold = min(flagged_scores) if flagged_scores else 0.5
    partner = dict(zip(evidence.column("account_id").to_pylist(), evidence.column("partner_score").to_pylist(),
                       strict=True))
    newly = 0
    for r in rows:
        p = partner.get(r["account_id"])
        if p is None:
            continue
        score = 1.0 - (1.0 - float(r["score"])) * (1.0 - p)
        reasons = [x for x in (r.get("reasons") or "").split(";") if x and x != REASON]
        was = r["flagged"] == "true"
        now_flagged = was or score >= threshold
        reasons = [REASON, *reasons] if now_flagged and not was else [*reasons, REASON]
        newly += now_flagged and not was
        r.update(score=f"{score:.6f}", flagged="true" if now_flagged else "false", reasons=";".join(reasons))
    if not backup.is_file():
        shutil.copyfile(path, backup)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    pacsv.write_csv(matches, d / "partner_matches.csv")
    return EnrichSummary(matched=len(partner), newly_flagged=newly, threshold=threshold)
