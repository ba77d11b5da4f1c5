"""Each per-account signal on a small hand-built log with a known answer."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest

from distillguard import schema
from distillguard.detection import features
from distillguard.ingest import ingest_logs
from distillguard.store import Store
from handbuilt import T0, _rec, batch_integration, campaign, legit_users


def _features(tmp_path, records, accounts_csv: str | None = None) -> dict[str, dict[str, float]]:
    from handbuilt import prepared_store

    with prepared_store(records, tmp_path, accounts_csv) as store:
        t = features.account_features(store.con)
    return {r["account_id"]: r for r in t.to_pylist()}


def test_volume_span_rate_and_regular_gaps(tmp_path) -> None:
    recs = [_rec(f"r{i}", T0 + timedelta(minutes=10 * i), "clock", f"Item number {i} please") for i in range(13)]
    f = _features(tmp_path, recs)["clock"]
    assert f["exchanges"] == 13
    assert f["span_days"] == pytest.approx(120 / 1440)
    assert f["gap_mean"] == pytest.approx(600) and f["gap_std"] == pytest.approx(0)
    assert f["burstiness"] == pytest.approx(-1.0)          # perfectly regular
    assert f["peak_per_minute"] == 1 and f["peak_per_day"] == 13 and f["active_days"] == 1
    assert f["template_diversity"] == pytest.approx(1 / 13)  # the number is masked: one template


def test_burst_peak_and_hours(tmp_path) -> None:
    recs = [_rec(f"b{i}", T0 + timedelta(seconds=i), "burst", f"word {chr(97 + i)} x") for i in range(5)]
    recs += [_rec(f"h{h}", T0 + timedelta(hours=h), "allday", f"hour {h} q") for h in range(24)]
    f = _features(tmp_path, recs)
    assert f["burst"]["peak_per_minute"] == 5 and f["burst"]["fast_gap_share"] == pytest.approx(0.8)
    assert f["allday"]["hour_entropy"] == pytest.approx(1.0) and f["allday"]["hours_active"] == 24
    assert f["burst"]["hour_entropy"] == pytest.approx(0.0)


def test_content_shares(tmp_path) -> None:
    recs = campaign(1, per_account=20) + legit_users(1) + batch_integration(per_account=30)
    f = _features(tmp_path, recs)
    camp, user, batch = f["camp-000"], f["user-000"], f["batch-000"]
    assert camp["single_turn_share"] == 1.0 and user["single_turn_share"] == pytest.approx(0.5)
    assert camp["cot_share"] > 0.4 and user["cot_share"] == 0 and batch["cot_share"] == 0
    assert camp["long_max_tokens_share"] == 1.0 and batch["long_max_tokens_share"] == 0.0
    assert camp["cap_other"] < 0.9 and batch["cap_other"] == 1.0
    assert batch["top_template_share"] == 1.0 and batch["template_diversity"] == pytest.approx(1 / 30)
    assert camp["ips"] == 1 and camp["system_prompts"] == 1 and batch["client_fingerprints"] == 1
    assert camp["output_input_ratio"] > 0


def test_a_single_message_agents_steps_over_one_task_are_one_sample(tmp_path) -> None:
    """An agent that rewrites one user message per step (the goal, the steps so far, the page) sends a dozen distinct
    texts per task, seconds apart, all opening with the goal: each task is one sample (`task_units`). A harvester's
    wrapper opens every payload too, in bursts as fast, but on day after day: each payload stays a sample."""
    goals = ["Find a flight from Lisbon to Oslo under 200 euros", "Book a table for four at an Italian place",
             "Compare the two cheapest standing desks with reviews", "Renew my library card before it expires"]
    recs = []
    for t, goal in enumerate(goals):
        start, done = T0 + timedelta(days=2 * t, hours=10), []
        for k in range(8):
            page = f"[{k + 1}] button 'Next' [{k + 20}] link 'Result {k * 7 + t}' [{k + 40}] textbox 'Search'"
            text = f"Goal: {goal}\n\nDone so far:\n{chr(10).join(done) or '-'}\n\nPage:\n{page}"
            recs.append(_rec(f"ag{t}-{k}", start + timedelta(seconds=15 * k), "agent", text,
                             system="You are a browser assistant. Answer with the next action as JSON."))
            done.append(f"- click [{k + 20}]")
    wrapper = "You are grading data for our training set. Solve the following and show all steps: "
    recs += [_rec(f"hv{d}-{k}", T0 + timedelta(days=d, hours=3, seconds=15 * k), "harvester",
                  f"{wrapper}what is the derivative of x^{d} times the sine of {k} x plus a constant {d}{k}?")
             for d in range(4) for k in range(8)]
    f = _features(tmp_path, recs)
    assert f["agent"]["exchanges"] == 32 and f["agent"]["task_units"] == 4, f["agent"]
    assert f["harvester"]["exchanges"] == 32 and f["harvester"]["task_units"] == 32, f["harvester"]


def test_account_age(tmp_path) -> None:
    recs = [_rec("a1", T0 + timedelta(days=3), "young", "hello there friend")]
    f = _features(tmp_path, recs, "account_id,created_at\nyoung,2026-05-01T00:00:00Z\n")
    assert f["young"]["account_age_days"] == pytest.approx(3.0)


def test_offered_tools_count_as_tool_use_whatever_the_text(tmp_path) -> None:
    recs = []
    for i in range(6):
        r = _rec(f"t{i}", T0 + timedelta(minutes=i), "agent", f"Please look up the weather in city {i}")
        r["tools"] = ["get_weather", "search"] if i < 4 else []
        recs.append(r)
    f = _features(tmp_path, recs)["agent"]
    assert f["tools_share"] == pytest.approx(4 / 6)
    assert f["cap_tool_use"] >= 4 / 6 - 1e-9    # empty `tools` lists fall back to the text
    assert f["cap_other"] + f["cap_reasoning"] + f["cap_coding"] <= 2 / 6 + 1e-9


def test_account_orgs_only_when_every_exchange_declares_the_same_one(tmp_path) -> None:
    recs = []
    for acc, orgs in (("lab", ["o1", "o1"]), ("mixed", ["o1", "o2"]), ("partial", ["o1", None]), ("none", [None])):
        for i, o in enumerate(orgs):
            r = _rec(f"{acc}{i}", T0 + timedelta(minutes=i), acc, f"question {i} about {acc}")
            if o:
                r["org_id"] = o
            recs.append(r)
    from handbuilt import write_jsonl

    log = write_jsonl(recs, tmp_path / "log.jsonl")
    with Store.open(":memory:") as store:
        ingest_logs(store, [log])
        assert features.account_orgs(store.con, ["lab", "mixed", "partial", "none", "absent"]) == [
            "o1", None, None, None, None]


def _fp_rows(con) -> list[tuple]:
    return con.sql("SELECT text_hash, template_id, wrapper_id, near_group, capability, cot, structured, pre_key, "
                   "suf_key FROM dg_fp ORDER BY text_hash").fetchall()


def test_fingerprint_cache_second_prepare_fingerprints_nothing(tmp_path, monkeypatch) -> None:
    from distillguard.fingerprints import cache as fpcache
    from distillguard.fingerprints import texts as fingerprints

    log = tmp_path / "log.jsonl"
    from handbuilt import write_jsonl
    write_jsonl(campaign(2, per_account=15) + legit_users(2), log)
    calls: list[int] = []
    real = fingerprints.fingerprint_texts

    def counting(texts, **kw):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return real(texts, **kw)

    monkeypatch.setattr(fingerprints, "fingerprint_texts", counting)
    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [log])
        features.prepare(store.con)
        first, phrases = _fp_rows(store.con), store.con.sql("SELECT * FROM dg_phrase ORDER BY ALL").fetchall()
        n_first = sum(calls)
        assert n_first == len(first) > 0
        assert store.count("fingerprint_cache") == len(first)
    with Store.open(tmp_path / "s.duckdb") as store:          # a new process, the same store
        features.prepare(store.con)
        assert sum(calls) == n_first                            # every text came from the cache
        assert _fp_rows(store.con) == first
        assert store.con.sql("SELECT * FROM dg_phrase ORDER BY ALL").fetchall() == phrases
        # another fingerprint version (code, model, DuckDB release): nothing cached matches, all is redone
        monkeypatch.setattr(fpcache, "fingerprint_version", lambda: "other-version")
        features.prepare(store.con)
        assert sum(calls) == 2 * n_first and _fp_rows(store.con) == first
        assert store.con.sql("SELECT DISTINCT version FROM fingerprint_cache").fetchall() == [("other-version",)]


def test_fingerprint_cache_survives_a_run_killed_while_adding_to_it(tmp_path, monkeypatch) -> None:
    """A text counts as cached once its fingerprint row is in: a run killed after adding the phrases,
    skeletons and wrappers but before the rows leaves no text half-cached, and the next run gives the same
    fingerprints and phrases as a clean one (leftover phrases replaced, not doubled)."""
    from distillguard.fingerprints import cache as fpcache

    log = tmp_path / "log.jsonl"
    from handbuilt import write_jsonl
    write_jsonl(campaign(2, per_account=15) + legit_users(2), log)
    with Store.open(tmp_path / "clean.duckdb") as store:
        ingest_logs(store, [log])
        features.prepare(store.con)
        clean = _fp_rows(store.con), store.count("fingerprint_cache_phrases")

    def killed(self) -> None:  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    with Store.open(tmp_path / "s.duckdb") as store:
        ingest_logs(store, [log])
        with monkeypatch.context() as m:
            m.setattr(fpcache.FingerprintCache, "_store_rows", killed)
            with pytest.raises(KeyboardInterrupt):
                features.prepare(store.con)
        assert store.count("fingerprint_cache") == 0 and store.count("fingerprint_cache_phrases") > 0
        features.prepare(store.con)                               # the next run does the whole work again
        assert (_fp_rows(store.con), store.count("fingerprint_cache_phrases")) == clean


def test_bounded_sample_per_account_is_coordinated(tmp_path) -> None:
    recs = [_rec(f"a{i}", T0 + timedelta(minutes=i), "big", f"Solve step by step: question {chr(97 + i % 26)}"
                 f"{chr(97 + i // 26)} please") for i in range(60)]
    recs += [_rec(f"b{i}", T0 + timedelta(minutes=i), "small", r["messages"][-1]["content"])
             for i, r in enumerate(recs[-5:])]
    with prepared_store_k(recs, tmp_path, 10) as con:
        def texts(acc: str, table: str = "dg_x") -> set[int]:
            join = "" if table == "dg_x" else " JOIN dg_fp USING (text_hash)"
            # the detect tables key accounts by number (distillguard.detection.account_ids)
            return {h for (h,) in con.sql(f"SELECT DISTINCT text_hash FROM dg_x{join} "
                                           f"JOIN dg_names n USING (account_id) WHERE n.name = '{acc}'").fetchall()}
        big, small = sorted(texts("big")), texts("small")
        assert texts("small", "dg_fp") == small                 # few texts: all fingerprinted
        # the big account: its 10 smallest hashes, plus the texts it shares with the small one (coordinated)
        assert texts("big", "dg_fp") == set(big[:10]) | small
        f = {r["account_id"]: r for r in features.account_features(con).to_pylist()}
        assert f["big"]["exchanges"] == 60                          # volume and timing use every exchange
        assert f["big"]["cot_share"] == 1.0                         # shares over the fingerprinted exchanges
        assert sum(f["big"][f"cap_{c}"] for c in ("reasoning", "coding", "tool_use", "other")) == pytest.approx(1.0)
        assert f["big"]["template_diversity"] == pytest.approx(1.0)


@contextmanager
def prepared_store_k(records, tmp_path, k):  # type: ignore[no-untyped-def]
    from handbuilt import write_jsonl

    log = write_jsonl(records, tmp_path / "log.jsonl")
    with Store.open(":memory:") as store:
        ingest_logs(store, [log])
        features.prepare(store.con, sample_per_account=k)
        yield store.con


def test_prompt_and_system_fast_paths_match_the_contract() -> None:
    """The CASE fast paths pick the same prompt / system text as filtering every message list."""
    import duckdb

    ref_prompt = ("coalesce(prompt, list_filter(messages, lambda m: m.role = 'user' "
                  "AND m.content IS NOT NULL)[-1].content, '')")
    ref_system = "list_filter(messages, lambda m: m.role IN ('system', 'developer'))[1].content"
    msgs = [None, [], [("user", "a")], [("system", "s"), ("user", "b")], [("user", "c"), ("assistant", "d")],
            [("user", "e"), ("user", None)], [("developer", None), ("system", "t"), ("user", "f")],
            [("assistant", "x")], [("user", None)], [("tool", "r"), ("developer", "dv"), ("user", "g")]]
    con = duckdb.connect()
    con.execute("CREATE TABLE exchanges (prompt VARCHAR, messages STRUCT(role VARCHAR, content VARCHAR)[])")
    for prompt in (None, "p"):
        for m in msgs:
            value = None if m is None else [{"role": r, "content": c} for r, c in m]
            con.execute("INSERT INTO exchanges VALUES (?, ?)", [prompt, value])
    rows = con.sql(f"SELECT {schema.PROMPT_SQL}, {ref_prompt}, {schema.SYSTEM_SQL}, {ref_system} "
                   "FROM exchanges").fetchall()
    assert len(rows) == 2 * len(msgs)
    for fast_p, slow_p, fast_s, slow_s in rows:
        assert (fast_p, fast_s) == (slow_p, slow_s)
    assert {r[0] for r in rows} == {"a", "b", "c", "e", "f", "g", "p", ""}
    # the turn counts read the roles once: the same as filtering the message list per role
    con.execute("INSERT INTO exchanges VALUES "
                "(NULL, [{'role': NULL, 'content': 'n'}, {'role': 'user', 'content': 'u'}])")
    turns = con.sql(f"SELECT coalesce(len(list_filter({schema.ROLES_SQL}, lambda r: r = 'user')), 1), "
                    f"coalesce(list_contains({schema.ROLES_SQL}, 'assistant'), false), "
                    "coalesce(len(list_filter(messages, lambda m: m.role = 'user')), 1), "
                    "coalesce(len(list_filter(messages, lambda m: m.role = 'assistant')), 0) > 0 "
                    "FROM exchanges").fetchall()
    assert all(r[:2] == r[2:] for r in turns)
    assert {r[:2] for r in turns} == {(1, False), (2, False), (1, True), (0, False), (0, True)}


@pytest.mark.parametrize("over, part_rows", [(2.0, 4_000_000), (0.5, 4_000_000), (2.0, 300)])
def test_sample_thresholds_give_the_top_k_aggregate_sample(monkeypatch, over, part_rows) -> None:
    """The bottom-k sample through `dg_tau` (filter + numpy) is the one DuckDB's top-k aggregate gives: with
    accounts short of k texts below the cut (`over` 0.5), in several parts, and with NULL text hashes."""
    import duckdb

    monkeypatch.setattr(features, "TAU_PART_ROWS", part_rows)
    con = duckdb.connect()
    con.execute("""CREATE TABLE dg_at AS SELECT account_id, text_hash, 1 AS n FROM (
        SELECT DISTINCT (i % 37)::INTEGER AS account_id,
               CASE WHEN i % 101 = 0 THEN NULL ELSE hash(i // (1 + i % 3)) END AS text_hash
        FROM range(20000) t(i))""")
    k = 25
    features.sample_thresholds(con, k, over=over)
    con.execute(features.sample_sql(k))
    got = {h for (h,) in con.execute("SELECT text_hash FROM dg_sample").fetchall()}
    want = {h for (h,) in con.execute(f"SELECT DISTINCT unnest(min(text_hash, {k})) FROM dg_at "
                                      "GROUP BY account_id").fetchall()}
    texts = con.execute("SELECT count(DISTINCT text_hash) FROM dg_at").fetchall()[0][0]
    assert None not in got and 2 * k < len(want) < texts
    assert got == want
    # small accounts (k texts or fewer) keep every text: no threshold
    con.execute("INSERT INTO dg_at VALUES (99, 1, 1), (99, 2, 1)")
    features.sample_thresholds(con, k, over=over)
    con.execute(features.sample_sql(k))
    assert con.execute("SELECT count(*) FROM dg_sample WHERE text_hash IN (1, 2)").fetchall()[0][0] == 2
    assert con.execute("SELECT count(*) FROM dg_tau WHERE account_id = 99").fetchall()[0][0] == 0
