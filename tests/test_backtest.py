"""Backtest on a hand-made log: a campaign that keeps adding fresh accounts, and legitimate users."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.backtest import BacktestOptions, format_results, run_backtest
from distillguard.cli import main
from distillguard.policy import DEFAULT_POLICY_TOML, PER_KEY_BASELINE_TOML, parse_policy

T0 = datetime(2026, 4, 22, tzinfo=UTC)
WRAPPERS = ["You are a math expert. Solve step by step and show all reasoning: {q} Return JSON with the answer.",
            "Think carefully. Explain your reasoning before giving the final answer: {q} Output format: ####"]
TOPICS = ["my garden tomatoes", "a birthday poem for Sam", "the French revolution", "sorting a list in rust",
          "how vaccines work", "a cover letter for a bakery job", "rainy day activities", "the plot of Hamlet"]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bt")
    rng = random.Random(7)
    rows, labels = [], []
    # campaign C1: 10 accounts start on each of days 0, 1, 2; 30 requests a day each until day 4
    for wave in range(3):
        for j in range(10):
            acct = f"c{wave}-{j}"
            labels.append((acct, "C1", "campaign:test"))
            for day in range(wave, 5):
                for _ in range(30):
                    q = f"what is {rng.randint(1, 10**6)} times {rng.randint(1, 999)}?"
                    ts = T0 + timedelta(days=day, seconds=rng.randint(0, 86399))
                    rows.append({"account_id": acct, "ts": ts, "text": rng.choice(WRAPPERS).format(q=q)})
    for j in range(20):
        acct = f"u{j}"
        labels.append((acct, "", "legit:casual"))
        for _ in range(15):
            ts = T0 + timedelta(seconds=rng.randint(0, 5 * 86399))
            rows.append({"account_id": acct, "ts": ts,
                         "text": f"Tell me about {rng.choice(TOPICS)}, {rng.choice(['please', 'thanks', 'briefly'])}"})
    rows.sort(key=lambda r: r["ts"])
    with (d / "log.jsonl").open("w") as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"request_id": f"r{i}", "ts": r["ts"].isoformat(), "account_id": r["account_id"],
                                "ip": "", "model": "m", "messages": [{"role": "user", "content": r["text"]}],
                                "prompt_tokens": 40, "completion_tokens": 200}) + "\n")
    (d / "labels.csv").write_text("account_id,campaign_id,actor\n" + "".join(f"{a},{c},{x}\n" for a, c, x in labels))
    det = d / "detect"
    det.mkdir()
    # detection found the first two waves (the third one started after it last ran)
    acc = ["account_id,score,flagged,campaign_id,reasons"]
    acc += [f"c{w}-{j},0.93,true,C1,shared-template" for w in range(2) for j in range(10)]
    acc += [f"u{j},0.02,false,," for j in range(20)]
    (det / "accounts.csv").write_text("\n".join(acc) + "\n")
    (det / "campaigns.json").write_text(json.dumps([{"campaign_id": "C1", "confidence": 0.9}]))
    return d


def test_policy_contains_campaign_and_spares_legit_baseline_does_not(logdir: Path) -> None:
    policies = {"default": parse_policy(DEFAULT_POLICY_TOML, "d"),
                "per-key": parse_policy(PER_KEY_BASELINE_TOML, "b")}
    res = run_backtest([logdir / "log.jsonl"], policies,
                       BacktestOptions(detect=str(logdir / "detect"), labels=str(logdir / "labels.csv")))
    pol, base = res
    (c,) = pol.campaigns
    assert c.campaign_id == "C1" and c.accounts == 30 and c.exchanges == 10 * 30 * (5 + 4 + 3)
    # detection arrives 24 h after the first requests: day 0 is served, then the campaign is contained,
    # including the third wave that detection never saw (it joins by its templates after 2 requests each)
    assert 23 <= c.first_action_h <= 25 and c.containment_h is not None and c.containment_h <= 52
    # after that, only the first 2 requests of each account detection had not seen yet (waves 1 and 2)
    assert c.served - c.served_before_first_action <= 2 * 10 * 2 + 5
    assert pol.served_after_24h_share <= 0.05
    assert pol.extra["accounts_assigned_online"] >= 10
    assert pol.legit.requests == 300 and pol.legit.affected == 0
    (b,) = base.campaigns
    assert base.served_after_24h_share > 0.75 and b.first_action_h is None
    text = format_results(res)
    assert "C1" in text and "per-key" in text


def test_longer_detection_delay_serves_more(logdir: Path) -> None:
    pol = {"default": parse_policy(DEFAULT_POLICY_TOML, "d")}
    fast, = run_backtest([logdir / "log.jsonl"], pol, BacktestOptions(str(logdir / "detect"),
                                                                       str(logdir / "labels.csv"), delay_s=3600))
    slow, = run_backtest([logdir / "log.jsonl"], pol, BacktestOptions(str(logdir / "detect"),
                                                                       str(logdir / "labels.csv"), delay_s=3 * 86400))
    assert fast.campaigns[0].served < slow.campaigns[0].served
    assert fast.campaigns[0].first_action_h < slow.campaigns[0].first_action_h


def test_backtest_command(logdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bt.json"
    r = CliRunner().invoke(main, ["backtest", str(logdir / "log.jsonl"), "--detect", str(logdir / "detect"),
                                  "--labels", str(logdir / "labels.csv"), "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "per-key baseline" in r.output and "C1" in r.output
    rows = json.loads(out.read_text())
    assert [x["name"] for x in rows] == ["policy", "per-key baseline"] and rows[0]["served_after_24h_share"] <= 0.05
    bad = CliRunner().invoke(main, ["backtest", str(logdir / "labels.csv")])
    assert bad.exit_code == 2
