"""Policy files, detection output loading, and the enforcement engine's decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.errors import ConfigError, InputError
from distillguard.gateway.enforce import Enforcer, Request
from distillguard.policy import (
    DEFAULT_POLICY_TOML,
    PER_KEY_BASELINE_TOML,
    Action,
    Knowledge,
    load_detection,
    load_policy,
    parse_policy,
)


def test_default_policy_parses_and_json_is_equivalent(tmp_path: Path) -> None:
    p = parse_policy(DEFAULT_POLICY_TOML, "default")
    assert [r.action for r in p.campaign_rules] == [Action.BLOCK, Action.THROTTLE]
    assert p.campaign_limit.requests_per_minute == 10 and p.campaign_limit.request_burst == 30
    import tomllib

    (tmp_path / "p.json").write_text(json.dumps(tomllib.loads(DEFAULT_POLICY_TOML)))
    q = load_policy(tmp_path / "p.json")
    assert q.campaign_rules == p.campaign_rules and q.account_limit == p.account_limit
    base = parse_policy(PER_KEY_BASELINE_TOML, "b")
    assert not base.campaign_rules and not base.score_rules and base.account_limit.requests_per_minute == 60


@pytest.mark.parametrize("text, where", [
    ("version = 2", "version"),
    ("[[campaign.rules]]\nmin_confidence = 0.5\naction = 'nuke'", "campaign.rules[0].action"),
    ("[[account.rules]]\nmin_score = 1.5\naction = 'block'", "account.rules[0].min_score"),
    ("[[account.rules]]\naction = 'block'", "account.rules[0]: missing 'min_score'"),
    ("[limits.acount]\nrequests_per_minute = 1", "limits.acount"),
    ("[limits.account]\nrequests_per_mnute = 1", "limits.account.requests_per_mnute"),
    ("[limits.account]\nrequests_per_minute = 'fast'", "limits.account.requests_per_minute"),
    ("[degrade]\ndrop_reasoning = 'yes'", "degrade.drop_reasoning"),
    ("this is = not toml [", "not valid TOML"),
])
def test_bad_policy_names_file_and_field(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_policy(text, "p.toml")
    assert str(e.value).startswith("p.toml") and where in str(e.value)


def test_load_detection(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text(
        "account_id,score,flagged,campaign_id,reasons\na,0.9,true,C1,shared-template\nb,0.1,false,,\n")
    (tmp_path / "campaigns.json").write_text('[{"campaign_id": "C1", "confidence": 0.7}]')
    (tmp_path / "templates.csv").write_text("campaign_id,template_id,exchanges,accounts,example\nC1,-42,5,1,x\n")
    k = load_detection(tmp_path)
    assert k.account_campaign == {"a": "C1"} and k.account_score["b"] == 0.1
    assert k.campaign_confidence == {"C1": 0.7} and k.template_campaign == {-42: "C1"}
    (tmp_path / "accounts.csv").write_text("account_id,score\na,high\n")
    with pytest.raises(InputError, match="accounts.csv:2"):
        load_detection(tmp_path)
    with pytest.raises(InputError, match="missing"):
        load_detection(tmp_path / "nope")


def _enforcer(extra: str = "") -> Enforcer:
    k = Knowledge(account_campaign={"m1": "C1", "m2": "C1", "w1": "C2"}, campaign_confidence={"C1": 0.9, "C2": 0.6},
                  account_score={"s1": 0.99, "m1": 0.9, "m2": 0.9}, template_campaign={777: "C1"})
    return Enforcer(parse_policy(DEFAULT_POLICY_TOML + extra, "p"), k)


def test_engine_actions() -> None:
    e = _enforcer()
    assert e.decide(Request("m1", 0.0)).code == "account_blocked"
    e.knowledge.account_score["m2"] = 0.6  # a member near the flag threshold is throttled, not blocked
    assert e.decide(Request("m2", 0.0)).code == "throttled"
    d = e.decide(Request("w1", 0.0))
    assert d.action == Action.THROTTLE and d.allowed and d.campaign_id == "C2" and "confidence 0.60" in d.reason
    assert e.decide(Request("s1", 0.0)).code == "verification_required"
    assert e.decide(Request("s1", 0.0, verified=True)).allowed
    assert e.decide(Request("nobody", 0.0)).code == "ok"


def test_campaign_bucket_is_shared_by_accounts_and_refills() -> None:
    e = _enforcer()
    # C2 (throttle): campaign bucket 10/min, burst 30, shared by every member, plus template-joined ones
    e.knowledge.account_campaign.update({f"x{i}": "C2" for i in range(40)})
    got = [e.decide(Request(f"x{i}", 0.0)).code for i in range(40)]
    assert got.count("throttled") == 30 and got.count("campaign_rate_limited") == 10
    assert e.decide(Request("x0", 6.0)).code == "throttled"  # 6 s at 10/min = 1 request


def test_fresh_account_joins_campaign_by_templates() -> None:
    e = _enforcer()
    first = e.decide(Request("fresh", 0.0, template_id=777))
    second = e.decide(Request("fresh", 1.0, template_id=777))  # 2nd match: assigned to C1
    third = e.decide(Request("fresh", 2.0, template_id=777))
    assert first.allowed and not second.allowed and second.code == "account_blocked"
    assert third.campaign_id == "C1" and "sends its templates" in third.reason
    assert e.decide(Request("other", 0.0, template_id=778)).allowed


def test_overrides() -> None:
    e = _enforcer()
    e.publish({"op": "allow_account", "id": "m1"})
    assert e.decide(Request("m1", 0.0)).code == "ok"
    e.publish({"op": "block_campaign", "id": "C2"})
    assert e.decide(Request("w1", 0.0)).code == "account_blocked"
    e.publish({"op": "allow_org", "id": "acme"})
    assert e.decide(Request("w1", 0.0, org_id="acme")).code == "ok"


def test_degrade_rule() -> None:
    e = _enforcer('[[account.rules]]\nmin_score = 0.5\naction = "degrade"\n')
    e.knowledge.account_score["d"] = 0.6
    d = e.decide(Request("d", 0.0, max_tokens=5000))
    assert d.code == "degraded" and d.max_tokens == 256 and d.drop_reasoning and d.watermark
    assert e.decide(Request("d", 0.0, max_tokens=100)).max_tokens == 100


def test_policy_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    f = tmp_path / "policy.toml"
    r = runner.invoke(main, ["policy", "init", str(f)])
    assert r.exit_code == 0 and f.read_text() == DEFAULT_POLICY_TOML
    assert runner.invoke(main, ["policy", "init", str(f)]).exit_code == 2  # exists
    r = runner.invoke(main, ["policy", "check", str(f)])
    assert r.exit_code == 0 and "campaign confidence >= 0.8, member score >= 0.75: block" in r.output
    f.write_text("version = 3")
    r = runner.invoke(main, ["policy", "check", str(f)])
    assert r.exit_code == 2 and "unsupported policy version" in r.output


def test_keys_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "gw.duckdb")
    r = runner.invoke(main, ["keys", "create", "--account", "acct-9", "--org", "acme", "--db", db])
    key = r.output.strip()
    assert r.exit_code == 0 and key.startswith("dg-")
    listing = runner.invoke(main, ["keys", "list", "--db", db]).output
    # the whole secret (it may itself hold a "-", even begin with one: split("-")[2] was then "", always "in")
    assert "acct-9\tacme\tfalse" in listing and key.split("-", 2)[2] not in listing
    stored = (tmp_path / "gw.duckdb.keys.json").read_text()
    assert key.split("-", 2)[2] not in stored  # only the hash is kept
    r = runner.invoke(main, ["keys", "revoke", key.split("-")[1], "--db", db])
    assert r.exit_code == 0 and "revoked" in r.output
    assert runner.invoke(main, ["keys", "revoke", "nope", "--db", db]).exit_code == 2


def test_campaign_templates_are_learned_online_from_members_traffic() -> None:
    e = _enforcer()
    e.knowledge.account_campaign.update({"m3": "C1"})
    e.knowledge.account_score.update({"m3": 0.9})
    for legit in range(10):  # a popular template among legitimate accounts
        e.decide(Request(f"u{legit}", 0.0, template_id=555))
    for m in ("m1", "m2", "m3"):  # members send both (they are blocked, but their traffic is seen)
        e.decide(Request(m, 1.0, template_id=999, wrapper_id=555))
    assert e.knowledge.template_campaign.get(999) == "C1" and 555 not in e.knowledge.template_campaign
    got = [e.decide(Request("fresh", 2.0 + i, template_id=999)).code for i in range(3)]
    assert got == ["ok", "account_blocked", "account_blocked"]
    assert e.decide(Request("u0", 5.0, template_id=555)).code == "ok"


def test_online_template_counts_are_invisible_to_the_cyclic_gc() -> None:
    """Up to 2M templates are counted online: as containers the GC tracks they made every full collection
    (the event loop stopped) ~0.5 s longer per million; as tuples of strings the GC drops them."""
    import gc

    e = _enforcer()
    for i, m in enumerate(("m1", "m2", "m3", "m1")):
        e.decide(Request(m, float(i), template_id=999, wrapper_id=555))
    gc.collect()
    gc.collect()  # (a tuple is dropped once the tuples it holds are: a second pass for the newest)
    assert e.template_uses[999][:2] == (4, ("m1", "m2", "m3"))
    assert not any(gc.is_tracked(u) for u in e.template_uses.values())


def test_live_stats_hold_the_last_minute_without_a_dashboard_asking() -> None:
    """The live statistics' window was trimmed only when the dashboard read it: a gateway serving without
    one kept a record of every request (~100 bytes each, 2.6 GB a day at 300 req/s)."""
    from distillguard.gateway.control import WINDOW_S, Telemetry

    clock = [0.0]
    t = Telemetry(clock=lambda: clock[0])
    e = _enforcer()
    e.observer = t
    for i in range(3000):  # 300 s at 10 req/s, nobody reading
        clock[0] = i / 10
        e.decide(Request("m1" if i % 2 else "u1", clock[0]))
    assert len(t._window) <= WINDOW_S * 10 + 1  # noqa: SLF001 - the memory it holds
    snap = t.snapshot(set(), "memory")
    assert snap.total_requests == 3000 and snap.requests_per_second == pytest.approx(10, rel=0.02)
    assert 600 <= sum(snap.actions_per_minute.values()) <= 601 and snap.actions_per_minute["allow"] == 300


def test_template_shared_by_campaigns_detection_split_is_learned() -> None:
    e = _enforcer()
    e.knowledge.account_campaign.update({"s1": "C1", "s2": "C2", "s3": "C3", "s4": "C1"})
    e.knowledge.campaign_confidence.update({"C3": 0.9})
    for a in ("s1", "s4", "s2"):  # learned at the 3rd detected sender: members of C1, C1, C2
        e.decide(Request(a, 0.0, template_id=4242))
    assert e.knowledge.template_campaign.get(4242) == "C1"  # the plurality among its senders
