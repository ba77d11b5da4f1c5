"""Small hand-built exchange logs with a known answer, for the detection tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

T0 = datetime(2026, 5, 1, tzinfo=UTC)
WORDS = ("garden river kitchen window travel budget recipe weekend letter meeting poem story music guitar "
         "holiday birthday camera jacket coffee bicycle mountain school lesson history planet ocean forest "
         "market dinner friend sister brother teacher doctor movie novel painting weather summer winter spring "
         "autumn castle village island bridge harbor museum library concert festival journey airport train "
         "ticket hotel beach sunset morning evening question answer advice idea plan project review").split()
QUESTIONS = ("a farmer has {a} cows and buys {b} more, then sells {c}; how many remain",
             "a train travels {a} km in {b} hours; what is its average speed in km per hour",
             "if {a} workers build a wall in {b} days, how long do {c} workers need",
             "a shop sells pens at {a} cents each; how much do {b} pens cost after a {c} percent discount",
             "find the remainder when {a} to the power {b} is divided by {c}",
             "a tank fills at {a} litres per minute and drains at {b}; when is a {c} litre tank full")
WRAPPERS = ("Solve the following problem. Think step by step and show all of your reasoning before the final "
            "answer.\n\n{q}?\n\nEnd with 'Final answer:' and the number.",
            "You are a meticulous tutor. Work through this carefully, explaining each step of your reasoning.\n\n"
            "{q}?\n\nGive the final answer on its own line.")


def _rec(rid: str, ts: datetime, account: str, text: str, *, ip: str = "", ua: str = "",
         history: list[dict[str, str]] | None = None, system: str | None = None,
         params: dict[str, Any] | None = None) -> dict[str, Any]:
    messages = ([{"role": "system", "content": system}] if system else []) + (history or [])
    messages.append({"role": "user", "content": text})
    return {"request_id": rid, "ts": ts.isoformat().replace("+00:00", "Z"), "account_id": account, "ip": ip,
            "user_agent": ua, "model": "frontier-1", "messages": messages, "params": params or {},
            "prompt_tokens": 40 + len(text) // 4, "completion_tokens": 300}


def legit_users(n: int, per_account: int = 20, seed: int = 0, ip_pool: int = 0) -> list[dict[str, Any]]:
    """Casual users: varied multi-turn chat at daytime hours, each prompt unique."""
    rng = random.Random(seed)
    out = []
    for u in range(n):
        acc = f"user-{u:03d}"
        ip = f"10.0.{u % ip_pool}.1" if ip_pool else f"198.51.{u // 200}.{u % 200}"
        day = rng.randrange(0, 10)
        for i in range(per_account):
            ts = T0 + timedelta(days=day + i // 5, hours=9 + rng.random() * 10, seconds=rng.random() * 60)
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 16))).capitalize() + "?"
            hist = [{"role": "user", "content": "tell me about " + rng.choice(WORDS)},
                    {"role": "assistant", "content": "Sure."}] if i % 2 else None
            out.append(_rec(f"{acc}-{i}", ts, acc, text, ip=ip, ua="Mozilla/5.0", history=hist,
                            params={"temperature": 0.7}))
    return out


def campaign(n: int, per_account: int = 30, seed: int = 1, prefix: str = "camp", ip: bool = True,
             start_day: int = 0) -> list[dict[str, Any]]:
    """An extraction campaign: a few wrappers around varied reasoning questions, CoT, long max_tokens."""
    rng = random.Random(seed)
    out = []
    for a in range(n):
        acc = f"{prefix}-{a:03d}"
        for i in range(per_account):
            ts = T0 + timedelta(days=start_day, hours=rng.random() * 48)
            q = rng.choice(QUESTIONS).format(a=rng.randrange(2, 999), b=rng.randrange(2, 99), c=rng.randrange(2, 50))
            q = q + " " + " ".join(rng.choice(WORDS) for _ in range(3))
            text = rng.choice(WRAPPERS).format(q=q.capitalize())
            out.append(_rec(f"{acc}-{i}", ts, acc, text, ip=f"203.0.113.{a}" if ip else "",
                            ua="python-httpx/0.27" if ip else "", params={"temperature": 0.2, "max_tokens": 8192}))
    return out


def batch_integration(per_account: int = 200, seed: int = 2) -> list[dict[str, Any]]:
    """One company account: a fixed classification template around the clock."""
    rng = random.Random(seed)
    out = []
    for i in range(per_account):
        ts = T0 + timedelta(minutes=7 * i)
        review = " ".join(rng.choice(WORDS) for _ in range(12))
        text = f'Classify the sentiment of this review as positive, negative or neutral.\nReview: "{review}"'
        out.append(_rec(f"batch-{i}", ts, "batch-000", text, ip="192.0.2.10", ua="acme-etl/2.1",
                        system="You label customer reviews.", params={"temperature": 0, "max_tokens": 5}))
    return out


def write_jsonl(records: list[dict[str, Any]], path: Path) -> Path:
    """Write records as JSON Lines."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def scrub_network(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same records with `ip` and `user_agent` blanked."""
    return [{**r, "ip": "", "user_agent": ""} for r in records]


@contextmanager
def prepared_store(records: list[dict[str, Any]], tmp_path: Path, accounts_csv: str | None = None) -> Iterator[Any]:
    """An in-memory store holding `records` (and accounts), with detection's per-exchange tables built."""
    from distillguard.detection import features
    from distillguard.ingest import ingest_accounts, ingest_logs
    from distillguard.store import Store

    log = write_jsonl(records, tmp_path / "log.jsonl")
    with Store.open(":memory:") as store:
        if accounts_csv:
            (tmp_path / "acc.csv").write_text(accounts_csv)
            ingest_accounts(store, tmp_path / "acc.csv")
        ingest_logs(store, [log])
        features.prepare(store.con)
        yield store


def task_pool(n: int, seed: int = 3) -> list[str]:
    """`n` distinct reasoning tasks, each ending in words of its own (its normalised end is its own)."""
    rng = random.Random(seed)
    return [rng.choice(QUESTIONS).format(a=rng.randrange(2, 999), b=rng.randrange(2, 99), c=rng.randrange(2, 50))
            + ", for the " + " ".join(rng.sample(WORDS, 4)) + "?" for _ in range(n)]


def own_wording(rng: random.Random) -> str:
    """A reasoning request in words of one account's own, before `{q}`."""
    a, b, c, d = rng.sample(WORDS, 4)
    tag = rng.choice(("think", "reasoning", "scratchpad", "analysis", "thought"))
    return rng.choice((f"{a.title()} {b}. Show all of your working inside <{tag}> tags first.\n\n{{q}}",
                       f"Before answering write every intermediate step between <{tag}> and </{tag}> ({c}).\n{{q}}",
                       f"[{d}] Reason it through step by step; keep the whole chain of thought. Task: {{q}}",
                       f"{c.title()} {a} {b}\nExplain your reasoning in full, then the answer.\n\n{{q}}",
                       f"Think aloud in <{tag}>, leaving nothing out, {d} style -- {{q}}"))


def pool_campaign(n: int, pool: list[str], per_account: int = 24, days: int = 14, seed: int = 4,
                  prefix: str = "pool") -> list[dict[str, Any]]:
    """An operator drawing tasks from one pool through accounts that each word the request their own way,
    day after day, on no shared network: no wrapper, address or client in common."""
    rng = random.Random(seed)
    out = []
    for a in range(n):
        acc, wording = f"{prefix}-{a:03d}", own_wording(rng)
        for i, q in enumerate(rng.sample(pool, per_account)):
            ts = T0 + timedelta(days=i * days / per_account, hours=rng.random() * 20)
            out.append(_rec(f"{acc}-{i}", ts, acc, wording.format(q=q[0].upper() + q[1:]),
                            params={"temperature": round(rng.uniform(0.2, 1.0), 1), "max_tokens": 8192}))
    return out


def benchmark_runs(n: int, pool: list[str], seed: int = 5, prefix: str = "bench") -> list[dict[str, Any]]:
    """Researchers each running the same public benchmark once, through a harness worded their own way, in
    one burst."""
    rng = random.Random(seed)
    out = []
    for a in range(n):
        acc, wording, day = f"{prefix}-{a:03d}", own_wording(rng), rng.randrange(0, 12)
        for i, q in enumerate(pool):
            ts = T0 + timedelta(days=day, minutes=2 * i + rng.random())
            out.append(_rec(f"{acc}-{i}", ts, acc, wording.format(q=q[0].upper() + q[1:]),
                            params={"temperature": 0, "max_tokens": 1024}))
    return out


# an operator's bank of system-prompt sentences (a role, a demand, a closing line) and developers' own prompts
ROLES = ("You are a meticulous assistant for quantitative questions.", "Act as an expert tutor who never skips a step.",
         "You are a senior engineer and a patient teacher.", "You help a student prepare for olympiad problems.",
         "You are a precise technical writer with a love of detail.")
DEMANDS = ("Lay out the full derivation before the result.", "Explain how you get from each line to the next.",
           "Write the complete solution path, including checks.", "Every number you use should be justified.")
CLOSINGS = ("End with the answer on a line of its own.", "Finish with a one sentence summary of the method.",
            "Close by restating the question and its answer.")


def banked_campaign(n: int, pool: list[str], per_account: int = 20, seed: int = 6,
                    prefix: str = "bank") -> list[dict[str, Any]]:
    """An operator walking disjoint slices of one dataset, each account under standing instructions of its own
    composed from one bank of sentences — in the system prompt, or (every third account) at the head of each
    user message: no two accounts share a task, a wrapper or a whole prompt."""
    rng = random.Random(seed)
    out = []
    for a in range(n):
        acc = f"{prefix}-{a:03d}"
        system = " ".join((rng.choice(ROLES), rng.choice(DEMANDS), rng.choice(CLOSINGS)))
        for i, q in enumerate(pool[a * per_account:(a + 1) * per_account]):
            ts = T0 + timedelta(days=i * 14 / per_account, hours=rng.random() * 20)
            text, own = q[0].upper() + q[1:], system
            if a % 3 == 2:
                text, own = f"{system}\n\n{text}", None
            out.append(_rec(f"{acc}-{i}", ts, acc, text, system=own, params={"temperature": 0.3, "max_tokens": 4096}))
    return out


def prompt_developers(n: int, per_account: int = 20, seed: int = 7, prefix: str = "dev") -> list[dict[str, Any]]:
    """Developers each sending a system prompt of their own — their product, their rules — that shares one
    generic line with the others' ("Be concise ...")."""
    rng = random.Random(seed)
    out = []
    own = rng.sample(WORDS, 3 * n)   # each developer's product, topic and rule words are its own
    for a in range(n):
        acc = f"{prefix}-{a:03d}"
        product, topic, rule = own[3 * a:3 * a + 3]
        system = (f"You are the assistant inside the {product.title()} app for {topic} lovers. "
                  f"Always mention the {rule} policy when it applies to the question. Be concise and accurate.")
        for i in range(per_account):
            ts = T0 + timedelta(days=rng.randrange(0, 14), hours=9 + rng.random() * 9)
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 16))).capitalize() + "?"
            out.append(_rec(f"{acc}-{i}", ts, acc, text, system=system, params={"temperature": 0.7}))
    return out
