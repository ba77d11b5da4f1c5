"""The simulation loop: actors emit index columns day by day; the day is sorted by time and turned into
contract rows in bulk (Arrow take/join), streamed to Parquet parts. Memory stays bounded by one day.
"""

from __future__ import annotations

import csv
import json
import queue
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import UsageError
from ..schema import ACCOUNT_SCHEMA, EXCHANGE_SCHEMA, MESSAGE_TYPE, TS_TYPE
from . import identity as ident
from .actor import COLUMNS, DAY_US, Actor, DayCtx, Release
from .campaigns import Distributed, Hydra, Mimicry, Naive
from .corpora import Corpora
from .population import BatchIntegration, BenchmarkRunner, Casual, Developer, EnterpriseTeam, NatCohort, PowerUser
from .scenarios import Scenario
from .timing import ClientCurves, completion_tokens
from .world import World

KINDS: dict[str, type[Actor]] = {
    "casual": Casual, "developer": Developer, "power-user": PowerUser, "batch-integration": BatchIntegration,
    "benchmark-runner": BenchmarkRunner, "nat-cohort": NatCohort, "enterprise-team": EnterpriseTeam,
    "naive": Naive, "distributed": Distributed, "mimicry": Mimicry, "hydra": Hydra,
}
GROUP_ARG = {"batch-integration": "orgs", "enterprise-team": "teams", "nat-cohort": "cohorts"}
CHUNK_ROWS = 1 << 17
PART_ROWS = 1 << 22
STATS_COLUMNS = ["ts", "account_id", "model", "status", "prompt_tokens", "completion_tokens"]
DICT_COLUMNS = ["account_id", "api_key_id", "org_id", "ip", "user_agent", "model", "endpoint", "params",
                "tools.list.element", "status"]
ROLES = pa.array(["system", "user", "assistant"])
ROLE_OF_SLOT = np.array([0, 1, 2, 1, 2, 1], dtype=np.int64)  # sys, hu0, ha0, hu1, ha1, user


@dataclass(frozen=True)
class ActorStats:
    """What one actor produced."""

    label: str
    campaign: str
    kind: str
    accounts: int  # accounts with at least one exchange
    exchanges: int
    account_days: int  # Σ over accounts of days from first to last exchange (inclusive)

    @property
    def per_account_day(self) -> float:
        """Exchanges per account per day of its active span."""
        return self.exchanges / self.account_days if self.account_days else 0.0


@dataclass(frozen=True)
class SimulationResult:
    """The outcome of a run: where the files are (None for a dry run) and per-actor counts."""

    scenario: str
    seed: int
    scale: float
    out: Path | None
    exchanges: int
    accounts: int
    actors: tuple[ActorStats, ...]
    files: tuple[Path, ...]
    writer_cpu_s: float = 0.0  # CPU time of the Parquet writer thread (the rest is generation)


def build_world(scenario: Scenario, seed: int, corpora: Corpora) -> tuple[World, list[Actor]]:
    """Create the shared tables and every actor (with its accounts) of a scenario."""
    world = World(corpora=corpora, seed=seed, curves=ClientCurves.from_corpora(corpora))
    start = scenario.start_us()
    if scenario.release_model:
        at = datetime.fromisoformat(scenario.release_at)
        world.release = Release(scenario.release_model, int(at.timestamp() * 1e6))
        world.model(scenario.release_model)
    for m in ("nova-pro", "nova-lite", "nova-reason", "nova-code"):
        world.model(m)
    actors: list[Actor] = []
    for serial, spec in enumerate(scenario.actors):
        cls = KINDS.get(spec.kind)
        if cls is None:
            raise UsageError(f"scenario {scenario.name}: unknown actor kind {spec.kind!r}; known: {', '.join(KINDS)}")
        kw: dict[str, object] = dict(spec.options)
        if spec.kind in GROUP_ARG:
            kw[GROUP_ARG[spec.kind]] = spec.groups or 1
        if spec.campaign:
            kw["campaign"] = spec.campaign
            kw["capabilities"] = spec.capabilities
        rng = np.random.default_rng([seed, 1, serial])
        actors.append(cls(world, serial, rng, spec.accounts, spec.rate, start, scenario.days, **kw))  # type: ignore[call-arg]
    return world, actors


def simulate(scenario: Scenario, scale: float, seed: int, corpora: Corpora, out: str | Path | None,
             completions: str = "auto", on_day: Callable[[int, int], None] | None = None) -> SimulationResult:
    """Generate a scenario (scaled) with ground truth into `out`; `out=None` only counts (for --describe)."""
    if completions not in ("auto", "none", "synthetic"):
        raise UsageError(f"--completions must be none, synthetic or auto, got {completions!r}")
    sc = scenario.scaled(scale)
    world, actors = build_world(sc, seed, corpora)
    tables = _Tables(world, seed) if out is not None else None
    n_acc = world.n_accounts
    count = np.zeros(n_acc, np.int64)
    first = np.full(n_acc, 1 << 30, np.int64)
    last = np.full(n_acc, -1, np.int64)
    synthetic = completions == "synthetic" or (completions == "auto" and sc.rough_exchanges() <= 2_000_000)
    writer = _PartWriter(Path(out)) if out is not None else None
    # the contract rows of a day are built on a thread of their own while the next day is generated (one
    # worker: chunks are built in order, so each day's generator draws as before and the output is the same)
    builder = ThreadPoolExecutor(1, thread_name_prefix="simulate-rows")
    start = sc.start_us()
    row = 0
    for d in range(sc.days):
        ctx = DayCtx(d, start + d * DAY_US, (datetime.fromtimestamp((start + d * DAY_US) / 1e6, UTC).weekday()),
                     world.release)
        parts = [a.day(ctx, np.random.default_rng([seed, 2, a.serial, d])) for a in actors]
        parts = [p for p in parts if p is not None and len(p["acct"])]
        if not parts:
            continue
        ev = {k: np.concatenate([p[k] for p in parts]) for k in COLUMNS}
        order = np.lexsort((ev["acct"], ev["ts"]))
        ev = {k: v[order] for k, v in ev.items()}
        n = len(order)
        count += np.bincount(ev["acct"], minlength=n_acc)
        seen = np.unique(ev["acct"])
        first[seen] = np.minimum(first[seen], d)
        last[seen] = np.maximum(last[seen], d)
        if writer is not None and tables is not None:
            rng = np.random.default_rng([seed, 3, d])
            for lo in range(0, n, CHUNK_ROWS):
                sl = {k: v[lo:lo + CHUNK_ROWS] for k, v in ev.items()}
                writer.write(builder.submit(tables.rows, sl, row, rng, synthetic))
                row += len(sl["acct"])
        else:
            row += n
        if on_day:
            on_day(d, row)
    files: tuple[Path, ...] = ()
    builder.shutdown()
    if writer is not None and tables is not None:
        files = writer.close()
        _write_accounts(Path(out), world, tables, count)  # type: ignore[arg-type]
    stats = _stats(sc, world, actors, count, first, last)
    result = SimulationResult(sc.name, seed, scale, Path(out) if out is not None else None, int(count.sum()),
                              int((count > 0).sum()), stats, files, writer.cpu_s if writer is not None else 0.0)
    if out is not None:
        _write_scenario(Path(out), sc, result, corpora)
    return result


def _stats(sc: Scenario, world: World, actors: list[Actor], count: np.ndarray, first: np.ndarray,
           last: np.ndarray) -> tuple[ActorStats, ...]:
    out = []
    for spec, a in zip(sc.actors, actors, strict=True):
        b = a.block
        c = count[b.offset:b.offset + b.n]
        live = c > 0
        span = (last[b.offset:b.offset + b.n] - first[b.offset:b.offset + b.n] + 1)[live]
        out.append(ActorStats(a.label, a.campaign, spec.kind, int(live.sum()), int(c.sum()), int(span.sum())))
    return tuple(out)


class _Tables:
    """Arrow versions of the world's tables, for bulk `take`."""

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.salt = int(ident.mix64(np.array([seed], np.uint64), 0x5EED)[0])
        self.texts = pa.array(world.texts, pa.string())
        self.text_len = pc.utf8_length(self.texts).to_numpy(zero_copy_only=False).astype(np.int64)
        acct_n = np.arange(world.n_accounts, dtype=np.uint64)
        self.account_ids = _strings(ident.b62_ids(acct_n, self.salt, "user-", 24))
        self.key_ids = _strings(ident.b62_ids(np.arange(world.n_keys, dtype=np.uint64), self.salt ^ 1, "key-", 20))
        org_ids = _strings(ident.b62_ids(np.arange(max(world.n_orgs, 1), dtype=np.uint64), self.salt ^ 2, "org-", 24))
        acct_org = np.concatenate([b.org for b in world.blocks]) if world.blocks else np.zeros(0, np.int64)
        self.acct_org = org_ids.take(pa.array(np.maximum(acct_org, 0), mask=acct_org < 0))
        self.ips = pa.array(ident.ip_strings(np.array(world.ips, np.uint32), np.array(world.ip_v6, bool)), pa.string())
        self.uas = pa.array(world.uas, pa.string())
        self.models = pa.array(world.models, pa.string())
        self.params = pa.array(world.params.strings, pa.string())
        self.max_tokens = np.array(world.params.max_tokens + [0], np.int64)
        self.tools = pa.array(world.tools or [[]], pa.list_(pa.string()))
        self.replies = world.pool("replies", world.corpora.replies)

    def rows(self, ev: dict[str, np.ndarray], row0: int, rng: np.random.Generator, synthetic: bool) -> pa.Table:
        """Contract rows (EXCHANGE_SCHEMA) for a slice of sorted events."""
        n = len(ev["acct"])
        counter = np.arange(row0, row0 + n, dtype=np.uint64)
        req = _strings(ident.hex_ids(counter, self.salt ^ 3, "req_", 32))
        acct = pa.array(ev["acct"])
        # messages: up to six slots per exchange, flattened row-major
        slots = np.stack([ev["sys"], ev["hu0"], ev["ha0"], ev["hu1"], ev["ha1"], ev["body"]], axis=1)
        mask = slots >= 0
        per = mask.sum(axis=1)
        r, c = np.nonzero(mask)
        body = slots[r, c]
        # the last user turn is wrapper prefix + item + suffix; earlier turns are taken as they are (text 0 is
        # empty): one gather of every message's text and one join, so each text is copied twice, not four times
        is_user = c == 5
        pre = np.where(is_user, ev["pre"][r], 0)
        suf = np.where(is_user, ev["suf"][r], 0)
        content = pc.binary_join_element_wise(self.texts.take(pa.array(pre)), self.texts.take(pa.array(body)),
                                              self.texts.take(pa.array(suf)), "")
        msgs = pa.StructArray.from_arrays([ROLES.take(pa.array(ROLE_OF_SLOT[c])), content],
                                          fields=list(MESSAGE_TYPE))
        offsets = np.zeros(n + 1, np.int32)
        np.cumsum(per, out=offsets[1:])
        messages = pa.ListArray.from_arrays(pa.array(offsets), msgs)
        chars = np.bincount(r, weights=self.text_len[pre] + self.text_len[body] + self.text_len[suf], minlength=n)
        prompt_tokens = (np.ceil(chars / 3.9) + 4 * per + 3).astype(np.int64)
        ctoks = completion_tokens(rng, self.world.corpora, ev["kind"])
        cap = self.max_tokens[ev["params"]]
        ctoks = np.where(cap > 0, np.minimum(ctoks, cap), ctoks)
        ok = ev["status"] == 200
        ctoks = np.where(ok, ctoks, 0)
        tools = self.tools.take(pa.array(np.maximum(ev["tools"], 0), mask=ev["tools"] < 0))
        conv = ev["conv"]
        has = np.flatnonzero(conv >= 0)
        uu = _strings(ident.uuid_ids(conv[has].astype(np.uint64), self.salt ^ 4))
        pos = np.full(n, -1, np.int64)
        pos[has] = np.arange(len(has))
        conv_ids = uu.take(pa.array(np.maximum(pos, 0), mask=pos < 0))
        if synthetic:
            rep = self.replies[(ev["body"] * 2654435761 + ev["ts"] // 1_000_000 % 3) % len(self.replies)]
            completion = pc.if_else(pa.array(ok), self.texts.take(pa.array(rep)), pa.nulls(n, pa.string()))
        else:
            completion = pa.nulls(n, pa.string())
        cols = {
            "request_id": req,
            "ts": pa.array(ev["ts"], TS_TYPE),
            "account_id": self.account_ids.take(acct),
            "api_key_id": self.key_ids.take(pa.array(ev["key"])),
            "org_id": self.acct_org.take(acct),
            "ip": self.ips.take(pa.array(ev["ip"])),
            "user_agent": self.uas.take(pa.array(ev["ua"])),
            "model": self.models.take(pa.array(ev["model"].astype(np.int64))),
            "endpoint": pa.array(np.full(n, "/v1/chat/completions", object), pa.string()),
            "messages": messages,
            "prompt": pa.nulls(n, pa.string()),
            "tools": tools,
            "params": self.params.take(pa.array(ev["params"].astype(np.int64))),
            "completion": completion,
            "prompt_tokens": pa.array(prompt_tokens),
            "completion_tokens": pa.array(ctoks.astype(np.int64)),
            "status": pa.array(ev["status"].astype(np.int32)),
            "conversation_id": conv_ids,
        }
        return pa.Table.from_arrays([cols[f.name] for f in EXCHANGE_SCHEMA], schema=EXCHANGE_SCHEMA)


def _strings(b: np.ndarray) -> pa.Array:
    return pa.array(b, pa.binary()).cast(pa.string())


class _PartWriter:
    """Parquet parts under OUT/exchanges.parquet/; a single part becomes the file OUT/exchanges.parquet."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.folder = out / "exchanges.parquet"
        if self.folder.is_dir():
            shutil.rmtree(self.folder)
        elif self.folder.exists():
            self.folder.unlink()
        self.folder.mkdir()
        self.parts: list[Path] = []
        self.writer: pq.ParquetWriter | None = None
        self.rows_in_part = 0
        self.error: BaseException | None = None
        self.cpu_s = 0.0
        self.queue: queue.Queue[Future[pa.Table] | None] = queue.Queue(maxsize=2)
        self.thread = threading.Thread(target=self._run, name="parquet-writer", daemon=True)
        self.thread.start()

    def write(self, table: Future[pa.Table]) -> None:
        """Queue rows (being built) for the writer thread (Parquet encoding overlaps generation; Arrow drops
        the GIL)."""
        if self.error is not None:
            raise self.error
        self.queue.put(table)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            try:
                table = item.result()
                t0 = time.thread_time()
                self._write(table)
                self.cpu_s += time.thread_time() - t0
            except BaseException as e:  # surfaced in the main thread by write()/close()
                self.error = e
                return

    def _write(self, table: pa.Table) -> None:
        if self.writer is None or self.rows_in_part >= PART_ROWS:
            if self.writer is not None:
                self.writer.close()
            path = self.folder / f"part-{len(self.parts):05d}.parquet"
            self.parts.append(path)
            # dictionary-encode the low-cardinality columns only: hashing prompt texts costs more than it saves
            self.writer = pq.ParquetWriter(path, EXCHANGE_SCHEMA, compression="zstd", compression_level=1,
                                           use_dictionary=DICT_COLUMNS, write_statistics=STATS_COLUMNS)
            self.rows_in_part = 0
        self.writer.write_table(table, row_group_size=CHUNK_ROWS)
        self.rows_in_part += table.num_rows

    def close(self) -> tuple[Path, ...]:
        """Finish the parts; return the written files."""
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        if self.writer is not None:
            self.writer.close()
        if len(self.parts) <= 1:
            tmp = self.out / "exchanges.parquet.tmp"
            if self.parts:
                self.parts[0].rename(tmp)
            else:
                pq.write_table(EXCHANGE_SCHEMA.empty_table(), tmp)
            self.folder.rmdir()
            tmp.rename(self.folder)
            return (self.folder,)
        return tuple(self.parts)


def _write_accounts(out: Path, world: World, tables: _Tables, count: np.ndarray) -> None:
    """accounts.parquet and labels.csv for every account that appears in the log, sorted by id."""
    live = np.flatnonzero(count > 0)
    cat = {k: np.concatenate([getattr(b, k) for b in world.blocks]) for k in
           ("created_us", "email", "payment", "signup_ip", "country", "verified", "tier", "campaign")}
    actor = np.concatenate([np.full(b.n, b.actor, dtype=object) for b in world.blocks])
    ids = tables.account_ids.take(pa.array(live))
    order = pc.sort_indices(ids).to_numpy()
    live = live[order]
    ids = ids.take(pa.array(order))
    pay = cat["payment"][live]
    pay_ids = _strings(ident.hex_ids(np.maximum(pay, 0).astype(np.uint64), tables.salt ^ 5, "pf_", 24))
    accounts = pa.Table.from_arrays([
        ids,
        pa.array(cat["created_us"][live], TS_TYPE),
        pa.array(cat["email"][live].tolist(), pa.string()),
        pc.if_else(pa.array(pay >= 0), pay_ids, pa.nulls(len(live), pa.string())),
        tables.ips.take(pa.array(cat["signup_ip"][live])),
        pa.array(np.array(ident.COUNTRIES, object)[cat["country"][live]].tolist(), pa.string()),
        pa.array(cat["verified"][live].astype(bool)),
        pa.array(cat["tier"][live].tolist(), pa.string()),
    ], schema=ACCOUNT_SCHEMA)
    pq.write_table(accounts, out / "accounts.parquet", compression="zstd")
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["account_id", "campaign_id", "actor"])
        w.writerows(zip(ids.to_pylist(), cat["campaign"][live].tolist(), actor[live].tolist(), strict=True))


def _write_scenario(out: Path, sc: Scenario, result: SimulationResult, corpora: Corpora) -> None:
    doc = {
        "scenario": sc.name, "description": sc.description, "seed": result.seed, "scale": result.scale,
        "start": sc.start, "days": sc.days, "release_model": sc.release_model or None,
        "release_at": sc.release_at or None, "corpora": corpora.root.name,
        "exchanges": result.exchanges, "accounts": result.accounts,
        "actors": [{"kind": spec.kind, "label": st.label, "campaign_id": st.campaign or None,
                    "accounts_configured": spec.accounts, "target_rate": spec.rate, "groups": spec.groups,
                    "capabilities": spec.capabilities, "options": {k: list(v) if isinstance(v, tuple) else v
                                                                   for k, v in spec.options.items()},
                    "accounts": st.accounts, "exchanges": st.exchanges,
                    "exchanges_per_account_day": round(st.per_account_day, 3)}
                   for spec, st in zip(sc.actors, result.actors, strict=True)],
        "files": [str(p.relative_to(out)) for p in result.files],
    }
    (out / "scenario.json").write_text(json.dumps(doc, indent=2) + "\n")
