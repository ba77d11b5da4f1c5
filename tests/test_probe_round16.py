"""The round-16 probe suite (`bench/probe_families.py --suite round16`) builds deterministically, labels every
family and kind, scrubs and resizes like the other suites, and its log is accepted by `distillguard ingest`.
Generator contract only, not detection.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from click.testing import CliRunner

from distillguard.cli import main

# isort: off
import probe_suite as ps  # first: it puts bench/ on the path
from probekit.attacks16 import FAMILIES
from probekit.legit16 import KINDS
# isort: on


def _gen(corpora: Path, out: Path, *args: str) -> Path:
    return ps.build("round16", 16, 0.04, corpora, out, *args)


def _user(r: dict) -> str:
    return r["prompt"] if "prompt" in r else r["messages"][-1]["content"] or ""


def test_round16_is_deterministic_labels_everything_and_ingests(corpora: Path, tmp_path: Path) -> None:
    a = _gen(corpora, tmp_path / "a")
    b = _gen(corpora, tmp_path / "b")
    labels, rows = ps.check_builds(a, b, FAMILIES, KINDS, "r16")
    fam = {r["account_id"]: r["family"] for r in labels}
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by[fam[r["account_id"]]].append(r)
    # fanout: a task's copies come from 5-8 different accounts at high temperature; each account sends few a day
    task_accts: dict[str, set[str]] = defaultdict(set)
    for r in by["fanout"]:
        task_accts[max(_user(r).splitlines(), key=len)].add(r["account_id"])
        assert r["params"]["temperature"] >= 0.7
    assert max(len(v) for v in task_accts.values()) >= 5
    per_day = Counter((r["account_id"], r["ts"][:10]) for r in by["fanout"])
    assert sum(per_day.values()) / len(per_day) < 10
    # relay hides among the aggregators' real customers: the same orgs and relay client strings
    assert {r["org_id"] for r in by["relay"]} & {r["org_id"] for r in by["hubfolk"]}
    assert {r["user_agent"] for r in by["relay"]} & {r["user_agent"] for r in by["hubfolk"]}
    # softlabel asks for log-probabilities on every request, partly on the completions endpoint
    assert all(r["params"].get("logprobs") for r in by["softlabel"])
    assert any(r.get("endpoint") == "/v1/completions" for r in by["softlabel"])
    # usersim: the model is asked to play the human over a transcript
    assert any(m["role"] == "system" and "USER:" in _user(r) for r in by["usersim"] for m in r["messages"][:1])
    # refusals: several languages of asking
    assert sum(any(w in _user(r) for r in by["refusals"]) for w in ("¿", "Wie ", "Comment", "Как", "请", "Como")) >= 2
    # hackathon accounts are all made within the event's two days
    made = sorted(x["created_at"] for x in map(json.loads, (a / "accounts.jsonl").read_text().splitlines())
                  if fam[x["account_id"]] == "hackathon")
    assert made and made[0] >= "2026-03-06T15" and made[-1] <= "2026-03-07T16:00:00Z"
    res = CliRunner().invoke(main, ["ingest", str(a / "exchanges.jsonl"), "--accounts", str(a / "accounts.jsonl"),
                                    "--db", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 0, res.output
    assert f"stored {len(rows)}" in res.output and "rejected 0" in res.output


def test_round16_sizes_scrub_and_one_account_campaigns(corpora: Path, tmp_path: Path) -> None:
    _gen(corpora, tmp_path / "z", "--legit", "safetylab", "--sizes", "1,7", "--scrub")
    for n in (1, 7):
        labels = ps.labels(tmp_path / "z" / f"size-{n}")
        for fam in FAMILIES:
            assert sum(r["campaign_id"] == f"r16-{fam}-n{n}" for r in labels) == n, (fam, n)
        rows = ps.rows(tmp_path / "z" / f"size-{n}")
        assert rows and all(r["ip"] == "" and r["user_agent"] == "" for r in rows)
