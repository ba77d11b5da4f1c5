"""Evaluation of a detection output folder against ground-truth labels (SCHEMA.md §3).

Account-level precision, recall, F1, ROC AUC and the false-positive rate on legitimate accounts;
campaign grouping quality over the flagged accounts (purity and adjusted Rand index); and a per-actor
breakdown (how many of each legitimate kind were flagged, how many of each campaign kind were caught).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import findings
from .errors import InputError


@dataclass(frozen=True)
class ActorRow:
    """Detection of one actor kind."""

    actor: str
    campaign: bool
    accounts: int
    flagged: int
    rate: float


@dataclass(frozen=True)
class Evaluation:
    """Quality of one detection run."""

    accounts: int
    positives: int
    flagged: int
    precision: float
    recall: float
    f1: float
    roc_auc: float
    fpr: float
    purity: float
    ari: float
    actors: tuple[ActorRow, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        d = asdict(self)
        d["actors"] = [asdict(a) for a in self.actors]
        return d


def read_labels(path: str | Path) -> dict[str, tuple[str, str]]:
    """account_id -> (campaign_id, actor) from a labels CSV."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such labels file")
    with open(p, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "account_id" not in reader.fieldnames:
            raise InputError(f"{p}: labels need columns account_id,campaign_id,actor")
        return {r["account_id"]: (r.get("campaign_id") or "", r.get("actor") or "") for r in reader}


def read_detection(out_dir: str | Path) -> dict[str, tuple[float, bool, str]]:
    """account_id -> (score, flagged, campaign_id) from a detection folder's accounts.csv."""
    return {v.account_id: (v.score, v.flagged, v.campaign_id or "") for v in findings.read_verdicts(out_dir)}


def roc_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half); nan when one class is absent."""
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def adjusted_rand(a: list[str], b: list[str]) -> float:
    """Adjusted Rand index of two labelings of the same items (1.0 for ≤ 1 item)."""
    n = len(a)
    if n <= 1:
        return 1.0
    pairs = Counter(zip(a, b, strict=True))
    ca, cb = Counter(a), Counter(b)

    def c2(x: float) -> float:
        return x * (x - 1) / 2

    index = sum(c2(v) for v in pairs.values())
    sa, sb = sum(c2(v) for v in ca.values()), sum(c2(v) for v in cb.values())
    expected = sa * sb / c2(n)
    maximum = (sa + sb) / 2
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def evaluate(labels: dict[str, tuple[str, str]], detection: dict[str, tuple[float, bool, str]]) -> Evaluation:
    """Compare a detection with the labels (accounts missing from the detection count as unflagged)."""
    ids = sorted(labels)
    y = np.array([bool(labels[a][0]) for a in ids])
    s = np.array([detection.get(a, (0.0, False, ""))[0] for a in ids])
    f = np.array([detection.get(a, (0.0, False, ""))[1] for a in ids])
    tp, fp = int((y & f).sum()), int((~y & f).sum())
    fn = int((y & ~f).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr = fp / int((~y).sum()) if (~y).sum() else 0.0
    # grouping over flagged accounts: a flagged account without a campaign is its own singleton group
    flagged = [a for a, fl in zip(ids, f, strict=True) if fl]
    true_g = [labels[a][0] or f"legit:{a}" for a in flagged]
    pred_g = [detection[a][2] or f"single:{a}" for a in flagged]
    by_pred: dict[str, Counter[str]] = defaultdict(Counter)
    for t, p in zip(true_g, pred_g, strict=True):
        by_pred[p][t] += 1
    purity = sum(c.most_common(1)[0][1] for c in by_pred.values()) / len(flagged) if flagged else 1.0
    actors: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for a, fl in zip(ids, f, strict=True):
        row = actors[labels[a][1] or ("campaign" if labels[a][0] else "legit")]
        row[0] += 1
        row[1] += int(fl)
        row[2] = int(bool(labels[a][0]))
    rows = tuple(ActorRow(actor=k, campaign=bool(v[2]), accounts=v[0], flagged=v[1], rate=v[1] / v[0])
                 for k, v in sorted(actors.items()))
    return Evaluation(accounts=len(ids), positives=int(y.sum()), flagged=int(f.sum()), precision=precision,
                      recall=recall, f1=f1, roc_auc=roc_auc(y, s), fpr=fpr, purity=purity,
                      ari=adjusted_rand(true_g, pred_g), actors=rows)


def evaluate_dir(labels_path: str | Path, out_dir: str | Path) -> Evaluation:
    """Evaluate the detection folder `out_dir` against `labels_path`."""
    return evaluate(read_labels(labels_path), read_detection(out_dir))


def format_table(ev: Evaluation) -> str:
    """A plain-text table of an evaluation."""
    lines = [
        f"accounts {ev.accounts}  campaign accounts {ev.positives}  flagged {ev.flagged}",
        f"precision {ev.precision:.4f}  recall {ev.recall:.4f}  F1 {ev.f1:.4f}  ROC AUC {ev.roc_auc:.4f}",
        f"FPR on legitimate accounts {ev.fpr:.5f}  campaign purity {ev.purity:.4f}  ARI {ev.ari:.4f}",
        "",
        f"{'actor':<34}{'accounts':>10}{'flagged':>10}{'rate':>9}",
    ]
    for a in ev.actors:
        lines.append(f"{a.actor:<34}{a.accounts:>10}{a.flagged:>10}{a.rate:>9.4f}")
    return "\n".join(lines)
