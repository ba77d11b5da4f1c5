"""campaigns.json `response`: what the default policy would do about each campaign, and whom else it touches."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa

from distillguard.detection.response import campaign_responses, default_policy, member_action
from distillguard.policy import Action


def _con() -> duckdb.DuckDBPyConnection:
    """Work tables as detect leaves them: 4 members of C (one near the threshold), 3 legitimate accounts."""
    con = duckdb.connect()
    assign = pa.table({"account_id": [1, 2, 3, 4, 5, 6, 7], "campaign_id": ["C", "C", "C", "C", "", "", ""],
                       "flagged": [True, True, True, True, False, False, False],
                       "score": [0.99, 0.95, 0.9, 0.6, 0.1, 0.2, 0.1]})
    features = pa.table({"account_id": [1, 2, 3, 4, 5, 6, 7], "exchanges": [100, 100, 100, 10, 10, 40, 50]})
    # text 11 -> template 100 (the campaign's), 12 -> template 200 (everyone's "hi")
    at = pa.table({"account_id": [1, 2, 3, 4, 5, 5, 6, 6, 7], "text_hash": [11, 11, 11, 11, 11, 12, 11, 12, 12],
                   "n": [100, 100, 100, 10, 6, 4, 2, 38, 50]})
    fp = pa.table({"text_hash": [11, 12], "template_id": [100, 200]})
    for name, t in (("dg_assign", assign), ("dg_features", features), ("dg_at", at), ("dg_fp", fp)):
        con.register(f"_{name}", t)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
    return con


def test_members_actions_and_the_legitimate_traffic_touched() -> None:
    r = campaign_responses(_con(), {"C": 0.9})["C"]
    # confidence 0.9: block members scoring >= 0.75, throttle the one at 0.6
    assert r["action"] == "block" and r["accounts_by_action"] == {"block": 3, "throttle": 1}
    assert r["accounts_actioned"] == 4 and r["exchanges_actioned"] == 310
    # account 5 sends the campaign's template 6 of 10 times (>= 2 and >= 50 %): the policy would match it;
    # account 6 only 2 of 40 times and account 7 never
    assert (r["legit_accounts_touched"], r["legit_exchanges_touched"]) == (1, 10)
    assert r["legit_exchanges_share"] == round(10 / 100, 6)


def test_member_action_follows_the_default_policy() -> None:
    p = default_policy()
    assert member_action(p, 0.9, 0.99) == Action.BLOCK
    assert member_action(p, 0.6, 0.99) == Action.VERIFY  # the score rule (>= 0.98) is more severe than throttle
    assert member_action(p, 0.6, 0.7) == Action.THROTTLE
    assert member_action(p, 0.3, 0.5) == Action.ALLOW


def test_detect_records_the_response_in_campaigns_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from distillguard.cli import main
    from handbuilt import campaign, legit_users, write_jsonl

    log = write_jsonl(legit_users(40, per_account=10) + campaign(8, per_account=30), tmp_path / "log.jsonl")
    res = CliRunner().invoke(main, ["detect", str(log), "--out", str(tmp_path / "d"), "--quiet"])
    assert res.exit_code == 0, res.output
    campaigns = json.loads((tmp_path / "d" / "campaigns.json").read_text())
    assert campaigns and all(c["response"]["policy"] == "default" for c in campaigns)
    c = campaigns[0]["response"]
    assert c["action"] in ("block", "verify", "throttle") and c["accounts_actioned"] >= 1
    assert "What to do" in (tmp_path / "d" / "report.html").read_text()
