"""Benchmark: feature_state.create on a synthetic full-run slim table, then absorb one hour of new traffic.

    .venv/bin/python bench/feature_state.py --exchanges 6000000 [--db /tmp/fs.duckdb] [--threads 2]

The slim table `dg_x` (numbered accounts), `dg_names`, `dg_at` and a fingerprint table covering half of
the texts are generated in SQL: `--active` campaign accounts send 90 % of the traffic around the clock, the other
accounts the rest; one text in ten is replayed from a shared pool. The new hour (`--new` exchanges from
the active accounts and a few new ones) comes after the history. Prints the time of each step and the
state tables' row counts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from distillguard.detection import feature_state

DAYS = 30


def _slim(n: int, accounts: int, active: int, t0: float, span: float, seed: int, fresh: int = 0) -> str:
    """SELECT of `n` synthetic slim rows (id strings when `fresh`, numbers otherwise)."""
    acc = (f"CASE WHEN hash(i, {seed}, 1) % 10 < 9 THEN hash(i, {seed}, 2) % {active} "
           f"ELSE {active} + hash(i, {seed}, 3) % {accounts - active} END")
    acc_col = (f"CASE WHEN hash(i, {seed}, 9) % 100 = 0 THEN 'new-' || (hash(i, {seed}) % {fresh}) "
               f"ELSE 'acct-' || lpad(({acc})::VARCHAR, 7, '0') END" if fresh else f"({acc})::INTEGER")
    return f"""SELECT {acc_col} AS account_id,
  {t0} + i * {span / n} + (hash(i, {seed}, 4) % 1000) / 1000.0 AS ts_s,
  CASE WHEN hash(i, {seed}, 5) % 10 = 0 THEN hash(hash(i, {seed}, 6) % 5000) ELSE hash(i, {seed}, 7) END
    AS text_hash,
  hash(({acc}) % 50) AS sys_hash, 1 + (i % 7 = 0)::INTEGER AS user_turns, i % 7 = 0 AS multi_turn,
  CASE WHEN i % 5 = 0 THEN NULL ELSE (1 + i % 8) * 1024 END::DOUBLE AS max_tokens,
  CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 10) / 10.0 END::DOUBLE AS temperature,
  hash(({acc}) % 2000) AS client_fp, hash(({acc}) % 30000) AS ip_h, hash(({acc}) % 300) AS ua_h,
  hash(i % 3) AS model_h, (50 + i % 400)::BIGINT AS prompt_tokens, (100 + i % 900)::BIGINT AS completion_tokens,
  i % 11 = 0 AS has_tools, hash(i % 97) AS params_key, 2 AS params_set
FROM range({n}) t(i)"""


def _fp(source: str) -> str:
    return f"""SELECT text_hash, (text_hash % 20000)::BIGINT AS template_id, (text_hash % 3000)::BIGINT AS wrapper_id,
  ['reasoning', 'coding', 'tool_use', 'other'][1 + (text_hash % 4)::INTEGER] AS capability,
  text_hash % 3 = 0 AS cot, text_hash % 5 = 0 AS structured, hash(text_hash, 1) AS pre_key,
  hash(text_hash, 2) AS suf_key, (text_hash % 1500)::BIGINT AS near_group
FROM (SELECT DISTINCT text_hash FROM {source}) WHERE hash(text_hash, 11) % 2 = 0"""


def main() -> None:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--exchanges", type=int, default=6_000_000)
    ap.add_argument("--accounts", type=int, default=278_000)
    ap.add_argument("--active", type=int, default=28_000)
    ap.add_argument("--new", type=int, default=57_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--db", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "fs.duckdb"
        con = duckdb.connect(str(db))
        con.execute(f"SET threads = {args.threads}; SET memory_limit = '8GB'")
        con.execute("CREATE OR REPLACE TABLE accounts (account_id VARCHAR, created_at TIMESTAMPTZ)")
        t0, span = 1.78e9, DAYS * 86400.0
        rows: list[tuple[str, float]] = []

        def step(name: str, sql: str | None = None, fn=None) -> None:  # noqa: ANN001
            s = time.perf_counter()
            if sql:
                con.execute(sql)
            if fn:
                fn()
            rows.append((name, time.perf_counter() - s))

        step("generate dg_x", "CREATE OR REPLACE TABLE dg_x AS "
             + _slim(args.exchanges, args.accounts, args.active, t0, span, 1))
        step("generate dg_names / dg_fp / dg_at",
             "CREATE OR REPLACE TEMP TABLE dg_names AS SELECT i::INTEGER AS account_id, "
             f"'acct-' || lpad(i::VARCHAR, 7, '0') AS name FROM range({args.accounts}) t(i); "
             "CREATE OR REPLACE TEMP TABLE dg_fp AS " + _fp("dg_x")
             + "; CREATE OR REPLACE TABLE dg_at AS SELECT account_id, text_hash, count(*) AS n FROM dg_x GROUP BY ALL")
        step("create", fn=lambda: feature_state.create(con))
        con.execute("CHECKPOINT")
        con.execute("DROP TABLE dg_names; DROP TABLE dg_fp; DROP TABLE dg_x; DROP TABLE dg_at")
        step("generate new hour", "CREATE OR REPLACE TEMP TABLE new_x AS "
             + _slim(args.new, args.accounts, args.active, t0 + span, 3600.0, 2, fresh=500)
             + "; CREATE OR REPLACE TEMP TABLE dg_fp AS " + _fp("new_x"))
        touched: list[int] = []
        step("absorb", fn=lambda: touched.append(feature_state.absorb(con, "new_x")))
        step("checkpoint", "CHECKPOINT")
        con.execute("CREATE TEMP TABLE want AS SELECT DISTINCT account_id FROM new_x")
        step("features (touched)", fn=lambda: feature_state.features(con, "want"))
        sizes = {t: con.sql(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in feature_state.STATE_TABLES}
        con.close()
        size_mb = db.stat().st_size / 1e6
    print(f"exchanges {args.exchanges:,}  accounts {args.accounts:,}  new {args.new:,}  threads {args.threads}  "
          f"touched {touched[0]:,}  store {size_mb:,.0f} MB")
    print(f"{'step':<40}{'seconds':>10}")
    for name, s in rows:
        print(f"{name:<40}{s:>10.2f}")
    print(f"{'table':<40}{'rows':>14}")
    for t, n in sizes.items():
        print(f"{t:<40}{n:>14,}")


if __name__ == "__main__":
    main()
