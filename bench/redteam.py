"""Red-team probe: independent traffic generator (no `distillguard.simulate`) → detect → per-actor table.

Writes an exchange log (JSONL), accounts and labels built from real corpora with behaviours deliberately
unlike the simulator's: hard negatives (classroom homework, QA eval suite, browser-extension template,
research group on GSM8K) and campaigns (low-and-slow paraphrased harvesting, tool-use harvester,
network-blank aged accounts with a hidden shared regularity, benign-chat interleaving).

    .venv/bin/python bench/redteam.py [--seed N] [--work DIR] [--data ../shared/data] [--no-detect]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
csv.field_size_limit(1 << 24)
T0 = datetime(2026, 4, 22, tzinfo=UTC)
DAYS = 10
MODELS = ["gpt-4o", "gpt-4o-mini", "frontier-1", "frontier-1-mini"]
BROWSER_UA = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "OpenAI/Python 1.30.1", "OpenAI/NodeJS/4.47.1", "curl/8.5.0", "python-httpx/0.27.0",
]
EMAIL = ["gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "qq.com", "hotmail.com", "gmx.de"]
COUNTRY = ["US", "DE", "IN", "BR", "GB", "FR", "JP", "KR", "CA", "NG", "PL", "ES", "VN", "MX", "ID"]


# --- corpora -------------------------------------------------------------------------------------------

def _jl(path: Path) -> list[dict]:
    op = gzip.open if path.suffix == ".gz" else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


@dataclass
class Corpus:
    """Prompt pools loaded once from ../shared/data."""

    chats: list[list[str]]
    casual: list[str]
    personas: list[str]
    lowslow: list[str]
    tools: list[tuple[str, list[str], str]]
    gsm_train: list[str]
    gsm_test: list[str]
    code: list[str]
    homework: list[str]


def load(data: Path, rng: np.random.Generator) -> Corpus:
    """Read the corpora this probe uses (a bounded sample of ShareGPT)."""
    chats = []
    with gzip.open(data / "sharegpt_v3_partial/sharegpt_v3_human_turns.jsonl.gz", "rt") as f:
        for i, line in enumerate(f):
            if i >= 9000:
                break
            turns = [t["value"] for t in json.loads(line)["turns"] if t.get("from") == "human" and t.get("value")]
            turns = [t[:1500] for t in turns if 3 < len(t)]
            if turns:
                chats.append(turns[:8])
    ae = _jl(data / "alpaca_eval_instructions/alpaca_eval_instructions.jsonl")
    casual = [r["instruction"] for r in ae if r["dataset"] in ("oasst", "koala", "helpful_base")]
    with gzip.open(data / "awesome_chatgpt_prompts/prompts.csv.gz", "rt") as f:
        personas = [r["prompt"] for r in csv.DictReader(f) if r.get("prompt")]
    low = [r["Instruction"] for r in _jl(data / "wizardlm_evol_instruct_testset/WizardLM_testset.jsonl")]
    low += [t for r in _jl(data / "mt_bench/mt_bench_question.jsonl") for t in r["turns"][:1]]
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        for r in _jl(data / "alpaca_selfinstruct" / name):
            inp = (r.get("instances") or [{}])[0].get("input", "")
            low.append(r["instruction"] + (f"\n\n{inp}" if inp else ""))
    rp = _jl(data / "gpteacher_gpt4_distilled/roleplay_simple_deduped.jsonl.gz")
    low += [r["instruction"] + (f"\n{r['input']}" if r.get("input") else "") for r in rp[:1500]]
    tools = []
    for r in _jl(data / "glaive_function_calling_demo/glaive_toolcall_en_demo.jsonl.gz"):
        schema = json.loads(r["tools"]) if r.get("tools") else []
        q = next((c["value"] for c in r["conversations"] if c["from"] == "human"), "")
        if q and schema:
            tools.append((q, [s["name"] for s in schema], json.dumps(schema)))
    for g in ("G1", "G2", "G3"):
        for r in _jl(data / f"toolbench_example_queries/{g}_query.jsonl"):
            names = [f"{a['tool_name']}_{a['api_name']}".replace(" ", "_") for a in r["api_list"]][:8]
            tools.append((r["query"], names, json.dumps(r["api_list"][:8])))
    tf = _jl(data / "gpteacher_gpt4_distilled/toolformer_dedupe_only.jsonl.gz")
    for r in tf[:800]:
        tools.append((r["instruction"] + ("\n" + r["input"] if r.get("input") else ""), ["Calculator", "WikiSearch",
                      "Calendar", "MT"], ""))
    gtr = [r["question"] for r in _jl(data / "gsm8k/train.jsonl.gz")]
    gte = [r["question"] for r in _jl(data / "gsm8k/test.jsonl.gz")]
    code = [r["instruction"] + ("\n" + r["input"] if r.get("input") else "")
            for r in _jl(data / "gpteacher_gpt4_distilled/codegen_instruct.jsonl.gz")[:1500]]
    code += [r["prompt"] for r in _jl(data / "humaneval/HumanEval.jsonl.gz")]
    hw = [r["instruction"] for r in ae if r["dataset"] == "vicuna"]
    return Corpus(chats, casual, personas, low, tools, gtr, gte, code, hw)


# --- phrase banks (own wording; no chain-of-thought phrases) -------------------------------------------

LEAD = ["", "", "hey", "ok so", "Quick one", "Hi!", "Hello,", "Alright,", "New request:", "Next:", "Another one",
        "Hi there", "Morning!", "So,", "Right,", "one more"]
ASK = ["could you handle this", "can you do this for me", "I'd like a thorough answer to this", "respond to the "
       "following", "have a go at this", "what would you say here", "please take this on", "give me your best "
       "answer", "tackle this", "I'd love your take on this", "do your best with this", "help me out with this",
       "answer this as well as you can", "how would you respond", "I need a high-quality response"]
STYLE = ["", "", "", "Be comprehensive.", "Go into depth.", "Write it as an expert would.", "Don't hold back on "
         "detail.", "A complete answer please.", "Make it polished.", "Aim for a textbook-quality answer.",
         "Cover everything relevant.", "Long answers are fine."]
SIGN = ["", "", "", ":)", "cheers", "ty", "much appreciated", "thanks a lot", "🙏", "ta"]


def paraphrase(rng: np.random.Generator, payload: str) -> str:
    """Wrap a payload in a fresh casual instruction built from this probe's own phrase banks."""
    lead, ask = LEAD[int(rng.integers(len(LEAD)))], ASK[int(rng.integers(len(ASK)))]
    head = f"{lead} {ask}" if lead else ask[0].upper() + ask[1:]
    head += rng.choice([":", " -", "?", "...", ""])
    tail = " ".join(x for x in (STYLE[int(rng.integers(len(STYLE)))], SIGN[int(rng.integers(len(SIGN)))]) if x)
    sep = rng.choice(["\n\n", "\n", " "])
    parts = [head, payload, tail] if rng.random() < .7 else [payload, tail, "(" + head.rstrip(":?.- ") + ")"]
    return sep.join(p for p in parts if p)


# --- records -------------------------------------------------------------------------------------------

@dataclass
class Acct:
    """One account of the probe with its label and infrastructure."""

    account_id: str
    actor: str
    campaign: str = ""
    ips: list[str] = field(default_factory=list)
    ua: str = ""
    tz: int = 0
    org: str | None = None
    created: datetime = T0
    payment: str = ""
    email: str = "gmail.com"
    country: str = "US"


class Log:
    """Accumulates exchanges and accounts and writes the contract files."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.rows, self.accts, self.n = rng, [], [], 0

    def account(self, actor: str, campaign: str = "", **kw) -> Acct:
        """A new account with per-account plausible identity defaults."""
        r = self.rng
        aid = "u" + hashlib.sha1(f"{len(self.accts)}-{r.random()}".encode()).hexdigest()[:12]
        a = Acct(aid, actor, campaign, tz=int(r.integers(-8, 10)),
                 created=T0 - timedelta(days=float(r.uniform(1, 900))),
                 payment=hashlib.sha1(aid.encode()).hexdigest()[:16], email=str(r.choice(EMAIL)),
                 country=str(r.choice(COUNTRY)), ua=str(r.choice(BROWSER_UA)),
                 ips=[_res_ip(r) for _ in range(int(r.integers(1, 3)))])
        for k, v in kw.items():
            setattr(a, k, v)
        self.accts.append(a)
        return a

    def add(self, a: Acct, ts: datetime, messages: list[dict], tools: list[str] | None = None,
            params: dict | None = None, model: str | None = None, conv: str | None = None) -> None:
        """Append one exchange for account `a`."""
        r = self.rng
        self.n += 1
        ptoks = sum(len(m["content"] or "") for m in messages) // 4 + 5
        rec = {"request_id": f"rt-{self.n:08d}", "ts": ts.isoformat().replace("+00:00", "Z"),
               "account_id": a.account_id, "ip": r.choice(a.ips) if a.ips else "", "user_agent": a.ua,
               "model": model or MODELS[hash(a.account_id) % 2], "messages": messages,
               "prompt_tokens": ptoks, "completion_tokens": int(r.integers(40, 900)), "status": 200}
        if a.org:
            rec["org_id"] = a.org
        if tools:
            rec["tools"] = tools
        if params:
            rec["params"] = params
        if conv:
            rec["conversation_id"] = conv
        self.rows.append(rec)

    def write(self, work: Path) -> tuple[Path, Path, Path]:
        """Write exchanges.jsonl, accounts.jsonl and labels.csv into `work`."""
        work.mkdir(parents=True, exist_ok=True)
        self.rows.sort(key=lambda x: x["ts"])
        seen = {rec["account_id"] for rec in self.rows}
        self.accts = [a for a in self.accts if a.account_id in seen]  # labels: every account in the log
        log, acc, lab = work / "exchanges.jsonl", work / "accounts.jsonl", work / "labels.csv"
        with open(log, "wb") as f:
            for rec in self.rows:
                f.write(orjson.dumps(rec) + b"\n")
        with open(acc, "wb") as f:
            for a in self.accts:
                f.write(orjson.dumps({"account_id": a.account_id, "created_at": a.created.isoformat(),
                                      "email_domain": a.email, "payment_fingerprint": a.payment,
                                      "signup_ip": a.ips[0] if a.ips else "", "country": a.country,
                                      "verified": True, "tier": "pay-as-you-go"}) + b"\n")
        with open(lab, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["account_id", "campaign_id", "actor"])
            for a in self.accts:
                w.writerow([a.account_id, a.campaign, a.actor])
        return log, acc, lab


def _res_ip(r: np.random.Generator) -> str:
    return f"{int(r.integers(24, 223))}.{int(r.integers(0, 256))}.{int(r.integers(0, 256))}.{int(r.integers(1, 255))}"


def human_times(r: np.random.Generator, a: Acct, per_day: tuple[float, float], days: int = DAYS,
                p_active: float = .6) -> list[datetime]:
    """Session-shaped, diurnal request times in the account's time zone (local 08–24h, evening peak)."""
    out = []
    for d in range(days):
        if r.random() > p_active:
            continue
        n = max(1, int(r.uniform(*per_day)))
        while n > 0:
            hour = float(np.clip(r.normal(15.5, 4.0), 7.5, 23.9))
            t = T0 + timedelta(days=d, hours=hour - a.tz)
            k = min(n, int(r.integers(1, 9)))
            for _ in range(k):
                out.append(t)
                t += timedelta(seconds=float(r.gamma(2.0, 45.0)) + 8)
            n -= k
    return out


def user_msgs(text: str, system: str | None = None) -> list[dict]:
    """Chat messages for one user turn, optionally behind a system prompt."""
    m = [{"role": "system", "content": system}] if system else []
    return m + [{"role": "user", "content": text}]


def chat_session(log: Log, a: Acct, c: Corpus, times: list[datetime], system: str | None = None,
                 wrap: Callable[[str], str] | None = None) -> None:
    """Legitimate chatting: ShareGPT conversations turn by turn, alpaca_eval asks, persona prompts."""
    r, i = log.rng, 0
    while i < len(times):
        roll = r.random()
        if roll < .65:
            turns = c.chats[int(r.integers(len(c.chats)))]
        elif roll < .9:
            turns = [c.casual[int(r.integers(len(c.casual)))]]
        else:
            turns = [c.personas[int(r.integers(len(c.personas)))]] + [c.casual[int(r.integers(len(c.casual)))]]
        conv = f"c{r.integers(1 << 40):x}"
        hist: list[dict] = []
        for t in turns:
            if i >= len(times):
                break
            hist = hist + [{"role": "user", "content": wrap(t) if wrap else t}]
            log.add(a, times[i], ([{"role": "system", "content": system}] if system else []) + hist, conv=conv,
                    params={"temperature": 0.7} if r.random() < .3 else None)
            hist = (hist + [{"role": "assistant", "content": "(reply)"}])[-5:]
            i += 1


# --- actors --------------------------------------------------------------------------------------------

def legit(log: Log, c: Corpus, n: int) -> None:
    """Ordinary people: sparse diurnal sessions of real human prompts."""
    r = log.rng
    for _ in range(n):
        a = log.account("legit:casual")
        heavy = r.random() < .1
        chat_session(log, a, c, human_times(r, a, (5, 40) if heavy else (1, 8), p_active=.7 if heavy else .3))


def classroom(log: Log, c: Corpus, n: int = 40) -> None:
    """A class: every student pastes the same homework prompt in a 2-hour window from the campus NAT."""
    r = log.rng
    hw = c.homework[:3]
    for _ in range(n):
        a = log.account("legit:classroom", ips=[f"141.20.{int(r.integers(0, 4))}.{int(r.integers(1, 255))}"],
                        tz=2, email="uni-example.edu", country="DE")
        for k, task in enumerate(hw):
            t = T0 + timedelta(days=2 + 3 * k, hours=8 + float(r.uniform(0, 2)))
            log.add(a, t, user_msgs(task if r.random() < .7 else task + " " + str(r.choice(SIGN))))
            log.add(a, t + timedelta(minutes=float(r.uniform(2, 20))), user_msgs(
                str(r.choice(["can you make it shorter", "explain the second part again", "simpler please",
                              "now in bullet points", "thanks! can you add an example?"]))))
        chat_session(log, a, c, human_times(r, a, (1, 5), p_active=.3))


def qa_team(log: Log, c: Corpus, n: int = 12) -> None:
    """An enterprise QA team runs the same nightly eval suite (temperature 0, fixed seed) from many keys."""
    r = log.rng
    suite = [s for s in c.casual[:40]] + c.homework[:20]
    sysp = "You are Acme Support Bot. Answer politely and concisely. Never reveal internal policies."
    for i in range(n):
        a = log.account("legit:qa-team", org="org-acme", ips=[f"34.120.7.{10 + i}"], ua="acme-evalrunner/2.3",
                        email="acme.example", payment="acme-corp-card")
        for d in range(DAYS):
            if d % 7 in (5, 6):
                continue
            t = T0 + timedelta(days=d, hours=1 + float(r.uniform(0, 1)))
            for q in suite:
                log.add(a, t, user_msgs(q, sysp), params={"temperature": 0, "seed": 1234, "max_tokens": 512},
                        model="gpt-4o")
                t += timedelta(seconds=float(r.uniform(1.5, 4)))


def qa_coding(log: Log, c: Corpus, n: int = 8) -> None:
    """A second company's CI runs a HumanEval regression suite nightly, split over its team's keys."""
    r = log.rng
    he = [t for t in c.code if t.startswith(("from ", "import ", "def ", "\n"))][:164]
    accts = [log.account("legit:qa-coding", org="org-bitforge", ips=["18.200.31.9"], ua="bitforge-ci/1.8",
                         email="bitforge.example", payment="bitforge-card") for _ in range(n)]
    for d in range(DAYS):
        t = T0 + timedelta(days=d, hours=3 + float(r.uniform(0, .5)))
        for k, q in enumerate(he):
            log.add(accts[k % n], t, user_msgs("Complete this function. Reply with code only.\n\n" + q),
                    params={"temperature": 0, "max_tokens": 1024}, model="gpt-4o")
            t += timedelta(seconds=float(r.uniform(2, 6)))


def extension(log: Log, c: Corpus, n: int = 150) -> None:
    """A popular browser extension wraps every user's text in one fixed system prompt and template."""
    r = log.rng
    sysp = ("You are WriteMate, a writing assistant inside the user's browser. Improve or answer the user's "
            "text. Keep their language and tone. Output only the result.")
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 WriteMate/3.1.0"
    for _ in range(n):
        a = log.account("legit:extension", ua=ua)
        times = human_times(r, a, (2, 12), p_active=.5)
        for t in times:
            turns = c.chats[int(r.integers(len(c.chats)))]
            txt = turns[0][:1500]
            log.add(a, t, user_msgs(f"[Selected text]\n{txt}\n[/Selected text]\nAction: "
                                    f"{r.choice(['improve', 'answer', 'summarize', 'rephrase'])}", sysp),
                    params={"temperature": 0.4, "max_tokens": 800}, model="gpt-4o-mini")


def research(log: Log, c: Corpus, n: int = 5) -> None:
    """A research group runs the GSM8K test set through 5 accounts (few-shot harness, greedy)."""
    r = log.rng
    shots = "\n\n".join(f"Q: {q}\nA: (worked answer)" for q in c.gsm_train[:5])
    accts = [log.account("legit:research-gsm8k", org="org-unilab", ips=["130.88.4.17"],
                         ua="lm-eval-harness/0.4.2", email="lab.example.edu") for _ in range(n)]
    for k, q in enumerate(c.gsm_test):
        a = accts[k % n]
        t = T0 + timedelta(days=4, hours=14, seconds=k * 2.2)
        log.add(a, t, [{"role": "user", "content": f"{shots}\n\nQ: {q}\nA:"}],
                params={"temperature": 0, "max_tokens": 256})
    for a in accts:
        chat_session(log, a, c, human_times(r, a, (1, 6), p_active=.4))


def lowslow(log: Log, c: Corpus, n: int = 200) -> None:
    """(a) Low-and-slow: 10–30 req/day per account, human hours, fresh paraphrase per request, no CoT."""
    r = log.rng
    for _ in range(n):
        a = log.account("campaign:lowslow", "rt-lowslow")
        for t in human_times(r, a, (10, 30), p_active=.8):
            q = c.lowslow[int(r.integers(len(c.lowslow)))]
            log.add(a, t, user_msgs(paraphrase(r, q)), conv=f"c{r.integers(1 << 40):x}",
                    params={"temperature": 0.7} if r.random() < .3 else None)


def toolharvest(log: Log, c: Corpus, n: int = 60) -> None:
    """(b) Tool-use harvester: glaive/toolbench/toolformer queries with `tools` and their function schemas."""
    r = log.rng
    frames = ["You can call these functions:\n{s}", "Available tools (JSON schema):\n{s}\nCall one if useful.",
              "# Tools\n{s}", "Functions you may use -> {s}"]
    for i in range(n):
        a = log.account("campaign:toolharvest", "rt-tools", ips=[f"52.{14 + i % 3}.{int(r.integers(0, 256))}."
                        f"{int(r.integers(1, 255))}"], ua=str(r.choice(BROWSER_UA[4:])))
        for t in human_times(r, a, (20, 70), p_active=.7):
            q, names, schema = c.tools[int(r.integers(len(c.tools)))]
            sysp = str(r.choice(frames)).format(s=schema) if schema else None
            log.add(a, t, user_msgs(q, sysp), tools=names, params={"temperature": float(r.choice([0, .2, 1]))})


def blanknet(log: Log, c: Corpus, n: int = 80) -> None:
    """(c) Blank ip/user_agent, own payment, aged accounts; hidden regularity: one rare parameter set and
    each GSM8K train question asked exactly once across the whole campaign."""
    r = log.rng
    qs = list(c.gsm_train)
    r.shuffle(qs)
    accts = [log.account("campaign:blanknet", "rt-blank", ips=[], ua="",
                         created=T0 - timedelta(days=float(r.uniform(200, 700)))) for _ in range(n)]
    k = 0
    for a in accts:
        for t in human_times(r, a, (8, 20), p_active=.8):
            if k >= len(qs):
                break
            log.add(a, t, user_msgs(qs[k]), params={"temperature": 0.37, "top_p": 0.91, "max_tokens": 3072})
            k += 1


def interleaved(log: Log, c: Corpus, n: int = 50) -> None:
    """(d) Accounts that mostly chat benignly (70%) with extraction prompts (code, paraphrased) interleaved."""
    r = log.rng
    for _ in range(n):
        a = log.account("campaign:interleaved", "rt-mixed")
        times = human_times(r, a, (8, 25), p_active=.8)
        mask = r.random(len(times)) < .3
        chat_session(log, a, c, [t for t, m in zip(times, mask, strict=True) if not m])
        for t in (t for t, m in zip(times, mask, strict=True) if m):
            log.add(a, t, user_msgs(paraphrase(r, c.code[int(r.integers(len(c.code)))])))


ACTORS = [("legit", lambda log, c, s: legit(log, c, int(2000 * s))), ("classroom", classroom),
          ("qa", qa_team), ("qa-coding", qa_coding), ("extension", extension), ("research", research),
          ("lowslow", lowslow), ("tools", toolharvest), ("blank", blanknet), ("mixed", interleaved)]


# --- run -----------------------------------------------------------------------------------------------

def build(work: Path, seed: int, data: Path, scale: float = 1.0) -> tuple[Path, Path, Path]:
    """Generate the whole probe into `work`."""
    rng = np.random.default_rng(seed)
    c = load(data, rng)
    log = Log(rng)
    for name, fn in ACTORS:
        fn(log, c, scale) if name == "legit" else fn(log, c)
    return log.write(work)


def table(labels: Path, det: Path) -> list[tuple[str, int, int, float]]:
    """Per-actor (accounts, flagged, flagged share) from labels.csv and detect's accounts.csv."""
    with open(det / "accounts.csv") as f:
        flagged = {r["account_id"]: r["flagged"] == "true" for r in csv.DictReader(f)}
    agg: dict[str, list[int]] = {}
    with open(labels) as f:
        for r in csv.DictReader(f):
            x = agg.setdefault(r["actor"], [0, 0])
            x[0] += 1
            x[1] += flagged.get(r["account_id"], False)
    return [(k, n, m, m / n) for k, (n, m) in sorted(agg.items())]


def main() -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", type=Path, default=ROOT / "bench/out/redteam")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplier for the legitimate background")
    ap.add_argument("--no-detect", action="store_true")
    a = ap.parse_args()
    t = time.time()
    log, acc, lab = build(a.work, a.seed, a.data, a.scale)
    print(f"generated {sum(1 for _ in open(log))} exchanges in {time.time() - t:.1f}s -> {a.work}", flush=True)
    if a.no_detect:
        return
    exe = str(ROOT / ".venv/bin/distillguard")
    det = a.work / "detect"
    db = a.work / "store.duckdb"
    db.unlink(missing_ok=True)
    subprocess.run([exe, "ingest", str(log), "--accounts", str(acc), "--db", str(db)], check=True)
    t = time.time()
    subprocess.run([exe, "detect", "--db", str(db), "--out", str(det), "--quiet"], check=True)
    print(f"detect {time.time() - t:.1f}s", flush=True)
    subprocess.run([exe, "evaluate", "--labels", str(lab), str(det)], check=False)
    print(f"\n{'actor':28} {'accounts':>8} {'flagged':>8} {'rate':>7}  (recall for campaign:*, FPR for legit:*)")
    for actor, n, m, rate in table(lab, det):
        print(f"{actor:28} {n:8d} {m:8d} {rate:7.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
