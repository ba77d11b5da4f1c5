"""Shared-traffic behaviour: a campaign hiding extraction inside benign cover chat is scored on the part it
shares with its group; legitimate groups whose shared part is replayed text (a class's homework) are not."""

from __future__ import annotations

import csv
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.detection import DetectConfig, detect_logs
from distillguard.detection.campaigns import Grouping
from distillguard.detection.features import account_features
from distillguard.detection.scoring import ScoreConfig, score_accounts
from distillguard.detection.shared_traffic import SharedTrafficConfig, shared_traffic_features, wilson_interval
from handbuilt import T0, WORDS, _rec, legit_users, prepared_store, write_jsonl

OPEN = ("Next task for you, please handle it carefully.", "Another request from our side, please help.",
        "Here is one more job to complete properly.", "Please work on the following item right now.",
        "We have a new ticket in the queue for you.", "One more assignment from the backlog today.")
CLOSE = ("Return complete and working code only.", "Make sure the answer is production quality.",
         "Keep the explanation short, the code matters.", "Double check the edge cases before answering.",
         "Add type hints and a docstring to everything.", "Prefer the standard library over dependencies.")
CODE = ("Write a Python function named {a}_{b} that takes a list of {n} integers and returns the running maximum.",
        "Implement a JavaScript function that parses a {a} log line with {n} quoted fields into a {b} object.",
        "Write a SQL query that returns the top {n} {a} rows per {b} ordered by date.",
        "Refactor the Python class {a}Cache so that it evicts the least recently used {b} entry after {n} items.")
GREETING = "Hello there, how are you doing on this fine day?"


def _chat(rng: random.Random, acc: str, i: int, day: int) -> dict[str, Any]:
    ts = T0 + timedelta(days=day, hours=9 + rng.random() * 10, seconds=rng.random() * 60)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 16))).capitalize() + "?"
    hist = [{"role": "user", "content": "tell me about " + rng.choice(WORDS)},
            {"role": "assistant", "content": "Sure."}]
    ip = f"198.19.{sum(map(ord, acc)) % 200}.{i % 9}"
    return _rec(f"{acc}-{i}", ts, acc, text, ip=ip, ua="Mozilla/5.0", history=hist)


def cover_campaign(n: int, per_account: int = 60, seed: int = 3, prefix: str = "mix") -> list[dict[str, Any]]:
    """Accounts that mostly chat (2 of 3 requests) and send phrase-bank-wrapped coding payloads (long
    max_tokens) in between."""
    rng = random.Random(seed)
    out = []
    for a in range(n):
        acc = f"{prefix}-{a:03d}"
        for i in range(per_account):
            day = i * 10 // per_account
            if i % 3:
                out.append(_chat(rng, acc, i, day))
                continue
            task = rng.choice(CODE).format(a=rng.choice(WORDS), b=rng.choice(WORDS), n=rng.randrange(3, 999))
            ts = T0 + timedelta(days=day, hours=9 + rng.random() * 10, seconds=rng.random() * 60)
            out.append(_rec(f"{acc}-{i}", ts, acc, f"{rng.choice(OPEN)} {task} {rng.choice(CLOSE)}",
                            ip=f"198.18.{a}.{i % 5}", ua="Mozilla/5.0", params={"max_tokens": 4096}))
    return out


def classroom(n: int, per_account: int = 45, seed: int = 4) -> list[dict[str, Any]]:
    """Students who chat and all paste the same 15 coding homework prompts (identical text), same weeks."""
    rng = random.Random(seed)
    homework = [f"CS101 exercise sheet {k}: " + rng.choice(CODE).format(a=rng.choice(WORDS), b=rng.choice(WORDS),
                                                                          n=k + 3) + " Hand in by Friday noon."
                for k in range(15)]
    out = []
    for a in range(n):
        acc = f"student-{a:03d}"
        for i in range(per_account):
            day = i * 10 // per_account
            if i % 3:
                out.append(_chat(rng, acc, i, day))
                continue
            ts = T0 + timedelta(days=day, hours=10 + rng.random(), seconds=a)
            out.append(_rec(f"{acc}-{i}", ts, acc, homework[i // 3], ip=f"141.20.0.{a}", ua="Mozilla/5.0"))
    return out


def _flagged(out: Path) -> set[str]:
    with open(out / "accounts.csv", newline="") as f:
        return {r["account_id"] for r in csv.DictReader(f) if r["flagged"] == "true"}


def test_shared_traffic_is_the_wrapped_part_not_the_chat_nor_a_popular_greeting(tmp_path: Path) -> None:
    recs = legit_users(30) + cover_campaign(8)
    for r in recs:   # a greeting most users (and two campaign accounts) send once: not the group's key
        if r["request_id"].endswith("-1") and not r["account_id"].startswith("mix-00") \
                or r["request_id"] in ("mix-000-1", "mix-001-1"):
            r["messages"] = [{"role": "user", "content": GREETING}]
    ids = [f"mix-{a:03d}" for a in range(8)] + ["user-000"]     # one casual hanger-on in the group
    g = Grouping(accounts=ids, group=np.zeros(9, np.int64), strength=np.ones(9), degree=np.ones(9),
                 in_block=np.zeros(9, bool), edges=pa.table({"src": [], "dst": [], "weight": []}),
                 families=np.array([1]))
    with prepared_store(recs, tmp_path) as store:
        account_features(store.con)
        sh = shared_traffic_features(store.con, g)
        strict = shared_traffic_features(store.con, g, SharedTrafficConfig(min_group_fraction=0.99, min_lift=50.0))
    rows = {r["account_id"]: r for r in sh.to_pylist()}
    for a in ids[:8]:
        r = rows[a]
        assert r["exchanges"] == 20 and r["shared_share"] == 20 / 60          # every 3rd request, nothing else
        assert r["cap_other"] < 0.3 and r["single_turn_share"] == 1.0 and r["replayed_share"] == 0.0
        assert r["hour_entropy"] is not None
    assert "user-000" not in rows          # the greeting is everybody's; its chat is its own
    assert strict.num_rows == 0            # keys held by fewer accounts than asked: no shared traffic


def test_cover_chat_campaign_flagged_classroom_not(tmp_path: Path) -> None:
    log = write_jsonl(legit_users(40) + cover_campaign(10) + classroom(10), tmp_path / "mix.jsonl")
    detect_logs([log], tmp_path / "out", config=DetectConfig())
    flagged = _flagged(tmp_path / "out")
    assert {a for a in flagged if a.startswith("mix")} == {f"mix-{i:03d}" for i in range(10)}
    assert not {a for a in flagged if not a.startswith("mix")}
    # each member is judged on the third of its traffic that is the campaign's (20 of 60 exchanges), and the
    # output says so, with the share's uncertainty: per account and pooled over the campaign
    feats = pq.read_table(tmp_path / "out" / "features.parquet").to_pylist()
    mine = [r for r in feats if r["account_id"].startswith("mix")]
    assert all(r["shared_exchanges"] == 20 and r["shared_share_low"] < 1 / 3 < r["shared_share_high"]
               for r in mine), mine[0]
    assert all(r["shared_share"] is None for r in feats if r["account_id"].startswith("user"))
    campaign = json.loads((tmp_path / "out" / "campaigns.json").read_text())[0]
    judged = [e["detail"] for e in campaign["evidence"] if e["signal"] == "judged-traffic"]
    assert judged and judged[0].startswith("33% of exchanges (95 % interval 30%–37%)"), judged
    # whole-account averages alone (the shared path switched off) miss the campaign: the chat dilutes it
    off = DetectConfig(scores=ScoreConfig(shared_min_exchanges=10**9))
    detect_logs([log], tmp_path / "off", config=off)
    assert not {a for a in _flagged(tmp_path / "off") if a.startswith("mix")}


def critique_campaign(n: int, frame: str, per_account: int = 10, seed: int = 5) -> list[dict[str, Any]]:
    """Accounts running scripted conversations: a framed coding task, then "find the flaws", then "fix them"."""
    rng = random.Random(seed)
    out = []
    for a in range(n):
        acc = f"loop-{a:03d}"
        for c in range(per_account):
            task = rng.choice(CODE).format(a=rng.choice(WORDS), b=rng.choice(WORDS), n=rng.randrange(3, 999))
            ts = T0 + timedelta(days=c, hours=9 + rng.random() * 10)
            turns = [f"{frame} {task}", "Now look hard for weaknesses in that answer.", "Revise it so they are gone."]
            hist: list[dict[str, str]] = []
            for k, text in enumerate(turns):
                out.append(_rec(f"{acc}-{c}-{k}", ts + timedelta(minutes=k), acc, text, ip=f"198.18.{a}.1",
                                ua="Mozilla/5.0", history=list(hist)))
                hist += [{"role": "user", "content": text}, {"role": "assistant", "content": "Done."}]
    return out


def test_follow_ups_of_a_reasoning_request_count_as_elicitation(tmp_path: Path) -> None:
    """A conversation is a unit: the follow-ups that make the model pick apart and redo an answer whose
    reasoning the opener asked for go on harvesting that reasoning; after a plain request they do not."""
    ids = [f"loop-{a:03d}" for a in range(6)]
    g = Grouping(accounts=ids, group=np.zeros(6, np.int64), strength=np.ones(6), degree=np.ones(6),
                 in_block=np.zeros(6, bool), edges=pa.table({"src": [], "dst": [], "weight": []}),
                 families=np.array([1]))
    cot = {}
    for name, frame in (("reasoning", "Work through the item below and narrate your thought process as you go:"),
                        ("plain", "Please handle the item below for our team:")):
        (tmp_path / name).mkdir()
        with prepared_store(legit_users(20) + critique_campaign(6, frame), tmp_path / name) as store:
            account_features(store.con)
            cot[name] = {r["account_id"]: r["cot_share"] for r in shared_traffic_features(store.con, g).to_pylist()}
    assert set(cot["reasoning"]) == set(ids) and set(cot["plain"]) == set(ids)
    assert all(v == 1.0 for v in cot["reasoning"].values()), cot["reasoning"]
    assert all(v == 0.0 for v in cot["plain"].values()), cot["plain"]


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson_interval(np.array([3.0, 0.0, 300.0, 5.0]), np.array([10.0, 20.0, 1000.0, 0.0]))
    assert np.allclose(low[:3], [0.1078, 0.0, 0.2724], atol=1e-4) and np.allclose(high[:3], [0.6032, 0.1611, 0.3291],
                                                                                   atol=1e-4)
    assert (low[3], high[3]) == (0.0, 1.0)   # no exchanges: nothing known


def popular_pasters(n: int, free: int, seed: int = 6) -> list[dict[str, Any]]:
    """`n` heavy coders who send nothing but well-known coding requests, verbatim, from a public pool of 30, and
    `free` casual users who each paste two of the same requests between their own chat."""
    rng = random.Random(seed)
    pool = [rng.choice(CODE).format(a=rng.choice(WORDS), b=rng.choice(WORDS), n=k + 3) for k in range(30)]
    out = []
    for a in range(n):
        for i in range(30):
            ts = T0 + timedelta(days=i % 10, hours=9 + rng.random() * 10, seconds=a)
            out.append(_rec(f"dev-{a:03d}-{i}", ts, f"dev-{a:03d}", pool[(i * 7 + a) % 30], ua="Mozilla/5.0"))
    for u in range(free):
        for i in range(6):
            if i < 2:
                ts = T0 + timedelta(days=u % 10, hours=12, minutes=i)
                out.append(_rec(f"paste-{u:03d}-{i}", ts, f"paste-{u:03d}", pool[(u * 2 + i) % 30]))
            else:
                out.append(_chat(rng, f"paste-{u:03d}", i, u % 10))
    return out


def _two_groups(recs: list[dict[str, Any]], first: list[str], second: list[str], tmp_path: Path
                ) -> tuple[Grouping, pa.Table, pa.Table]:
    """Two groups of 8 tightly bound accounts over the log `recs`: the grouping, the account features and the
    shared-traffic features."""
    g = Grouping(accounts=first + second, group=np.repeat(np.arange(2), 8), strength=np.full(16, 5.0),
                 degree=np.full(16, 7.0), in_block=np.zeros(16, bool),
                 edges=pa.table({"src": [], "dst": [], "weight": []}), families=np.array([2, 2]))
    with prepared_store(recs, tmp_path) as store:
        feats = account_features(store.con)
        sh = shared_traffic_features(store.con, g)
    return g, feats, sh


def test_members_pasting_what_ungrouped_users_paste_are_judged_on_the_rest(tmp_path: Path) -> None:
    """A group's behaviour is its own traffic's: heavy coders whose every request is a well-known one that
    ungrouped users paste too look like extraction by topic, yet what they send is everybody's. Their
    `popular_share` is 1, and as members they carry no extraction behaviour; a campaign's own wrapped payloads
    are popular for nobody."""
    recs = legit_users(20) + cover_campaign(8) + popular_pasters(8, free=30)
    devs, mix = [f"dev-{a:03d}" for a in range(8)], [f"mix-{a:03d}" for a in range(8)]
    g, feats, sh = _two_groups(recs, devs, mix, tmp_path)
    rows = {r["account_id"]: r for r in sh.to_pylist()}
    assert all(rows[a]["popular_share"] == 1.0 for a in devs), [rows[a]["popular_share"] for a in devs]
    assert all(rows[a]["popular_share"] == 0.0 for a in mix)
    scores = score_accounts(feats, g, shared=sh)
    parts = scores.group_parts
    assert parts["behaviour"][0] == 0.0 < 0.55 <= parts["behaviour"][1], parts["behaviour"]
    # the same coders judged on their whole traffic, the popular part included, read as extraction
    undiscounted = score_accounts(feats, g, shared=sh.drop(["popular_share"]))
    assert undiscounted.group_parts["behaviour"][0] > 0.35


def relay_front(n: int, per_account: int = 60, seed: int = 7) -> list[dict[str, Any]]:
    """A front whose accounts relay the same end users' chats among them (2 of 3 requests, from one pool of 25
    conversations) and wrap their operator's own coding payloads in one phrase bank in between."""
    rng = random.Random(seed)
    pool = [" ".join(rng.choice(WORDS) for _ in range(rng.randrange(8, 16))).capitalize() + "?" for _ in range(25)]
    out = []
    for r in cover_campaign(n, per_account, seed, prefix="front"):
        if int(r["request_id"].rsplit("-", 1)[1]) % 3:
            r["messages"] = [{"role": "user", "content": rng.choice(pool)}]
        out.append(r)
    return out


def test_a_front_relaying_the_same_chats_is_judged_on_what_it_wraps(tmp_path: Path) -> None:
    """Exchanges a group's members send verbatim among them (a class's problem set, a front's relayed end-user
    chat) count less as the group's behaviour; what a member wraps in the group's wording and nobody else
    sends is its own. A front relaying one pool of chats is judged on its wrapped payloads; a class, whose
    shared traffic is all the same problem set, still carries no campaign behaviour."""
    recs = legit_users(20) + relay_front(8) + classroom(8)
    front, students = [f"front-{a:03d}" for a in range(8)], [f"student-{a:03d}" for a in range(8)]
    g, feats, sh = _two_groups(recs, front, students, tmp_path)
    rows = {r["account_id"]: r for r in sh.to_pylist()}
    assert all(rows[a]["replayed_share"] > 0.5 and rows[a]["own_exchanges"] == 20 for a in front), rows[front[0]]
    parts = score_accounts(feats, g, shared=sh).group_parts
    assert parts["behaviour"][1] <= 0.35 < 0.55 <= parts["behaviour"][0], parts["behaviour"]
    # judged on all the traffic it shares, the relayed chat included, the front reads as a chat service
    whole = score_accounts(feats, g, shared=sh.drop([c for c in sh.column_names if c.startswith("own_")]))
    assert whole.group_parts["behaviour"][0] < 0.35, whole.group_parts["behaviour"]


AGENT_SYS = ("You are Forge, a coding agent in the user's terminal. Read files before editing them, run the tests "
             "after every change, and explain briefly what you are doing before each tool call.")
AGENT_TOOLS = [{"type": "function", "function": {"name": n, "description": f"{n} tool",
                                                 "parameters": {"type": "object", "properties": {}}}}
               for n in ("read_file", "edit_file", "run")]


STEER = ("no, keep the old API as it is", "also update the docs please", "run the linter too", "stop, explain first")


def agent_users(n: int, sessions: int = 4, steps: int = 8, seed: int = 8) -> list[dict[str, Any]]:
    """Developers using one coding agent with their own keys: its system prompt, tools and framing of the task on
    every request, a few sessions each over a task of their own, each a loop of tool steps fed their results."""
    rng = random.Random(seed)
    out = []
    for u in range(n):
        acc = f"coder-{u:03d}"
        for s in range(sessions):
            t = T0 + timedelta(days=rng.randrange(0, 14), hours=9 + rng.random() * 8)
            ask = rng.choice(CODE).format(a=rng.choice(WORDS), b=rng.choice(WORDS), n=rng.randrange(2, 999))
            ask = f"<task>\n{ask}\n</task>\nWorking directory: ~/project (git repository, tests under tests/)"
            msgs: list[dict[str, Any]] = [{"role": "system", "content": AGENT_SYS}, {"role": "user", "content": ask}]
            for k in range(steps):
                out.append({"request_id": f"{acc}-{s}-{k}", "ts": t.isoformat().replace("+00:00", "Z"),
                            "account_id": acc, "ip": "", "user_agent": "forge/1.4", "model": "frontier-1",
                            "messages": [dict(m) for m in msgs], "params": {},
                            "tools": AGENT_TOOLS, "prompt_tokens": 400 + 50 * k, "completion_tokens": 30})
                call = {"id": f"call_{u}_{s}_{k}", "type": "function",
                        "function": {"name": AGENT_TOOLS[k % 3]["function"]["name"], "arguments": "{}"}}
                msgs += [{"role": "assistant", "content": None, "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": call["id"], "content": f"ok {rng.choice(WORDS)} {k}"}]
                if k == steps // 2:   # the user steers: the agent's next steps answer that
                    msgs.append({"role": "user", "content": rng.choice(STEER)})
                t += timedelta(seconds=5 + rng.random() * 20)
    return out


def test_an_agents_tool_steps_over_one_task_are_one_sample_of_its_user(tmp_path: Path) -> None:
    """A member's own part counts in samples: distinct texts, or conversations over one extraction problem.
    Users of one coding agent send 32 steps each over 4 tasks of their own: four samples (scoring judges a
    member on its own part from `shared_min_exchanges` samples on:
    `test_scoring::test_a_members_own_part_speaks_for_it_from_enough_samples_not_steps`)."""
    recs = legit_users(20) + agent_users(8) + cover_campaign(8)
    coders, mix = [f"coder-{a:03d}" for a in range(8)], [f"mix-{a:03d}" for a in range(8)]
    _, _, sh = _two_groups(recs, coders, mix, tmp_path)
    rows = {r["account_id"]: r for r in sh.to_pylist()}
    assert all(rows[a]["own_exchanges"] == 32 and rows[a]["own_units"] == 4 for a in coders), {
        k: v for k, v in rows[coders[0]].items() if "own" in k}
    assert all(rows[a]["own_units"] == rows[a]["own_exchanges"] >= 10 for a in mix), rows[mix[0]]
