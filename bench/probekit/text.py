"""Text machinery of the probe: paraphrase, light variation, problem perturbation and model-like answers.

All phrasing here is this probe's own (written for it, not taken from the simulator or from detection).
"""

from __future__ import annotations

import random
import re

from probekit.corpora import Corpora, Item

# Word-level rewrites an operator's paraphrasing step (or an LLM rewriter) would make.
SYN = {
    "calculate": ["compute", "work out", "figure out", "determine"], "find": ["determine", "work out", "get"],
    "write": ["create", "produce", "put together", "draft"], "explain": ["describe", "clarify", "spell out"],
    "function": ["function", "routine", "method"], "program": ["program", "script", "piece of code"],
    "how many": ["what number of", "how many"], "total": ["overall", "combined", "total"],
    "each": ["every", "each"], "buys": ["purchases", "gets", "picks up"], "bought": ["purchased", "got"],
    "has": ["owns", "has", "holds"], "wants": ["would like", "wants", "hopes"], "makes": ["earns", "makes"],
    "given": ["provided", "given"], "list": ["list", "array", "sequence"], "returns": ["returns", "gives back",
    "outputs"], "describe": ["outline", "describe", "characterise"], "important": ["key", "important",
    "crucial"], "example": ["example", "instance", "illustration"], "create": ["build", "create", "make"],
    "simple": ["basic", "simple", "straightforward"], "story": ["story", "tale", "narrative"],
    "people": ["people", "persons", "individuals"], "help": ["help", "assist", "support"],
    "use": ["use", "utilise", "employ"], "large": ["large", "big", "sizeable"], "small": ["small", "little"],
    "quickly": ["quickly", "fast", "rapidly"], "show": ["show", "display", "present"],
    "answer": ["answer", "response", "reply"], "problem": ["problem", "question", "task"],
    "different": ["different", "distinct", "separate"], "number": ["number", "figure", "value"],
}
_SYN_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, SYN), key=len, reverse=True)) + r")\b", re.I)
NAMES = ["Amara", "Bilal", "Chen", "Dana", "Eitan", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kofi", "Lena",
         "Mateo", "Noor", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Yusuf",
         "Aiko", "Bruno", "Carmen", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kemal", "Lucia",
         "Malik", "Nadia", "Olu", "Pavel", "Rania", "Santiago", "Thea", "Ugo", "Vera", "Wiktor", "Ximena", "Zane"]
FACTS = ["Here is what we know:", "Facts:", "Details:", "Given:", "Info -", "Known:", "Setup:", "Context:",
         "What we have:", "Data:", "Background:", "The situation:"]
_NAME_RE = re.compile(r"\b([A-Z][a-z]{2,})\b")
_MID_NAME_RE = re.compile(r"(?<=[a-z0-9,;:] )([A-Z][a-z]{2,})\b")
_NUM_RE = re.compile(r"(?<![\w.])(\d{1,4})(?![\w.])")


def synonyms(r: random.Random, s: str, p: float = 0.5, table: dict[str, list[str]] | None = None) -> str:
    """Replace known words by a synonym with probability p each (keeps capitalisation)."""
    syn = table or SYN
    def sub(m: re.Match) -> str:
        w = m.group(0)
        if r.random() > p:
            return w
        alt = r.choice(syn[w.lower()])
        return alt[0].upper() + alt[1:] if w[0].isupper() else alt
    return _SYN_RE.sub(sub, s)


def perturb_problem(r: random.Random, s: str, pool: list[str] | None = None) -> str:
    """Make a new problem of the same shape: other numbers and names (what a data-augmenting operator does)."""
    def num(m: re.Match) -> str:
        v = int(m.group(1))
        if v in (0, 1) or r.random() < 0.35:
            return m.group(1)
        return str(max(2, int(v * r.choice([0.5, 0.75, 1.25, 1.5, 2, 3]) + r.randint(-2, 2))))
    names = {}
    stop = {"How", "What", "The", "If", "She", "He", "They", "Each", "There", "In", "On", "After", "When", "Then",
            "A", "An", "Every", "At", "For", "His", "Her", "It", "This", "That", "Monday", "Tuesday", "Wednesday",
            "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March", "April", "May", "June",
            "July", "August", "September", "October", "November", "December", "Mr", "Mrs", "Ms", "Dr"}

    # a name is a capitalised word seen mid-sentence at least once (so "Last week" or "Lego" at a sentence start
    # is left alone unless it also appears mid-sentence)
    cands = {w for w in _MID_NAME_RE.findall(s) if w not in stop}

    def name(m: re.Match) -> str:
        w = m.group(1)
        if w not in cands:
            return w
        if w not in names:
            names[w] = r.choice(pool or NAMES) if r.random() < 0.7 else w
        return names[w]
    return _NAME_RE.sub(name, _NUM_RE.sub(num, s))


def reorder(r: random.Random, s: str, facts: list[str] | None = None) -> str:
    """Move a trailing question to the front ("How many ...? Facts: ...") for multi-sentence problems."""
    parts = re.split(r"(?<=[.!?])\s+", s.strip())
    if len(parts) < 3 or not parts[-1].endswith("?") or r.random() < 0.5:
        return s
    return parts[-1] + " " + r.choice(facts or FACTS[:5]) + " " + \
        " ".join(parts[:-1])


def jitter(r: random.Random, s: str, p: float = 0.12) -> str:
    """Light surface variation: case of the first letter, trailing punctuation, a synonym or two, spacing."""
    s = synonyms(r, s, p)
    if r.random() < 0.25:
        s = s[0].lower() + s[1:] if s[:1].isupper() else s[:1].upper() + s[1:]
    if r.random() < 0.3:
        s = s.rstrip(".:!") + r.choice(["", ".", ":", " -", "!"])
    if r.random() < 0.1:
        s = s.replace(", ", " , ", 1)
    return s


# -- answers: what the model sent back -------------------------------------------------------------------

def answer_for(r: random.Random, c: Corpora, it: Item | None = None, kind: str = "general",
               length: int = 0) -> str:
    """A completion plausible for the prompt: the item's own reference answer, else a pool answer."""
    if it is not None and it.answer:
        if it.kind == "math":
            return r.choice(["Let's work through it.\n", "", "Step by step:\n", "We can solve this directly.\n"]) + \
                it.answer
        if it.kind == "code" and not it.answer.lstrip().startswith("```"):
            lang = "python" if it.extra else ""
            return f"Here is an implementation:\n\n```{lang}\n{it.answer}\n```\n" + r.choice(
                ["", "It runs in linear time.", "The helper handles the empty case first.", "Tests pass."])
        return it.answer
    if kind == "code":
        x = r.choice(c.codegen)
        return x.answer
    if kind == "math":
        return r.choice(c.gsm_train).answer
    s = r.choice(c.general_answers)
    if length:
        while len(s) < min(length, 1500):
            s += "\n\n" + r.choice(c.general_answers)
        s = s[:max(60, length)]
    return s


def followup_answer(r: random.Random, c: Corpora, it: Item, ask: str) -> str:
    """A reply to a follow-up about `it` (re-solve, verify, explain, generalise, tests): built from the item's
    own answer, so the conversation stays about one problem."""
    base = it.answer or answer_for(r, c, kind=it.kind)
    lines = [x for x in base.splitlines() if x.strip()]
    low = ask.lower()
    if "test" in low:
        name = (it.extra.split("\n")[0] if it.extra else "solution") or "solution"
        cases = "\n".join(f"    assert {name}({r.randint(0, 9)}) == {r.randint(0, 9)}" for _ in range(r.randint(3, 6)))
        return f"Here are some tests:\n\n```python\nimport pytest\n\ndef test_{name}():\n{cases}\n```"
    if any(w in low for w in ("sure", "check", "verify", "confirm", "right")):
        return r.choice(["Let me check each step again.\n", "Verifying:\n", "Going back over it:\n"]) + \
            "\n".join(lines[: max(1, len(lines) // 2)]) + "\n" + r.choice(["Everything checks out.", "Yes, that holds.",
                                                                       "I found no error."])
    if any(w in low for w in ("simpl", "explain", "didn't", "don't", "why", "step", "plain", "bullet")):
        return r.choice(["Sure, more simply:\n", "Think of it like this:\n", "In plain terms:\n"]) + \
            "\n".join("- " + x for x in lines[:4])
    if any(w in low for w in ("general", "formula", "any n", "doubled", "extend")):
        return r.choice(["In general, ", "The pattern is: ", "Generalising, "]) + \
            "replace each given quantity by a variable and the same steps give the result as a formula.\n" + \
            "\n".join(lines[-2:])
    return r.choice(["Another approach:\n", "A different way to do it:\n", "Alternatively:\n"]) + \
        "\n".join(reversed(lines[:6]))


class Voice:
    """How one person types: greeting habit, case, punctuation, sign-off; applied to a request they compose."""

    def __init__(self, r: random.Random) -> None:
        self.lower = r.random() < 0.3
        self.greet = r.choice(["", "", "", "hi ", "hey ", "Hello, ", "hi! ", "yo "])
        self.p_greet = r.uniform(0, 0.5)
        self.end = r.choice(["", "", "?", " thanks", " thx", " pls", " :)", ". Thanks!", " ty"])
        self.p_end = r.uniform(0, 0.6)

    def __call__(self, r: random.Random, s: str) -> str:
        """The request as this person would type it."""
        if self.lower:
            s = s[:1].lower() + s[1:]
        if r.random() < self.p_greet:
            s = self.greet + s
        if r.random() < self.p_end and "\n" not in s[-40:]:
            s = s.rstrip(".?! ") + self.end
        return s


def msgs(user: str, system: str | None = None) -> list[dict]:
    """OpenAI chat messages for one user turn and an optional system prompt."""
    m = [{"role": "system", "content": system}] if system else []
    m.append({"role": "user", "content": user})
    return m


# -- operator wrappers and paraphrase ----------------------------------------------------------------------

OPEN = ["Hi,", "Hello.", "Hey there -", "Good day!", "Quick request:", "Task:", "Next item.", "Okay,",
        "I have a question.", "Something for you:", "Here's one:", "Please help:", "Hey!", "Hi again.", "Morning.",
        "So,", "Alright:", "One more:", "New one.", "Question for you -", "Yo,", "Greetings.", "Hello there!",
        "Ok next", "Another task.", "Here you go:", "Got a tricky one:", "Can I ask something?"]
VERB = ["please solve the following", "work on this", "answer the question below", "handle this task",
        "deal with the following", "take a look at this", "respond to this", "complete the following",
        "resolve this", "give me a full answer to this", "sort this out for me", "I need this done",
        "could you crack this", "help me figure this out", "what's the answer here", "try this one",
        "have a go at the following", "can you do this", "I'd like your answer on this", "tackle this for me",
        "please address the following", "I need help with the following", "figure out the following",
        "go ahead and answer this", "would you solve this", "see what you make of this"]
DEMAND = ["Be thorough.", "Show every step.", "Give the final answer at the end.", "Explain how you got there.",
          "Be precise.", "Walk me through your logic.", "Detailed please.", "Include the intermediate results.",
          "Justify each step briefly.", "Make it complete and correct.", "Don't skip anything.",
          "Lay out the reasoning first.", "Spell out each part.", "I want to understand each step.",
          "Put the result on its own line.", "Full working, please.", "Reason it out fully.",
          "Keep it rigorous.", "Explain as you go.", "Give a clear, complete solution."]
CLOSE = ["Thanks!", "thx", "Appreciate it.", "Cheers.", "Thank you in advance.", "many thanks", "ty!", "thanks :)",
         "much obliged", "grateful for the help", "ta", "thank you so much", "cheers mate", "<3"]


class Paraphraser:
    """One operator's per-request rewriter: its own slice of phrasing, its own habits, never a fixed wrapper.

    Two operators draw different slices, as two different paraphrasing models or prompt sets would.
    """

    def __init__(self, r: random.Random) -> None:
        self.opens = r.sample(OPEN, k=len(OPEN) // 2)
        self.verbs = r.sample(VERB, k=len(VERB) // 2)
        self.demands = r.sample(DEMAND, k=len(DEMAND) // 2)
        self.closes = r.sample(CLOSE, k=len(CLOSE) // 2)
        self.p_bare = r.uniform(0.15, 0.4)  # payload alone, only reworded
        self.p_front = r.uniform(0.5, 0.85)
        self.syn = r.uniform(0.25, 0.5)
        self.seps = r.sample(["\n\n", "\n", " ", " -- "], k=2)
        self.names = r.sample(NAMES, k=14)
        self.facts = r.sample(FACTS, k=4)
        self.table = {k: r.sample(v, k=max(1, len(v) - 1)) for k, v in SYN.items()}

    def __call__(self, r: random.Random, payload: str, math_like: bool = False) -> str:
        """A fresh rewording of frame and payload."""
        if math_like:
            payload = perturb_problem(r, payload, self.names) if r.random() < 0.7 else payload
            payload = reorder(r, payload, self.facts)
        payload = synonyms(r, payload, self.syn, self.table)
        if r.random() < self.p_bare:
            return payload
        o = r.choice(self.opens) if r.random() < 0.5 else ""
        v = synonyms(r, r.choice(self.verbs), 0.3, self.table)
        d = r.choice(self.demands) if r.random() < 0.6 else ""
        cl = r.choice(self.closes) if r.random() < 0.35 else ""
        head = (o + " " + v if o else v[0].upper() + v[1:]) + r.choice([":", ".", " -", "", "\n"])
        sep = r.choice(self.seps)
        parts = [head, payload, d, cl] if r.random() < self.p_front else [payload, d or v[0].upper() + v[1:] + ".", cl]
        return sep.join(p for p in parts if p)


def light_variants(r: random.Random, base: str, n: int) -> list[str]:
    """n lightly varied copies of an operator's wrapper (the same text a script would emit with small edits)."""
    return [base] + [jitter(r, base, 0.2) for _ in range(n - 1)]
