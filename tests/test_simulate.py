from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.ingest import ingest_logs
from distillguard.schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA
from distillguard.simulate import PRESETS, get_scenario, load_corpora, simulate
from distillguard.store import Store

SCALE = 0.15
ACTORS = {"legit:casual", "legit:developer", "legit:power-user", "legit:batch-integration",
          "legit:benchmark-runner", "legit:nat-cohort", "legit:enterprise-team", "campaign:naive",
          "campaign:distributed", "campaign:mimicry", "campaign:hydra"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip("corpora not found")
    out = tmp_path_factory.mktemp("sim") / "a"
    simulate(get_scenario("mixed-small"), SCALE, 7, load_corpora(SHARED_DATA), out)
    return out


def _con(sim: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"create view e as select * from read_parquet('{sim}/exchanges.parquet')")
    con.execute(f"create view l as select * from read_csv('{sim}/labels.csv', all_varchar=true)")
    con.execute("create view el as select * from e join l using (account_id)")
    return con


def test_output_conforms_to_contract_and_ingests_without_rejects(sim: Path, tmp_path: Path) -> None:
    assert pq.read_schema(sim / "exchanges.parquet").equals(EXCHANGE_SCHEMA)
    assert pq.read_schema(sim / "accounts.parquet").equals(ACCOUNT_SCHEMA)
    rejected = []
    with Store.open(tmp_path / "s.duckdb") as store:
        s = ingest_logs(store, [sim / "exchanges.parquet"], on_error=rejected.append)
    assert s.rejected == 0 and not rejected
    assert s.stored == s.rows_read > 1000 and s.duplicates == 0


def test_every_logged_account_labelled_exactly_once(sim: Path) -> None:
    con = _con(sim)
    logged = {r[0] for r in con.execute("select distinct account_id from e").fetchall()}
    with open(sim / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    ids = [r["account_id"] for r in rows]
    assert len(ids) == len(set(ids)) and set(ids) == logged
    accounts = pq.read_table(sim / "accounts.parquet")
    assert set(accounts["account_id"].to_pylist()) == logged
    assert all((r["campaign_id"] == "") == r["actor"].startswith("legit:") for r in rows)
    doc = json.loads((sim / "scenario.json").read_text())
    assert doc["exchanges"] == con.execute("select count(*) from e").fetchone()[0]


def test_actor_mix_covers_every_kind_and_level(sim: Path) -> None:
    con = _con(sim)
    got = dict(con.execute("select actor, count(*) from el group by 1").fetchall())
    assert set(got) == ACTORS
    camp = con.execute("select count(distinct campaign_id) from l where campaign_id is not null").fetchone()[0]
    assert camp == 4
    # synthetic completions (auto for a small scenario) on every successful exchange, none on errors
    bad = con.execute("select count(*) from e where (completion is null) <> (status <> 200)").fetchone()[0]
    assert bad == 0
    # timeline is globally sorted by time
    ts = pq.read_table(sim / "exchanges.parquet", columns=["ts"])["ts"].to_numpy()
    assert (np.diff(ts.astype(np.int64)) >= 0).all()


def test_same_seed_is_byte_identical_and_other_seed_differs(sim: Path, tmp_path: Path) -> None:
    from conftest import SHARED_DATA

    c = load_corpora(SHARED_DATA)
    simulate(get_scenario("mixed-small"), SCALE, 7, c, tmp_path / "b")
    for name in ("exchanges.parquet", "accounts.parquet", "labels.csv", "scenario.json"):
        assert (sim / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    simulate(get_scenario("mixed-small"), 0.03, 8, c, tmp_path / "c")
    assert (sim / "labels.csv").read_bytes()[:2000] != (tmp_path / "c" / "labels.csv").read_bytes()[:2000]


def test_identity_fields_do_not_reveal_the_actor(sim: Path) -> None:
    con = _con(sim)
    # one id format for everybody
    fmt = con.execute("""select campaign_id is null, count(distinct regexp_replace(account_id, '[A-Za-z0-9]', 'x',
        'g')), count(distinct length(request_id)) from el group by 1""").fetchall()
    assert all(r[1] == 1 and r[2] == 1 for r in fmt)
    # every model, User-Agent family and max_tokens value a campaign uses is also used by real users
    ua_class = """case when user_agent like 'Mozilla%' then 'browser' when user_agent like 'NovaChat%' then 'app'
        when regexp_matches(user_agent, '^(Async)?OpenAI/') then 'sdk'
        when regexp_matches(user_agent, '^(python-|aiohttp|curl|Go-http|okhttp|axios)') then 'http-lib'
        else 'framework' end"""
    for expr in ("model", ua_class):
        q = f"""select distinct {expr} v from el where campaign_id is not null and {expr} is not null
                except select distinct {expr} from el where campaign_id is null"""
        assert con.execute(q).fetchall() == [], expr
    # timestamps are continuous: as few whole seconds for campaigns as for anybody
    frac = con.execute("""select campaign_id is null, avg((epoch_us(ts) % 1000000 = 0)::int) from el
                          group by 1""").fetchall()
    assert all(f < 0.001 for _, f in frac)


def test_campaign_parameter_values_are_all_used_by_real_users() -> None:
    from distillguard.simulate import campaigns, population

    legit = [population.HUMAN_PARAMS, population.DEV_PARAMS, population.POWER_PARAMS, population.BATCH_PARAMS,
             population.BENCH_PARAMS]
    for style in (campaigns.LONG_PARAMS, campaigns.NAIVE_PARAMS, campaigns.MIMIC_PARAMS):
        for key in ("temperature", "top_p", "max_tokens", "stream"):
            used = style[key] > 0
            assert not (used & ~np.any([s[key] > 0 for s in legit], axis=0)).any(), key


def test_campaign_behaviours(sim: Path) -> None:
    con = _con(sim)
    human = {r[0] for r in con.execute("select messages[-1].content from el where actor = 'legit:casual'").fetchall()}
    # L2 mimicry: ≥20 % benign filler, wrappers rarely repeat, one IP and one card per account
    filler, n_mim, distinct_pre = con.execute("""select avg((not regexp_matches(messages[-1].content,
        '(?i)step|reason|explain|code|tool|function|api|json|answer'))::int), count(distinct account_id),
        count(distinct left(messages[-1].content, 40)) / count(*) from el
        where actor = 'campaign:mimicry'""").fetchone()
    assert filler >= 0.15 and distinct_pre > 0.5 and n_mim > 5
    assert human  # casual prompts exist
    pay = dict(con.execute(f"""select l.actor, count(distinct a.payment_fingerprint) / count(*)
        from read_parquet('{sim}/accounts.parquet') a join l using (account_id)
        where a.payment_fingerprint is not null group by 1""").fetchall())
    assert pay["campaign:distributed"] < 0.2 and pay["campaign:mimicry"] > 0.95
    # L3 hydra: low and slow, replaced accounts (more accounts than alive at once)
    rate = con.execute("""select count(*) / count(distinct (account_id, ts::date)) from el
                          where actor = 'campaign:hydra'""").fetchone()[0]
    assert 10 < rate < 40


def test_pivot_to_released_model(sim: Path) -> None:
    con = _con(sim)
    sc = get_scenario("mixed-small")
    q = f"""select actor = 'campaign:hydra', campaign_id is null, avg((model = '{sc.release_model}')::int) from el
            where ts between '{sc.release_at}'::timestamptz + interval 20 hour
                         and '{sc.release_at}'::timestamptz + interval 36 hour group by 1, 2"""
    share = {(h, legit): v for h, legit, v in con.execute(q).fetchall()}
    # the L3 hydra has moved most of its traffic within 24 h; legitimate users adopt slowly
    assert share[(True, False)] > 0.6 and share[(False, True)] < 0.25
    before = con.execute(f"select count(*) from e where model = '{sc.release_model}' "
                         f"and ts < '{sc.release_at}'::timestamptz").fetchone()[0]
    assert before == 0


def test_hard_negatives_look_like_it(sim: Path) -> None:
    con = _con(sim)
    # batch integrations: one template per org, around the clock, one payment per org
    hours, templates = con.execute("""select count(distinct hour(ts)), count(distinct left(messages[-1].content, 60))
        / count(distinct org_id) from el where actor = 'legit:batch-integration'""").fetchone()
    assert hours == 24 and templates <= 2
    # NAT cohorts: many accounts per IP
    per_ip = con.execute("""select avg(n) from (select ip, count(distinct account_id) n from el
                            where actor = 'legit:nat-cohort' group by ip)""").fetchone()[0]
    assert per_ip > 3
    # enterprise teams share one system prompt per org
    sys = con.execute("""select count(distinct messages[1].content) / count(distinct org_id) from el
                         where actor = 'legit:enterprise-team' and messages[1].role = 'system'""").fetchone()[0]
    assert sys == 1
    # benchmark runners: a burst of GSM8K/HumanEval in one day
    burst = con.execute("""select max(n) from (select account_id, ts::date, count(*) n from el
                           where actor = 'legit:benchmark-runner' group by 1, 2)""").fetchone()[0]
    assert burst >= 164


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_runs_at_tiny_scale(name: str, corpora: Path, tmp_path: Path) -> None:
    scale = {"mixed-small": 0.05, "deepseek-2026": 0.002}.get(name, 0.0002)
    r = simulate(get_scenario(name), scale, 3, load_corpora(corpora), None)
    assert r.exchanges > 0 and all(a.exchanges > 0 for a in r.actors if a.kind != "benchmark-runner")
    assert {a.label for a in r.actors} >= {a.label for a in r.actors if a.campaign}


def test_tiny_preset_writes_files(corpora: Path, tmp_path: Path) -> None:
    r = simulate(get_scenario("deepseek-2026"), 0.002, 3, load_corpora(corpora), tmp_path / "d")
    assert r.files and (tmp_path / "d" / "labels.csv").is_file()
    assert pq.read_metadata(r.files[0]).num_rows == r.exchanges


def test_cli_list_describe_and_errors(corpora: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["simulate", "--list"])
    assert res.exit_code == 0 and "qwen-2026" in res.output
    res = runner.invoke(main, ["simulate", "--scenario", "mixed-small", "--scale", "0.02", "--describe",
                               "--corpora", str(corpora)])
    assert res.exit_code == 0 and "campaign:hydra" in res.output
    res = runner.invoke(main, ["simulate", "--scenario", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "presets" in res.output
    res = runner.invoke(main, ["simulate", "--scenario", "mixed-small", "--corpora", str(tmp_path / "missing"),
                               "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "corpora" in res.output
