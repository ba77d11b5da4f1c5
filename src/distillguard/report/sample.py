"""A synthetic detection output folder, for trying the report and dashboard without running detect.

It has the contract files and every optional extra (links, templates, infrastructure, timeline,
features, enforcement), sized by the caller: `write_sample_detection(dir, sizes=(24_812, 300))`
gives a folder shaped like the disclosed 25k-account campaign. `hostile=True` plants markup in a
prompt example and a user agent, to check that whatever reads the folder escapes it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HOSTILE_PROMPT = '<script>alert("prompt")</script> Solve step by step: <img src=x onerror=alert(1)>'
HOSTILE_AGENT = "<script>alert('ua')</script>Mozilla/5.0"
START = date(2026, 4, 22)
CAPS = ("reasoning", "coding", "tool_use")


def write_sample_detection(out: Path, sizes: tuple[int, ...] = (60, 25), legit: int = 200, days: int = 45,
                           seed: int = 7, hostile: bool = False, enforcement: bool = True) -> Path:
    """Write a detection output folder with campaigns of `sizes` accounts and `legit` legitimate ones."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, float, bool, str, str]] = []
    members: dict[str, list[str]] = {}
    for ci, size in enumerate(sizes):
        cid = f"C-{ci + 1}"
        ids = [f"acct-c{ci + 1}-{i:05d}" for i in range(size)]
        members[cid] = ids
        for a, s in zip(ids, rng.uniform(0.8, 1.0, size), strict=True):
            rows.append((a, round(float(s), 4), True, cid, "shared-template;lockstep-timing;payment"))
    legit_ids = [f"acct-l-{i:05d}" for i in range(legit)]
    legit_scores = np.clip(rng.beta(1.2, 12, legit), 0, 0.79)
    for a, s in zip(legit_ids, legit_scores, strict=True):
        rows.append((a, round(float(s), 4), False, "", "shared-infrastructure" if s > 0.4 else ""))
    rows.append(("acct-loner", 0.83, True, "", "cot-elicitation;narrow-targeting"))
    with (out / "accounts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account_id", "score", "flagged", "campaign_id", "reasons"])
        w.writerows((a, s, "true" if fl else "false", c, r) for a, s, fl, c, r in rows)

    campaigns: list[dict[str, Any]] = []
    timeline: list[tuple[str, str, int]] = []
    templates: list[tuple[str, str, int, int, str]] = []
    infra: list[tuple[str, str, str, int, int]] = []
    enf: list[tuple[str, str, str, str, str]] = []
    for ci, (cid, ids) in enumerate(members.items()):
        first = START + timedelta(days=3 * ci)
        span = days - 3 * ci
        per_day = rng.poisson(26 * len(ids), span).astype(int)
        mix = rng.dirichlet([4, 3, 2])
        caps = {k: round(float(v), 4) for k, v in zip(CAPS, mix, strict=True)}
        caps["tool_use"] = round(1 - caps["reasoning"] - caps["coding"], 4)
        campaigns.append({
            "campaign_id": cid, "accounts": len(ids), "exchanges": int(per_day.sum()),
            "first_seen": f"{first.isoformat()}T00:02:11Z",
            "last_seen": f"{(first + timedelta(days=span - 1)).isoformat()}T23:58:40Z",
            "capabilities": caps,
            "evidence": [
                {"signal": "shared-template", "detail": f"{len(ids)} accounts send 14 templates in common"},
                {"signal": "lockstep-timing", "detail": "requests in the same 10-minute buckets (Jaccard 0.62)"},
                {"signal": "payment", "detail": "3 payment fingerprints pay for 91 % of the accounts"},
            ],
            "confidence": round(0.9 + 0.05 * ci, 2),
            "response": {"policy": "default", "action": "block",
                         "accounts_by_action": {"block": len(ids) - 2, "throttle": 2},
                         "accounts_actioned": len(ids), "exchanges_actioned": int(per_day.sum()),
                         "legit_accounts_touched": ci, "legit_exchanges_touched": 40 * ci,
                         "legit_exchanges_share": round(40 * ci / max(1, 40 * legit * days), 6)},
        })
        timeline += [(cid, (first + timedelta(days=d)).isoformat(), int(n)) for d, n in enumerate(per_day)]
        for t in range(12):
            example = f"Solve step by step and show your reasoning: problem <NUM> about <NAME> (variant {t})"
            if hostile and t == 0:
                example = HOSTILE_PROMPT
            templates.append((cid, str(int(rng.integers(0, 2**62))), int(rng.integers(1_000, 90_000)),
                              int(rng.integers(min(5, len(ids)), len(ids) + 1)), example))
        # what every campaign also sends and says nothing about it: a generic prompt, one account's own
        templates.append((cid, "111", 95_000, len(ids), "continue"))
        templates.append((cid, "222", 94_000, 1, "Summarise the following customer email in three bullet points"))
        for k in range(10):
            n_acc, n_exc = int(rng.integers(1, len(ids) + 1)), int(rng.integers(50, 5000))
            infra.append((cid, "ip", f"203.0.113.{k + 1}", n_acc, n_exc))
        infra.append((cid, "user_agent", HOSTILE_AGENT if hostile else "OpenAI/Python 1.99.0",
                      len(ids), int(per_day.sum())))
        infra.append((cid, "payment", f"pay-{ci}a91f", len(ids) * 9 // 10, int(per_day.sum() * 0.9)))
        if enforcement:
            when = first + timedelta(days=2)
            later = (when + timedelta(days=1)).isoformat()
            enf += [(f"{when.isoformat()}T10:00:00Z", cid, ids[0], "throttle", "campaign bucket exceeded"),
                    (f"{later}T09:30:00Z", cid, "", "block", "analyst blocked campaign")]
    base = rng.poisson(40 * legit, days)
    timeline += [("", (START + timedelta(days=d)).isoformat(), int(n)) for d, n in enumerate(base)]
    (out / "campaigns.json").write_text(json.dumps(campaigns, indent=2))
    _write_csv(out / "timeline.csv", ("campaign_id", "day", "exchanges"), timeline)
    _write_csv(out / "templates.csv", ("campaign_id", "template_id", "exchanges", "accounts", "example"), templates)
    _write_csv(out / "infrastructure.csv", ("campaign_id", "kind", "value", "accounts", "exchanges"), infra)
    if enforcement:
        _write_csv(out / "enforcement.csv", ("ts", "campaign_id", "account_id", "action", "reason"), enf)
        (out / "backtest.json").write_text(json.dumps([
            {"name": name, "campaigns": [
                {"campaign_id": c["campaign_id"], "accounts": c["accounts"], "exchanges": c["exchanges"],
                 "served": c["exchanges"] // k, "served_before_first_action": c["exchanges"] // (8 * k),
                 "first_action_h": 2.5 * k, "served_before_containment": c["exchanges"] // (4 * k),
                 "containment_h": None if k == 1 else 26.0, "served_after_24h": c["exchanges"] // (20 * k)}
                for c in campaigns],
             "campaign_exchanges": sum(c["exchanges"] for c in campaigns),
             "served_after_24h_share": 0.5 / k ** 3, "legit": {"requests": 40 * legit * days, "affected": 3 * k},
             "legit_affected_share": 3 * k / (40 * legit * days)}
            for name, k in (("per-key baseline", 1), ("default", 3))], indent=1))
    _write_links(out, members, legit_ids, rng)
    _write_features(out, rows, rng)
    return out


def _write_csv(path: Path, header: tuple[str, ...], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _write_links(out: Path, members: dict[str, list[str]], legit_ids: list[str], rng: np.random.Generator) -> None:
    src: list[str] = []
    dst: list[str] = []
    kind: list[str] = []
    weight: list[float] = []
    for ids in members.values():
        n = len(ids)
        own = np.repeat(np.arange(n), 3)  # three links per member: template, lockstep, payment
        other = rng.integers(0, n, 3 * n)
        keep = own != other
        arr = np.array(ids, dtype=object)
        src += arr[own[keep]].tolist()
        dst += arr[other[keep]].tolist()
        kind += np.tile(np.array(["shared-template", "lockstep", "payment"], dtype=object), n)[keep].tolist()
        weight += np.round(rng.uniform(0.3, 1, int(keep.sum())), 3).tolist()
        for j in rng.choice(len(legit_ids), size=min(4, len(legit_ids)), replace=False):
            src.append(ids[0])
            dst.append(legit_ids[j])
            kind.append("shared-ip")
            weight.append(0.1)
    if len(legit_ids) >= 2:  # a campus NAT or two among legitimate users
        pairs = rng.integers(0, len(legit_ids), size=(len(legit_ids) // 4, 2))
        for a, b in pairs[pairs[:, 0] != pairs[:, 1]]:
            src.append(legit_ids[a])
            dst.append(legit_ids[b])
            kind.append("shared-ip")
            weight.append(0.05)
    pq.write_table(pa.table({"src": src, "dst": dst, "kind": kind, "weight": weight}), out / "links.parquet")


def _write_features(out: Path, rows: list[tuple[str, float, bool, str, str]], rng: np.random.Generator) -> None:
    n = len(rows)
    bad = np.array([fl for _, _, fl, _, _ in rows])
    pq.write_table(pa.table({
        "account_id": [r[0] for r in rows],
        "exchanges": np.where(bad, rng.poisson(26 * 40, n), rng.poisson(300, n)),
        "template_diversity": np.where(bad, rng.uniform(0.01, 0.05, n), rng.uniform(0.4, 0.9, n)),
        "gap_cv": np.where(bad, rng.uniform(0.05, 0.2, n), rng.uniform(0.8, 3.0, n)),
        "single_turn_share": np.where(bad, rng.uniform(0.95, 1.0, n), rng.uniform(0.2, 0.7, n)),
        "night_share": np.where(bad, rng.uniform(0.3, 0.4, n), rng.uniform(0.0, 0.1, n)),
    }), out / "features.parquet")
