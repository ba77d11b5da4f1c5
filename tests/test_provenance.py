"""Completion provenance (detection.provenance): one account's completions sent back verbatim by another account
link the two — an operator whose accounts recycle each other's answers, not two users sharing one pasted answer."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from distillguard.detection import features, links, provenance
from distillguard.detection.campaigns import Grouping
from distillguard.detection.scoring import ScoreConfig, score_accounts
from handbuilt import T0, WORDS, _rec, legit_users, prepared_store

CANNED = "I'm sorry, but I can't help with that request. Is there anything else I can do?"


def _result(rng: random.Random) -> str:
    return json.dumps({"status": "ok", "results": [{"id": f"{rng.getrandbits(40):x}", "title": rng.choice(WORDS),
                                                    "score": round(rng.random(), 3)} for _ in range(3)]})


def simulated_tools(n_sims: int = 3, n_agents: int = 6, trajectories: int = 8, seed: int = 11) -> list[dict]:
    """An operator: `n_sims` accounts asked to play an API, whose completions are the tool results of its
    `n_agents` agent accounts' trajectories, fed back step by step."""
    rng = random.Random(seed)
    out = []
    k = 0
    for a in range(n_agents):
        agent = f"agent-{a:02d}"
        for t in range(trajectories):
            ts = T0 + timedelta(days=t, hours=rng.random() * 20)
            q = "Find " + " ".join(rng.choice(WORDS) for _ in range(6))
            hist = [{"role": "user", "content": q}]
            for s in range(3):
                rec = _rec(f"{agent}-{t}-{s}", ts, agent, q)
                rec["messages"] = [dict(m) for m in hist]
                rec["completion"] = f"Calling search for step {s}."
                rec["tools"] = ["search"]
                out.append(rec)
                sim = f"sim-{rng.randrange(n_sims)}"
                res = _result(rng)
                ask = f"Pretend to be the search API. Arguments: {json.dumps({'q': q, 'step': s})}"
                out.append({**_rec(f"{sim}-{k}", ts + timedelta(seconds=5), sim, ask), "completion": res})
                k += 1
                hist += [{"role": "assistant", "content": None}, {"role": "tool", "content": res}]
                ts += timedelta(seconds=20)
            rec = _rec(f"{agent}-{t}-final", ts, agent, q)
            rec["messages"] = hist
            rec["completion"] = "Based on the results, " + " ".join(rng.choice(WORDS) for _ in range(30))
            out.append(rec)
    return out


def bystanders(n: int = 12) -> list[dict]:
    """Users with completions; user-000's one answer pasted verbatim by user-001 (a forwarded reply); a canned
    refusal many of them receive, some of them paste back."""
    recs = legit_users(n, per_account=10)
    for i, r in enumerate(recs):
        r["completion"] = f"Here is an answer of mine number {i}: " + " ".join(WORDS[(i * 7 + j) % len(WORDS)]
                                                                            for j in range(12))
    shared = recs[3]["completion"]
    assert recs[3]["account_id"] == "user-000"
    recs.append(_rec("paste-1", T0 + timedelta(days=12), "user-001", shared))
    for u in range(n):
        recs.append({**_rec(f"refuse-{u}", T0 + timedelta(days=11, hours=u), f"user-{u:03d}", "do the thing"),
                     "completion": CANNED})
        if u % 2:
            recs.append(_rec(f"echo-{u}", T0 + timedelta(days=11, hours=u + 1), f"user-{(u + 1) % n:03d}", CANNED))
    return recs


def _prov_links(tmp_path, records) -> tuple[dict[tuple[str, str], float], pa.Table, list]:
    with prepared_store(records, tmp_path) as store:
        keyed = store.keyed_exchanges()
        provenance.prepare(store.con, keyed)
        stored = store.con.sql("SELECT * FROM dg_prov ORDER BY a, b").fetchall()
        provenance.prepare(store.con, None)      # computed from the messages: the same pairs
        assert store.con.sql("SELECT * FROM dg_prov ORDER BY a, b").fetchall() == stored
        feats = features.account_features(store.con)
        t = links.build_links(store.con)
        feats = provenance.with_shares(store.con, feats)
    lk = {(r["src"], r["dst"]): r["weight"] for r in t.to_pylist() if r["kind"] == provenance.KIND}
    return lk, feats, stored


def test_recycled_completions_link_the_operator_and_a_pasted_answer_does_not(tmp_path) -> None:
    lk, feats, stored = _prov_links(tmp_path, simulated_tools() + bystanders())
    assert stored, "the stored keys find the recycled completions"
    # every agent is linked to the sims that played its tools, at full weight (≥ 6 results from each, all of
    # the sims' traffic and three quarters of the agents')
    pairs = {(s, d) for s, d in lk}
    for a in range(6):
        assert any((f"agent-{a:02d}", f"sim-{s}") in pairs for s in range(3)), a
    assert min(lk.values()) > 0.3
    assert all(s.startswith("agent-") and d.startswith("sim-") for s, d in lk)
    # user-000's one answer pasted by user-001, and the canned refusal everybody receives: no link, no share
    assert not any("user" in s or "user" in d for s, d in lk)
    share = dict(zip(feats["account_id"].to_pylist(), feats["provenance_share"].to_pylist(), strict=True))
    assert share["sim-0"] > 0.9 and share["agent-00"] >= 0.5
    assert all(v == 0 for k, v in share.items() if k.startswith("user-"))


def test_one_answer_pasted_between_two_users_three_times_over_is_the_minimum(tmp_path) -> None:
    """Two pasted answers bind nothing; the third makes a pair (`min_pair`), weighed by the pasted share. An answer
    counts only when pasted after it was received and within `window_s` of it."""
    recs = bystanders()
    got = [r for r in recs if r["account_id"] == "user-002" and r.get("completion", "").startswith("Here is")][:5]

    def paste(i: int, r: dict, after: timedelta) -> dict:
        at = datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) + after
        return _rec(f"p{i}", at, "user-003", r["completion"])

    recs += [paste(i, r, timedelta(minutes=3)) for i, r in enumerate(got[:2])]
    # the other answers sent before user-002 received them, or two hours after: a coincidence, not a recycling
    recs += [paste(2, got[2], -timedelta(minutes=3)), paste(3, got[3], timedelta(hours=2))]
    lk, _, _ = _prov_links(tmp_path, recs)
    assert not lk
    recs.append(paste(4, got[4], timedelta(minutes=40)))
    (tmp_path / "b").mkdir()
    lk, _, _ = _prov_links(tmp_path / "b", recs)
    assert set(lk) == {("user-002", "user-003")}
    # three pasted answers in ~15 exchanges each side: half the full count, a fifth of the traffic at most
    assert 0 < lk[("user-002", "user-003")] <= 0.5


def test_provenance_counts_as_extraction_behaviour_of_a_group() -> None:
    """A group whose members recycle each other's completions is judged as extracting, whatever its topic; the
    same group without provenance is judged on its (benign-looking) behaviour."""
    n = 8
    ids = [f"a{i}" for i in range(n)]
    feats = pa.table({"account_id": ids, "exchanges": np.full(n, 200.0), "cap_other": np.full(n, 1.0),
                      "single_turn_share": np.full(n, 0.2), "first_ts": np.zeros(n), "last_ts": np.full(n, 9e5)})
    grouping = Grouping(accounts=ids, group=np.zeros(n, np.int64), strength=np.full(n, 3.0),
                        degree=np.full(n, 7.0), in_block=np.zeros(n, bool), edges=pa.table({}),
                        families=np.array([2]))
    plain = score_accounts(feats, grouping, ScoreConfig()).accounts["score"].to_numpy()
    prov = feats.append_column("provenance_share", pa.array(np.full(n, 0.7)))
    recycled = score_accounts(prov, grouping, ScoreConfig()).accounts["score"].to_numpy()
    assert plain.max() < 0.5 <= recycled.min()


def test_an_incremental_update_keeps_the_snapshot_provenance(tmp_path) -> None:
    """The update recomputes an account's features from its new rows; its provenance share stays the full run's."""
    import pyarrow.parquet as pq

    from distillguard.detection import detect_store
    from distillguard.ingest import ingest_logs
    from distillguard.store import Store
    from handbuilt import write_jsonl

    recs = sorted(simulated_tools() + bystanders(), key=lambda r: r["ts"])
    cut = int(len(recs) * 0.8)
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [write_jsonl(recs[:cut], tmp_path / "a.jsonl")])
        detect_store(store, tmp_path / "full", incremental=True)
        ingest_logs(store, [write_jsonl(recs[cut:], tmp_path / "b.jsonl")])
        assert detect_store(store, tmp_path / "inc", incremental=True).incremental_update
    full, inc = (pq.read_table(tmp_path / d / "features.parquet") for d in ("full", "inc"))
    share = dict(zip(inc["account_id"].to_pylist(), inc["provenance_share"].to_pylist(), strict=True))
    before = dict(zip(full["account_id"].to_pylist(), full["provenance_share"].to_pylist(), strict=True))
    touched = {r["account_id"] for r in recs[cut:]}
    assert any(a.startswith("agent-") for a in touched)
    assert all(share[a] == before[a] for a in before)
    assert min(share[a] for a in before if a.startswith(("agent-", "sim-"))) > 0.3
