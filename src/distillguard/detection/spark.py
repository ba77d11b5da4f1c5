"""Execution engines for the relational stages: DuckDB (embedded default) or Apache Spark (PySpark).

The stages (`features.account_features`, `links.build_links`, `links.key_usage`) are written once, as
DuckDB SQL run through a connection-like object with `execute(sql)` and `sql(sql).to_arrow_table()` /
`.fetchall()`. A DuckDB connection is such an object; `SparkEngine` is another: it parses each statement
with sqlglot (DuckDB dialect), rewrites the few functions whose meaning differs between the engines, and
runs it as Spark SQL. DDL/DML on temporary tables (`CREATE OR REPLACE TEMP TABLE … AS`, `CREATE … (cols)`,
`INSERT INTO … SELECT`, `DELETE FROM … WHERE`, `DROP TABLE`) become checkpointed DataFrames behind temp
views.

What runs where with `--engine spark`: ingest and fingerprinting (Python, once per distinct text) stay in
the DuckDB store; the slim tables `dg_x`, `dg_at`, `dg_fp`, `dg_phrase`, `dg_sysseg`, `dg_acc` (accounts by
number) and the numbering `dg_names` are shipped to Spark (as Arrow through the driver, or staged as Parquet in a folder
the executors read: $DG_SPARK_STAGE); the executors read `exchanges` from the store's Parquet parts
themselves (`read_exchanges`); features, links and the accounts' declared organisations run on Spark, and
their results (`dg_features`, `dg_links`, one row per account / per edge) come back to DuckDB for campaigns
and output. Operator guide: docs/spark.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..errors import UsageError
from ..schema import EXCHANGE_FIELDS
from ..store import DELTA, PART_SCHEMA, Store, sql_literal
from . import tables as work_tables

ENGINES = ("duckdb", "spark")
SHIPPED_TABLES = tuple(t.name for t in work_tables.SHIPPED)
RESULT_TABLES = tuple(t.name for t in work_tables.RESULTS)
# Spark SQL settings the transpiled stages assume: UTC timestamps, DuckDB-like (non-ANSI) arithmetic, Arrow
_SQL_CONF = {"spark.sql.session.timeZone": "UTC", "spark.sql.ansi.enabled": "false",
             "spark.sql.execution.arrow.pyspark.enabled": "true"}
# uint64 columns of DuckDB (hashes) travel as int64 (Spark has no unsigned types) and come back as uint64
HASH_COLUMNS = frozenset({"key", "text_hash", "sys_hash", "client_fp", "pre_key", "suf_key", "phrase",
                          "params_key", "ip_h", "ua_h", "model_h"})


class SparkResult:
    """The result of `SparkEngine.sql`: the two accessors the stages use."""

    def __init__(self, df: Any) -> None:
        self.df = df

    def to_arrow_table(self) -> pa.Table:
        """The rows as an Arrow table (hash columns back to DuckDB's uint64, same bits)."""
        t = self.df.toArrow()
        return pa.table({n: c.cast(pa.uint64(), safe=False) if n in HASH_COLUMNS and pa.types.is_int64(c.type)
                         else c for n, c in zip(t.column_names, t.columns, strict=True)})

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The rows as tuples."""
        return [tuple(r) for r in self.df.collect()]


@dataclass(frozen=True)
class SparkSettings:
    """Where and how Spark runs: master URL, shuffle partitions, and the Parquet stage of the shipped tables.

    The entry point (the CLI, a notebook) builds it, e.g. from the environment with `from_env`; nothing in
    detection reads the environment itself.
    """

    master: str | None = None       # None: local[*]
    partitions: int = 8             # spark.sql.shuffle.partitions
    stage: str | None = None        # ship the tables as Parquet in this folder (None: as Arrow via the driver)
    stage_uri: str | None = None    # how executors address `stage` (None: the same folder)
    parts_uri: str | None = None    # how executors address the store's parts folder (None: its local path)

    @classmethod
    def from_env(cls, env: Mapping[str, str], master: str | None = None) -> SparkSettings:
        """$SPARK_MASTER (unless `master`), $DG_SPARK_PARTITIONS, $DG_SPARK_STAGE, $DG_SPARK_STAGE_URI,
        $DG_SPARK_PARTS_URI."""
        raw = env.get("DG_SPARK_PARTITIONS", "8")
        try:
            partitions = int(raw)
        except ValueError:
            raise UsageError(f"DG_SPARK_PARTITIONS must be a whole number, got {raw!r}") from None
        return cls(master=master or env.get("SPARK_MASTER") or None, partitions=partitions,
                   stage=env.get("DG_SPARK_STAGE") or None, stage_uri=env.get("DG_SPARK_STAGE_URI") or None,
                   parts_uri=env.get("DG_SPARK_PARTS_URI") or None)


class SparkEngine:
    """A DuckDB-connection look-alike that runs DuckDB SQL on Spark (transpiled with sqlglot)."""

    def __init__(self, session: Any, owned: bool = True) -> None:
        self.spark = session
        self.owned = owned  # stop the session on close (False: it belongs to the application around us)
        self._tables: dict[str, Any] = {}
        self._consts: duckdb.DuckDBPyConnection = duckdb.connect()

    @classmethod
    def start(cls, settings: SparkSettings | None = None, app: str = "distillguard") -> SparkEngine:
        """A local (`local[*]`) or cluster Spark session (`settings.master`).

        An already active session (a notebook's, a `spark-submit` application's, a test's) is used as it
        is and left running on `close`.
        """
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise UsageError("--engine spark needs PySpark: pip install 'distillguard[spark]'") from None
        active = SparkSession.getActiveSession()
        if active is not None:
            for k, v in _SQL_CONF.items():  # runtime SQL settings the stages rely on
                active.conf.set(k, v)
            return cls(active, owned=False)
        settings = settings or SparkSettings()
        builder = spark_builder(settings.master, app, settings.partitions)
        return cls(builder.getOrCreate())

    # -- the connection-like surface used by the stages ----------------------------------------------
    def execute(self, sql: str) -> SparkEngine:
        """Run one DuckDB statement on Spark."""
        import sqlglot
        from sqlglot import exp

        tree = sqlglot.parse_one(sql, read="duckdb")
        if isinstance(tree, exp.Create):
            name = tree.this.this.name if isinstance(tree.this, exp.Schema) else tree.this.name
            if tree.expression is not None:
                self._store(name, self._df(tree.expression))
            else:  # CREATE TABLE t (col TYPE, ...): an empty table
                cols = ", ".join(f"CAST(NULL AS {c.args['kind'].sql('spark')}) AS {c.name}"
                                 for c in tree.this.expressions)
                self._store(name, self.spark.sql(f"SELECT {cols}").limit(0))
        elif isinstance(tree, exp.Insert):
            name = tree.this.name
            new = self._df(tree.expression)
            self._store(name, self._tables[name].unionByName(new.toDF(*self._tables[name].columns)))
        elif isinstance(tree, exp.Delete):
            name = tree.this.name
            cond = self._spark_sql(tree.args["where"].this)
            self._store(name, self._tables[name].filter(f"NOT coalesce(({cond}), false)"))
        elif isinstance(tree, exp.Drop):
            self.drop(tree.find(exp.Table).name)
        else:
            self._df(tree).collect()
        return self

    def sql(self, sql: str) -> SparkResult:
        """Run one DuckDB query on Spark."""
        import sqlglot

        return SparkResult(self._df(sqlglot.parse_one(sql, read="duckdb")))

    # -- moving tables in and out --------------------------------------------------------------------
    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table available to SQL as `name` (uint64 hash columns become int64, same bits)."""
        cols = [c.cast(pa.int64(), safe=False) if pa.types.is_uint64(c.type) else c for c in table.columns]
        t = pa.table(dict(zip(table.column_names, cols, strict=True)))
        df = self.spark.createDataFrame(t) if t.num_rows else self.spark.createDataFrame([], _spark_schema(t))
        self._store(name, df.cache(), checkpoint=False)  # shipped data has no lineage to cut

    def read_parquet(self, name: str, uri: str) -> None:
        """Make Parquet files (a file or folder, any URI the cluster reads: s3a://, gs://, abfss://, file://)
        available to SQL as `name`; unsigned hash columns must already be stored as int64 of the same bits."""
        self._store(name, self.spark.read.parquet(uri), checkpoint=False)

    def view(self, name: str, df: Any) -> None:
        """Make a Spark DataFrame available to SQL as `name`, as a query (read when used, not materialised)."""
        self._store(name, df, checkpoint=False)

    def table(self, name: str) -> pa.Table:
        """A temporary table as Arrow."""
        return self._tables[name].toArrow()

    def has_table(self, name: str) -> bool:
        """Whether a temporary table `name` exists."""
        return name in self._tables

    def drop(self, name: str) -> None:
        """Forget a temporary table."""
        df = self._tables.pop(name, None)
        if df is not None:
            df.unpersist()
        self.spark.catalog.dropTempView(name)

    def close(self) -> None:
        """Drop this engine's temporary tables; stop the Spark session if `start` created it."""
        for name in list(self._tables):
            self.drop(name)
        if self.owned:
            self.spark.stop()

    # -- internals -----------------------------------------------------------------------------------
    def _store(self, name: str, df: Any, checkpoint: bool = True) -> None:
        if checkpoint:  # materialise now: later statements read the rows, not a growing query plan
            df = df.localCheckpoint(eager=True)
        old = self._tables.get(name)
        self._tables[name] = df
        df.createOrReplaceTempView(name)
        if old is not None:
            old.unpersist()

    def _df(self, tree: Any) -> Any:
        return self.spark.sql(self._spark_sql(tree))

    def _spark_sql(self, tree: Any) -> str:
        import sqlglot
        from sqlglot import exp

        def rewrite(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Anonymous) and node.name.lower() == "hash" or type(node).__name__ == "Hash":
                args = [a for a in node.args.values() if isinstance(a, exp.Expression)]
                args += [a for v in node.args.values() if isinstance(v, list) for a in v]
                if all(isinstance(a, exp.Literal) for a in args):
                    # a constant compared with hashes computed by DuckDB (e.g. hash('')): same value
                    return exp.Literal.number(self._duck_hash(node.sql("duckdb")))
                return exp.Anonymous(this="XXHASH64", expressions=args)
            if isinstance(node, exp.TimeToUnix):
                # DuckDB epoch(ts) keeps the microseconds; Spark's unix_timestamp would drop them
                micros = exp.Anonymous(this="UNIX_MICROS", expressions=[exp.cast(node.this, "TIMESTAMP")])
                return exp.Div(this=exp.cast(micros, "DOUBLE"), expression=exp.cast(exp.Literal.number(1000000),
                                                                                      "DOUBLE"))
            if isinstance(node, exp.Median):
                return exp.Anonymous(this="PERCENTILE", expressions=[node.this, exp.Literal.number(0.5)])
            if isinstance(node, exp.Literal) and not node.is_string and "." in str(node.this):
                # DuckDB reads 1.0 as DOUBLE in arithmetic context; Spark as DECIMAL (avg would round)
                return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
            if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
                # DuckDB table function range(a, b) r(col) -> a Spark subquery over range(a, b)
                gs, alias = node.this, node.args.get("alias")
                col = alias.columns[0].name if alias is not None and alias.columns else "range"
                sub = f"(SELECT id AS {col} FROM range({gs.args['start'].sql()}, {gs.args['end'].sql()}))"
                return exp.Subquery(this=sqlglot.parse_one(sub[1:-1], read="spark"),
                                    alias=exp.TableAlias(this=exp.to_identifier(alias.name if alias else "r")))
            return node

        return tree.transform(rewrite).sql(dialect="spark")

    def _duck_hash(self, expr: str) -> int:
        v = int(self._consts.sql(f"SELECT ({expr})::UBIGINT").fetchall()[0][0])
        return v - (1 << 64) if v >= 1 << 63 else v


def spark_builder(master: str | None = None, app: str = "distillguard", partitions: int | None = None) -> Any:
    """A `SparkSession.builder` with the settings the stages need (UTC, non-ANSI arithmetic, Arrow transfer)."""
    from pyspark.sql import SparkSession

    parts = partitions or SparkSettings.partitions
    builder = (SparkSession.builder.appName(app)
               .master(master or "local[*]")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", str(parts)))
    for k, v in _SQL_CONF.items():
        builder = builder.config(k, v)
    return builder


def _spark_schema(t: pa.Table | pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(t if isinstance(t, pa.Schema) else t.schema)


def ship_to_spark(con: duckdb.DuckDBPyConnection, engine: SparkEngine, tables: Sequence[str] = SHIPPED_TABLES,
                  stage: str | None = None, stage_uri: str | None = None) -> None:
    """Make the prepared DuckDB tables the relational stages read available to Spark.

    Without `stage` they travel as Arrow through the driver. With it, DuckDB writes each one as
    `<stage>/<name>.parquet` and Spark reads it from `<stage_uri>/<name>.parquet` (default the same folder):
    a folder every executor can read, e.g. a bucket mounted at `stage` on the driver and addressed as
    `s3a://bucket/prefix` by the executors.
    """
    stage = stage or None
    stage_uri = stage_uri or None
    for name in tables:
        if stage is None:
            engine.register(name, con.sql(f"SELECT * FROM {name}").to_arrow_table())
            continue
        folder = Path(stage.removeprefix("file://"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.parquet"
        con.execute(f"COPY (SELECT {_as_signed(con, name)} FROM {name}) TO {sql_literal(path)} (FORMAT parquet)")
        uri = f"{stage_uri.rstrip('/')}/{name}.parquet" if stage_uri else path.resolve().as_uri()
        engine.read_parquet(name, uri)


def _as_signed(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The columns of `name`, with unsigned 64-bit hashes as the signed integers of the same bits.

    Spark has no unsigned types (it would read a Parquet UINT64 as DECIMAL(20, 0)); Arrow shipping and
    `SparkResult.to_arrow_table` reinterpret the same way.
    """
    cols = []
    for col, typ in con.sql(f"SELECT column_name, column_type FROM (DESCRIBE {name})").fetchall():
        q = '"' + col.replace('"', '""') + '"'
        cols.append(f"((({q})::HUGEINT + 9223372036854775808) % 18446744073709551616 - 9223372036854775808)"
                    f"::BIGINT AS {q}" if typ == "UBIGINT" else q)
    return ", ".join(cols)


def bring_back(con: duckdb.DuckDBPyConnection, engine: SparkEngine, tables: Sequence[str] = RESULT_TABLES) -> None:
    """Copy the stage results computed on Spark into DuckDB temp tables of the same names."""
    for name in tables:
        t = engine.table(name)
        con.register("_dg_back", t)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _dg_back")
        finally:
            con.unregister("_dg_back")


def read_exchanges(engine: SparkEngine, store: Store, parts_uri: str | None = None) -> None:
    """The store's `exchanges` on Spark, read from its Parquet parts where they lie (no export step).

    The same rows and `rowid`s as the store's view: the parts the catalog lists (a part file it does not
    list is uncommitted, and skipped) and the few rows of the delta table, which travel as Arrow.
    `parts_uri` is how the executors address the parts folder (e.g. `s3a://lake/store.duckdb.parts` for a
    bucket mounted on the driver); by default the folder's local path.
    """
    cols = [f.name for f in EXCHANGE_FIELDS]
    base = f"{parts_uri.rstrip('/')}/" if parts_uri else store.parts.resolve().as_uri() + "/"
    names = [p.name for p in store.part_files()]
    top = store.con.execute("SELECT coalesce(max(last_rid) + 1, 0) FROM exchange_parts").fetchall()[0][0]
    delta = store.con.sql(f"SELECT {', '.join(cols)}, {int(top)} + rowid AS rowid FROM {DELTA}").to_arrow_table()
    engine.register("dg_exchanges_delta", delta)
    df = engine.spark.table("dg_exchanges_delta")
    if names:
        parts = engine.spark.read.schema(_spark_schema(PART_SCHEMA)).parquet(*(base + n for n in names))
        df = parts.selectExpr(*cols, "_rid AS rowid").unionByName(df)
    engine.view("exchanges", df)


def relational(store: Store, engine: str = "duckdb", spark: SparkSettings | None = None) -> Any:
    """The connection-like object the relational stages run on: the store's connection, or a Spark engine
    fed from it (the slim tables shipped, `exchanges` read from the parts)."""
    if engine == "duckdb":
        return store.con
    if engine != "spark":
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    settings = spark or SparkSettings()
    sp = SparkEngine.start(settings)
    ship_to_spark(store.con, sp, stage=settings.stage, stage_uri=settings.stage_uri)
    read_exchanges(sp, store, settings.parts_uri)
    return sp
