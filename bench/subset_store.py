"""A smaller store cut from a large one: every account whose hash falls in one of `--mod` buckets.

    .venv/bin/python bench/subset_store.py SRC.duckdb OUT.duckdb [--mod 10]

Keeps whole accounts (all their exchanges and their account record), so campaigns keep their shape at a
tenth of the size: the scale-1 store cut with `--mod 10` gave the "0.1 subset" (5,904,468 exchanges,
27,805 accounts) that docs/scale.md's per-query measurements use. Labels: filter the simulator's
`labels.csv` to the accounts of the subset's `accounts.csv`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from distillguard.ingest import ingest_logs  # noqa: E402
from distillguard.schema import EXCHANGE_COLUMNS  # noqa: E402
from distillguard.store import Store, sql_literal  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--mod", type=int, default=10, help="keep accounts with hash(account_id) %% MOD = 0")
    a = ap.parse_args()
    t0 = time.perf_counter()
    part = a.out.with_name(a.out.name + ".subset.parquet")
    keep = f"hash(account_id) % {a.mod} = 0"
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with Store.open(a.src, read_only=True) as src:  # the exchanges through a Parquet file (the store's parts)
        src.con.execute(f"COPY (SELECT {', '.join(EXCHANGE_COLUMNS)} FROM exchanges WHERE {keep} ORDER BY rowid) "
                        f"TO {sql_literal(part)} (FORMAT parquet, COMPRESSION zstd)")
        accounts_table = src.con.sql(f"SELECT * FROM accounts WHERE {keep}").to_arrow_table()
    with Store.open(a.out) as store:
        ingest_logs(store, [part])
        store.append_accounts(accounts_table)
        con = store.con
        n, accounts = con.sql("SELECT count(*), count(DISTINCT account_id) FROM exchanges").fetchall()[0]
    part.unlink()
    print(f"{a.out}: {n:,} exchanges, {accounts:,} accounts in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
