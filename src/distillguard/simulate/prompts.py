"""Prompt wrappers: batch-job templates, benchmark harness prompts, enterprise system prompts and the
wrappers extraction campaigns put around corpus items.

Wrappers are composed from several phrase banks, so a campaign's wording can range from one fixed
template (naive) to a fresh paraphrase per request (mimicry).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .corpora import Corpora

# Generic system prompts seen from every kind of client (SDK examples, frameworks, scripts).
GENERIC_SYSTEM = [
    "You are a helpful assistant.", "You are a helpful assistant", "You are a helpful, respectful and honest "
    "assistant.", "You are an AI assistant that helps people find information.", "You are ChatGPT, a large "
    "language model. Answer as concisely as possible.", "You are a helpful coding assistant.",
    "You are an expert software engineer.", "You are a precise assistant. Follow the instructions exactly.",
    "You are a helpful assistant. Answer in Markdown.", "Respond only in valid JSON.",
]

# --- legitimate ------------------------------------------------------------------------------------------

_BATCH_TASKS = [
    ("Classify the following customer message into exactly one of these categories: {labels}. "
     "Respond with the category name only.\n\nMessage:\n", ""),
    ("You are a support triage system for {org}. Read the ticket below and return JSON with the fields "
     "\"category\" (one of {labels}), \"urgency\" (low|medium|high) and \"summary\" (max 20 words).\n\nTicket:\n",
     "\n\nJSON:"),
    ("Extract all product names, dates and monetary amounts mentioned in the text. Return a JSON object with "
     "keys products, dates, amounts.\n\nText: ", ""),
    ("Summarize the following text in one sentence for an internal dashboard.\n\n", "\n\nSummary:"),
    ("Translate the following user message into {lang}. Keep formatting and placeholders unchanged.\n\n", ""),
    ("Does the following user-generated content violate the {org} community guidelines? Answer with "
     "\"allow\" or \"flag\" and a short reason.\n\nContent:\n", ""),
    ("Rate the sentiment of this review from 1 (very negative) to 5 (very positive). Output only the number."
     "\n\nReview: ", ""),
    ("Generate three short search keywords for the following request, comma separated.\n\nRequest: ", ""),
]
_LABELS = ["billing, technical, account, feedback, other", "bug, feature_request, question, complaint",
           "sales, support, partnership, spam", "positive, negative, neutral", "shipping, returns, payment, product"]
_LANGS = ["German", "French", "Spanish", "Japanese", "Portuguese", "Korean", "Italian"]


def batch_templates(rng: np.random.Generator, orgs: Sequence[str]) -> tuple[list[str], list[str]]:
    """One fixed (prefix, suffix) template per organisation's batch job."""
    pre, suf = [], []
    for org in orgs:
        p, s = _BATCH_TASKS[int(rng.integers(0, len(_BATCH_TASKS)))]
        name = org.split(".")[0].capitalize()
        pre.append(p.format(labels=_LABELS[int(rng.integers(0, len(_LABELS)))], org=name,
                            lang=_LANGS[int(rng.integers(0, len(_LANGS)))]))
        suf.append(s)
    return pre, suf


def benchmark_prompts(rng: np.random.Generator, c: Corpora, n: int) -> tuple[list[str], list[str], list[str],
                                                                            list[str]]:
    """Per runner: GSM8K harness prefix/suffix (few-shot, often 'think step by step') and HumanEval ones."""
    shots = [f"Question: {q}\nAnswer: Let's think step by step. {a}" for q, a in
             zip(c.gsm8k_train[:8], [r.split("####")[0].strip() for r in c.replies[-2000:][:8]], strict=False)]
    gpre, gsuf, hpre, hsuf = [], [], [], []
    for _ in range(n):
        k = int(rng.choice([0, 0, 4, 8]))
        fs = "\n\n".join(shots[:k]) + ("\n\n" if k else "")
        style = int(rng.integers(0, 3))
        gpre.append(fs + ["Question: ", "Solve the following math problem.\n", "Q: "][style])
        gsuf.append(["\nAnswer: Let's think step by step.", "\nPut the final answer after ####.",
                     "\nA:"][style] if style or rng.random() < .7 else "\nAnswer:")
        hs = int(rng.integers(0, 3))
        hpre.append(["", "Complete the following Python function:\n```python\n",
                     "Write the body of this function. Return only code.\n\n"][hs])
        hsuf.append(["", "\n```", ""][hs])
    return gpre, gsuf, hpre, hsuf


_ROLES = ["internal assistant", "writing assistant", "engineering helper", "analyst copilot",
          "customer-support drafting assistant"]
_RULES = ["Be concise and use British English.", "Never share customer personal data.",
          "Answer in the user's language.", "Cite internal wiki pages when relevant.",
          "Format code with fenced blocks.", "Do not speculate about unreleased products.",
          "Prefer bullet points for lists of steps.", "Escalate legal questions to legal@ instead of answering."]


def enterprise_system_prompts(rng: np.random.Generator, orgs: Sequence[str]) -> list[str]:
    """One system prompt per organisation (shared by all its members)."""
    out = []
    for org in orgs:
        name = org.split(".")[0].capitalize()
        rules = rng.choice(len(_RULES), 3, replace=False)
        out.append(f"You are {name}'s {_ROLES[int(rng.integers(0, len(_ROLES)))]}. "
                   + " ".join(_RULES[i] for i in rules))
    return out


# --- campaigns ------------------------------------------------------------------------------------------
# Each bank holds alternative phrasings of one slot; a wrapper picks one phrasing per slot.

OPENERS = [
    "", "", "Solve the following problem.", "Here is a problem for you.", "Please answer the question below.",
    "I need help with this.", "Can you work through this for me?", "Task:", "Consider the following.",
    "Help me with the following question.", "Quick question:", "I'm studying and stuck on this one.",
    "You are an expert tutor.", "You are a world-class problem solver.", "Answer as precisely as you can.",
    "Here's something I've been trying to figure out.", "Could you take a look at this?",
    "Let's go through this carefully.", "Please help.", "Below is a task.",
]
COT = [
    "Show every step of your reasoning.", "Think step by step.", "Explain your reasoning step by step "
    "before giving the final answer.", "Walk me through your full thought process.", "Reason carefully and "
    "show all intermediate steps.", "Please lay out each step of the logic so I can follow it.",
    "Before answering, write out your complete chain of thought.", "Break the problem into steps and explain "
    "each one.", "Don't skip any steps in your explanation.", "Explain how you get there, step by step.",
    "Think out loud and be thorough.", "I want to understand the reasoning, not just the answer.",
    "", "",
]
FORMAT = [
    "", "", "Give the final answer on its own line after 'Final answer:'.", "End with the answer in bold.",
    "Return JSON with keys \"reasoning\" and \"answer\".", "Use Markdown headings for each step.",
    "Finish with a one-sentence summary.", "Put the final result in a code block.",
    "Number each step.", "State the answer clearly at the end.", "Keep the final answer short.",
]
CODE_ASK = [
    "Write a complete, well-commented implementation.", "Include unit tests.", "Explain the time and space "
    "complexity.", "Provide production-quality code with error handling.", "Explain the code line by line.",
    "Give the full solution and then explain how it works.", "Also describe edge cases.", "",
]
TOOL_ASK = [
    "Decide which tool to call and give the call as JSON.", "Plan the tool calls needed, then make them.",
    "Use the available functions where appropriate.", "Think about which API to use before answering.",
    "Respond with the function call and its arguments.", "",
]
POLITE = ["", "", "", "Thanks!", "Thank you.", "thx", "Appreciate it.", "Please be detailed.", "pls"]
JOIN = ["\n\n", "\n", " ", "\n\n---\n\n"]


def wrappers(rng: np.random.Generator, n: int, capability: str, cot: float = 1.0,
             paraphrase: bool = False) -> tuple[list[str], list[str]]:
    """`n` (prefix, suffix) wrappers for one capability, composed from the phrase banks.

    With `paraphrase`, phrasings are also lightly perturbed (case, punctuation, word order of the slots),
    so almost no two wrappers are identical.
    """
    ask = {"coding": CODE_ASK, "tool_use": TOOL_ASK}.get(capability, FORMAT)
    pre, suf = [], []
    for _ in range(n):
        op = OPENERS[int(rng.integers(0, len(OPENERS)))]
        c = COT[int(rng.integers(0, len(COT) - 2))] if rng.random() < cot else ""
        a = ask[int(rng.integers(0, len(ask)))]
        p = POLITE[int(rng.integers(0, len(POLITE)))] if paraphrase else ""
        j1, j2 = (JOIN[int(rng.integers(0, len(JOIN)))] for _ in range(2)) if paraphrase else ("\n\n", "\n\n")
        if paraphrase and rng.random() < .5:
            c, a = a, c
        head = " ".join(x for x in (op, c if rng.random() < .5 or not paraphrase else "") if x)
        tail = " ".join(x for x in (a, c if head.find(c) < 0 else "", p) if x)
        if paraphrase:
            head, tail = _perturb(rng, head), _perturb(rng, tail)
        pre.append(head + j1 if head else "")
        suf.append(j2 + tail if tail else "")
    return pre, suf


def _perturb(rng: np.random.Generator, s: str) -> str:
    if not s:
        return s
    r = rng.random()
    if r < .2:
        s = s.lower()
    elif r < .3:
        s = s.rstrip(".")
    elif r < .4:
        s = s.replace(". ", ".  ", 1)
    return s


_NUM = re.compile(r"\d+")


def vary_numbers(rng: np.random.Generator, texts: Sequence[str], copies: int) -> list[str]:
    """`copies` variants of each text with its integers changed (how campaigns multiply seed problems)."""
    out = []
    for t in texts:
        out.append(t)
        for _ in range(copies - 1):
            out.append(_NUM.sub(lambda m: str(max(1, int(int(m.group()) * rng.uniform(.5, 2.0)) + 1))
                                if len(m.group()) < 7 else m.group(), t))
    return out


def capability_items(c: Corpora) -> dict[str, list[tuple[str, list[str]]]]:
    """Extraction-typical corpus items by targeted capability: (text, offered tool names)."""
    reasoning = [(q, []) for q in c.gsm8k_train + c.gsm8k_test]
    reasoning += [(t, []) for s, t in c.wizardlm if s in ("Math", "Reasoning")]
    reasoning += [(t, []) for cat, t in c.mt_bench if cat in ("reasoning", "math")]
    coding = [(t, []) for t in c.codegen] + [(t, []) for t in c.humaneval]
    coding += [(t, []) for s, t in c.wizardlm if "Code" in s or s == "Computer Science"]
    coding += [(t, []) for cat, t in c.mt_bench if cat == "coding"]
    tool = [(t, []) for t in c.toolformer] + list(c.glaive) + list(c.toolbench)
    other = [(t, []) for t in c.selfinstruct] + [(t, []) for s, t in c.wizardlm if s not in ("Math", "Reasoning")]
    other += [(t, []) for cat, t in c.mt_bench if cat in ("writing", "roleplay", "extraction", "stem", "humanities")]
    return {"reasoning": reasoning, "coding": coding, "tool_use": tool, "other": other}
