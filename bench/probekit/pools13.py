"""Round-13 pools: the round-1 corpora plus the parts of the shared corpora earlier rounds leave unread.

Read at run time from the shared data folder (nothing copied into the tree). Extra over `corpora.load`:
the ShareGPT conversations after the first 12,000 records (`tail`: real users no earlier round replays),
the self-instruct user-oriented tasks with the app that motivated them, GSM8K's Socratic split as
(question, sub-steps, final), and per-skill WizardLM items.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from probekit.corpora import Corpora, Item, load


@dataclass
class Pools13:
    """Every pool round 13 draws on."""

    c: Corpora
    tail: list[tuple[list[str], list[int]]]  # ShareGPT conversations 12,000+ (user turns, reply lengths)
    tail_code: list[str]  # coding questions among the tail's first turns
    oriented: list[tuple[str, Item]]  # (motivating app, task with its reference output)
    socratic: list[tuple[str, list[tuple[str, str]], str]]
    wiz: dict[str, list[str]]


def _jl(path: Path) -> list[dict]:
    op = gzip.open if path.suffix == ".gz" else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


CODE_RE = re.compile(r"```|\bdef |\bfunction\b|\bclass \b|\bpython\b|\bjavascript\b|\btypescript\b|\bSQL\b|"
                     r"\bTraceback\b|\bcompile\b|\breact\b|\bjava\b|\bbash\b|\bdocker\b", re.I)


def load13(data: Path, skip: int = 12000) -> Pools13:
    """Read the round-1 pools and the round-13 extras."""
    c = load(data)
    tail = []
    with gzip.open(data / "sharegpt_v3_partial/sharegpt_v3_human_turns.jsonl.gz", "rt") as f:
        for i, line in enumerate(f):
            if i < skip:
                continue
            turns, lens = [], []
            for t in json.loads(line)["turns"]:
                v = t.get("value")
                if t.get("from") in ("human", "user") and v and len(v) > 3:
                    turns.append(v if len(v) <= 1600 else v[:1600].rsplit(" ", 1)[0])
                elif t.get("from") in ("gpt", "chatgpt") and turns and len(lens) < len(turns):
                    lens.append(int(t.get("n_chars") or 700))
            lens += [700] * (len(turns) - len(lens))
            if turns:
                tail.append((turns[:10], lens[:10]))
    tail_code = [t[0] for t, _ in tail if CODE_RE.search(t[0]) and len(t[0]) > 40]
    oriented = []
    for rec in _jl(data / "alpaca_selfinstruct/user_oriented_instructions.jsonl"):
        inst = (rec.get("instances") or [{}])[0]
        inp = inst.get("input", "")
        oriented.append((rec.get("motivation_app", ""), Item(rec["instruction"] + (f"\n\n{inp}" if inp else ""),
                                                             inst.get("output", "")[:1500])))
    soc = []
    for rec in _jl(data / "gsm8k/test_socratic.jsonl.gz"):
        body, _, final = rec["answer"].partition("####")
        steps = []
        for ln in body.strip().splitlines():
            q, sep, a = ln.partition(" ** ")
            if sep:
                steps.append((q.strip(), re.sub(r"<<[^>]*>>", "", a).strip()))
        if steps:
            soc.append((rec["question"], steps, final.strip()))
    wiz: dict[str, list[str]] = {}
    for rec in _jl(data / "wizardlm_evol_instruct_testset/WizardLM_testset.jsonl"):
        wiz.setdefault(rec["Skill"], []).append(rec["Instruction"])
    return Pools13(c, tail, tail_code, oriented, soc, wiz)


def filler(r: random.Random, p: Pools13, n: int, at_least: int) -> str:
    """About n characters (at least `at_least`) of assistant-like prose (corpus answers), for replies whose
    text is not known."""
    out, size = [], 0
    while size < n:
        s = r.choice(p.c.general_answers)
        out.append(s)
        size += len(s) + 2
    return "\n\n".join(out)[: max(at_least, n)]
