"""Round-10 pools: the corpora fields the first probe round leaves unused, and compositional request wording.

The round-10 families (attacks10.py, legit10.py) draw on other subsets and fields of the shared corpora than
round 1 does: GSM8K's Socratic split (a problem with its chain of sub-questions), the self-instruct seed tasks
with their task names and classification flag, WizardLM items with their skill and difficulty, alpaca_eval's
self-instruct subset, MT-bench second turns. Wording is composed per request from slot banks written for this
round (`Composer`): two requests almost never share a frame string, and two operators draw different slices.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from probekit.corpora import Corpora, Item, load


@dataclass(frozen=True)
class Socratic:
    """A GSM8K problem with its chain of sub-questions and their worked answers."""

    question: str
    steps: tuple[tuple[str, str], ...]
    final: str


@dataclass(frozen=True)
class Seed:
    """A self-instruct seed task: short name, instruction, one instance, classification flag."""

    name: str
    text: str
    answer: str
    classify: bool


@dataclass
class Pools:
    """Round-1 corpora plus the round-10 extras."""

    c: Corpora
    socratic: list[Socratic]
    seeds: list[Seed]
    wizard_by: dict[str, list[tuple[int, str]]]  # skill -> [(difficulty, instruction)], easiest first
    ae_selfinstruct: list[str]


def _jl(path: Path) -> list[dict]:
    op = gzip.open if path.suffix == ".gz" else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def _steps(ans: str) -> tuple[tuple[tuple[str, str], ...], str]:
    body, _, final = ans.partition("####")
    out = []
    for line in body.strip().splitlines():
        q, sep, a = line.partition(" ** ")
        if sep:
            out.append((q.strip(), re.sub(r"<<[^>]*>>", "", a).strip()))
    return tuple(out), final.strip()


def load10(data: Path) -> Pools:
    """Read the round-1 pools and the round-10 extras."""
    c = load(data)
    soc = []
    for r in _jl(data / "gsm8k/test_socratic.jsonl.gz"):
        st, fin = _steps(r["answer"])
        if st:
            soc.append(Socratic(r["question"], st, fin))
    seeds = []
    for r in _jl(data / "alpaca_selfinstruct/seed_tasks.jsonl"):
        inst = (r.get("instances") or [{}])[0]
        inp = inst.get("input", "")
        seeds.append(Seed(r.get("name", "task"), r["instruction"] + (f"\n\n{inp}" if inp else ""),
                          inst.get("output", "")[:1500], bool(r.get("is_classification"))))
    wiz: dict[str, list[tuple[int, str]]] = {}
    for r in _jl(data / "wizardlm_evol_instruct_testset/WizardLM_testset.jsonl"):
        wiz.setdefault(r["Skill"], []).append((int(r.get("Difficulty") or 5), r["Instruction"]))
    for v in wiz.values():
        v.sort(key=lambda x: x[0])
    ae = [r["instruction"] for r in _jl(data / "alpaca_eval_instructions/alpaca_eval_instructions.jsonl")
          if r["dataset"] == "selfinstruct"]
    return Pools(c, soc, seeds, wiz, ae)


def soc_item(s: Socratic) -> Item:
    """A Socratic problem as an Item whose answer is its worked sub-steps."""
    return Item(s.question, "\n".join(f"{q} {a}" for q, a in s.steps) + f"\nFinal answer: {s.final}", "math")


# -- compositional wording ---------------------------------------------------------------------------------

LEAD = ["I'm putting together study material", "For a write-up I'm doing", "Working through a backlog here",
        "My team asked me to check this", "Trying to understand this properly", "Preparing notes for later",
        "Need a careful take on this", "Been stuck on this for a while", "Cross-checking something",
        "This came up at work", "Revising for an exam", "Building a small knowledge base", "Curious about this one",
        "Second opinion wanted", "For a tutorial I'm drafting", "Collecting worked examples",
        "Quick one before a meeting", "Following up on earlier", "Trying a new approach today",
        "Documenting our reasoning", "Reviewing old material", "From a practice sheet", "Digging into this",
        "Just got this from a colleague", "Need this for a handout", "Sanity-checking my own attempt",
        "Part of a reading group", "Saw this on a forum", "Helping my cousin with it", "Prepping a workshop",
        "On a train with some time", "Writing a blog post", "Auditing an old answer key", "Refreshing my memory",
        "For an internal wiki page", "Got curious after a lecture", "Tidying up my notes", "Late-night puzzle"]
ASK = ["can you work through", "please go through", "would you take on", "could you untangle", "walk through",
       "please tackle", "I'd like you to resolve", "can you break down", "help me get to the bottom of",
       "have a careful look at", "reason your way through", "take me through", "carefully handle",
       "give a complete treatment of", "dig into", "properly answer", "lay out a solution to", "settle",
       "talk me through", "sort out", "crack open", "methodically approach", "patiently go over", "answer",
       "could you work out", "please reason about", "kindly resolve", "would you puzzle out", "please settle",
       "go deep on", "give your full analysis of", "carefully work", "solve", "take a proper run at",
       "explain your way through", "be my tutor for"]
OBJ = ["the item below", "what follows", "this", "the following", "the task pasted here", "the question below",
       "this exercise", "the prompt underneath", "this one", "the problem I've pasted", "the next item",
       "the text below", "this question", "the snippet below", "the case that follows",
       "the exercise quoted here", "the following item", "the problem as stated", "this little task",
       "what I pasted", "the assignment below", "this brain-teaser", "the request that follows"]
HOW = ["making every inference explicit", "stating each intermediate result", "with the logic visible at every turn",
       "narrating your reasoning as you go", "justifying each move", "keeping all the working",
       "one numbered step at a time", "without skipping the obvious parts", "showing where each number comes from",
       "as a teacher would on a whiteboard", "with the chain of reasoning spelled out", "thinking aloud throughout",
       "leaving no gap in the argument", "and explain why each step follows", "including dead ends you rule out",
       "as a full derivation", "unpacking the reasoning in detail", "in a careful step-by-step way",
       "tracing the logic from start to finish", "covering the why, not just the what",
       "with every calculation shown", "explaining your thinking line by line", "showing all intermediate work",
       "slowly and explicitly", "like a worked textbook solution", "with a justification for each claim",
       "reasoning out loud", "and make each deduction explicit", "spelling out how each part follows",
       "as an annotated walkthrough"]
FMT = ["Put the conclusion on the last line.", "Finish with a one-line summary.", "Use numbered steps.",
       "Mark the final result clearly.", "Close with the answer in bold.", "Keep the final answer separate.",
       "End with 'Result:' and the answer.", "Headings are welcome.", "Plain text is fine.",
       "Short paragraphs, please.", "Bullet points are ok.", "Add a brief check at the end.",
       "State assumptions first.", "Recap the key idea at the end.", "Box the final value.",
       "Separate reasoning from the answer.", "One idea per paragraph.", "Give a TL;DR at the top.",
       "Number the final answer.", "Keep notation consistent.", "", "", ""]
TAIL = ["", "", "", "Thanks a lot.", "Much appreciated.", "Cheers!", "thanks!", "Grateful.", "ta", "Many thanks.",
        "Appreciated as always.", "Thx in advance", "You're a star."]
SEP = ["\n\n", "\n", " ", "\n---\n", "\n\n>>> ", ": "]


class Composer:
    """One operator's request frames, composed per request from its own slice of the slot banks.

    Families that stand for different operators take different `lane`s: disjoint parts of every bank, so two
    operators never share a frame phrase merely because this probe wrote one phrase bank for both.

    >>> Composer(random.Random(1))(random.Random(2), "What is 2 + 2?")  # doctest: +ELLIPSIS
    '...'
    """

    def __init__(self, r: random.Random, share: float = 0.6, lane: int | None = None, lanes: int = 4) -> None:
        def part(bank: list[str]) -> list[str]:
            if lane is not None:  # a fixed, seed-independent share of each bank: lanes never share a phrase
                order = sorted(set(bank), key=lambda x: hashlib.sha256(x.encode()).hexdigest())
                bank = order[lane % lanes::lanes]
            return r.sample(bank, k=max(min(2, len(bank)), int(len(bank) * share)))
        self.lead, self.ask, self.obj, self.how = part(LEAD), part(ASK), part(OBJ), part(HOW)
        self.fmt, self.tail, self.sep = part(FMT), part(TAIL), part(SEP)
        self.p_lead = r.uniform(0.2, 0.7)
        self.p_after = r.uniform(0.1, 0.5)  # payload before the frame
        self.p_bare = r.uniform(0.0, 0.15)

    def __call__(self, r: random.Random, payload: str) -> str:
        """A freshly composed request around `payload`."""
        if r.random() < self.p_bare:
            return payload
        ask = f"{r.choice(self.ask)} {r.choice(self.obj)} {r.choice(self.how)}"
        if r.random() < self.p_lead:
            ask = f"{r.choice(self.lead)}{r.choice([' -', ',', '.', ';', ' —'])} {ask}"
        ask = ask[0].upper() + ask[1:] + r.choice(["?", ".", ":", "", " please."])
        extra = " ".join(x for x in (r.choice(self.fmt), r.choice(self.tail)) if x)
        sep = r.choice(self.sep)
        if r.random() < self.p_after:
            return sep.join(x for x in (payload, ask, extra) if x)
        return sep.join(x for x in (ask, payload, extra) if x)


def pick(r: random.Random, bank: list[str], k: int) -> list[str]:
    """k distinct phrases of a bank (an operator's or team's slice)."""
    return r.sample(bank, k=min(k, len(bank)))
