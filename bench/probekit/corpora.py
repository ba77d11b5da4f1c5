"""Prompt and response pools read once from the shared real corpora (../shared/data, see each SOURCE.txt).

Nothing here is copied into the tree: the probe reads the corpora at run time. Responses are the corpora's
own reference answers where they exist (GSM8K solutions, HumanEval canonical solutions, Alpaca/GPTeacher
outputs) so that a completion matches the kind of prompt it answers.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

csv.field_size_limit(1 << 24)


def _jl(path: Path) -> list[dict]:
    op = gzip.open if path.suffix == ".gz" else open
    with op(path, "rt", encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[:n].rsplit(" ", 1)[0]


@dataclass(frozen=True)
class Item:
    """One task with, where the corpus has it, a reference answer."""

    text: str
    answer: str = ""
    kind: str = "general"  # math | code | general | writing | roleplay
    extra: str = ""  # e.g. HumanEval entry point / tests


@dataclass(frozen=True)
class ToolEnv:
    """A tool set (OpenAI function schemas) with a user query and, if known, the observed tool results."""

    query: str
    schemas: tuple[dict, ...]
    observations: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()


@dataclass
class Corpora:
    """Every pool the probe draws on."""

    chats: list[tuple[list[str], list[int]]]  # ShareGPT human turns + the assistant reply lengths
    casual: list[str]  # alpaca_eval oasst/koala/helpful_base
    vicuna: list[str]
    personas: list[str]  # awesome-chatgpt-prompts
    gsm_train: list[Item]
    gsm_test: list[Item]
    humaneval: list[Item]
    codegen: list[Item]  # GPTeacher codegen
    alpaca: list[Item]  # Alpaca 1k with outputs
    selfinstruct: list[Item]
    wizard: list[Item]
    mtbench: list[tuple[str, str, str]]  # (category, turn 1, turn 2)
    roleplay: list[Item]
    toolenvs: list[ToolEnv]
    toolformer: list[Item]
    alpaca_eval_all: list[str]
    general_answers: list[str]
    code_chats: list[str]  # real users' coding questions (ShareGPT turns that mention code)


def _gsm_answer(a: str) -> str:
    a = re.sub(r"<<[^>]*>>", "", a)
    body, _, final = a.partition("####")
    return body.strip() + f"\nSo the answer is {final.strip()}."


def _toolbench_schema(api: dict) -> dict:
    props, req = {}, []
    for p, required in [(p, True) for p in api.get("required_parameters", [])] + \
            [(p, False) for p in api.get("optional_parameters", [])]:
        t = str(p.get("type", "STRING")).lower()
        props[p["name"]] = {"type": {"number": "number", "boolean": "boolean"}.get(t, "string"),
                            "description": _clip(str(p.get("description", "")), 160)}
        if required:
            req.append(p["name"])
    name = re.sub(r"[^A-Za-z0-9_]+", "_", f"{api['tool_name']}_{api['api_name']}").strip("_")[:60]
    return {"name": name, "description": _clip(str(api.get("api_description") or api["api_name"]), 200).strip(),
            "parameters": {"type": "object", "properties": props, "required": req}}


def load(data: Path, chat_limit: int = 12000) -> Corpora:
    """Read the corpora (bounded ShareGPT sample) into pools."""
    chats = []
    with gzip.open(data / "sharegpt_v3_partial/sharegpt_v3_human_turns.jsonl.gz", "rt") as f:
        for i, line in enumerate(f):
            if i >= chat_limit:
                break
            turns, lens = [], []
            for t in json.loads(line)["turns"]:
                if t.get("from") == "human" and t.get("value") and len(t["value"]) > 3:
                    turns.append(_clip(t["value"], 1400))
                elif t.get("from") == "gpt" and turns and len(lens) < len(turns):
                    lens.append(int(t.get("n_chars") or 600))
            lens += [600] * (len(turns) - len(lens))
            if turns:
                chats.append((turns[:8], lens[:8]))
    ae = _jl(data / "alpaca_eval_instructions/alpaca_eval_instructions.jsonl")
    with gzip.open(data / "awesome_chatgpt_prompts/prompts.csv.gz", "rt") as f:
        personas = [_clip(r["prompt"], 1500) for r in csv.DictReader(f) if r.get("prompt")]
    gtr = [Item(r["question"], _gsm_answer(r["answer"]), "math") for r in _jl(data / "gsm8k/train.jsonl.gz")]
    gte = [Item(r["question"], _gsm_answer(r["answer"]), "math") for r in _jl(data / "gsm8k/test.jsonl.gz")]
    he = [Item(r["prompt"], r["prompt"] + r["canonical_solution"], "code", r["entry_point"] + "\n" + r["test"])
          for r in _jl(data / "humaneval/HumanEval.jsonl.gz")]
    cg = [Item(r["instruction"] + (f"\n{r['input']}" if r.get("input") else ""), _clip(r["response"], 1800), "code")
          for r in _jl(data / "gpteacher_gpt4_distilled/codegen_instruct.jsonl.gz")]
    alp = [Item(r["instruction"] + (f"\n\n{r['input']}" if r.get("input") else ""), _clip(r["output"], 1800))
           for r in _jl(data / "alpaca_selfinstruct/alpaca_en_demo_1k.jsonl.gz")]
    si = []
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        for r in _jl(data / "alpaca_selfinstruct" / name):
            inst = (r.get("instances") or [{}])[0]
            inp = inst.get("input", "")
            si.append(Item(r["instruction"] + (f"\n\n{inp}" if inp else ""), _clip(inst.get("output", ""), 1500)))
    skill = {"Math": "math", "Code Generation": "code", "Code Debug": "code"}
    wiz = [Item(r["Instruction"], "", skill.get(r["Skill"], "general"))
           for r in _jl(data / "wizardlm_evol_instruct_testset/WizardLM_testset.jsonl")]
    mt = [(r["category"], r["turns"][0], r["turns"][1]) for r in _jl(data / "mt_bench/mt_bench_question.jsonl")]
    rp = [Item(r["instruction"] + (f"\n{r['input']}" if r.get("input") else ""), _clip(r["response"], 1500),
               "roleplay") for r in _jl(data / "gpteacher_gpt4_distilled/roleplay_simple_deduped.jsonl.gz")]
    tf = [Item(r["instruction"] + (f"\n{r['input']}" if r.get("input") else ""), r["response"], "tool")
          for r in _jl(data / "gpteacher_gpt4_distilled/toolformer_dedupe_only.jsonl.gz")]
    envs = []
    for r in _jl(data / "glaive_function_calling_demo/glaive_toolcall_en_demo.jsonl.gz"):
        schema = json.loads(r["tools"]) if r.get("tools") else []
        conv = r["conversations"]
        q = next((c["value"] for c in conv if c["from"] == "human"), "")
        if q and schema:
            envs.append(ToolEnv(q, tuple(schema), tuple(c["value"] for c in conv if c["from"] == "observation"),
                                tuple(c["value"] for c in conv if c["from"] == "function_call")))
    for g in ("G1", "G2", "G3"):
        for r in _jl(data / f"toolbench_example_queries/{g}_query.jsonl"):
            envs.append(ToolEnv(r["query"], tuple(_toolbench_schema(a) for a in r["api_list"][:8])))
    code_re = re.compile(r"```|\bdef |\bfunction\b|\bclass \b|\bpython\b|\bjavascript\b|\bSQL\b|\berror\b|"
                         r"\bcode\b|\breact\b|\bAPI\b", re.I)
    code_chats = [t for turns, _ in chats for t in turns[:2] if code_re.search(t)]
    general = [i.answer for i in alp if len(i.answer) > 80] + [i.answer for i in rp if len(i.answer) > 80]
    return Corpora(chats=chats, casual=[r["instruction"] for r in ae if r["dataset"] in ("oasst", "koala",
                   "helpful_base")], vicuna=[r["instruction"] for r in ae if r["dataset"] == "vicuna"],
                   personas=personas, gsm_train=gtr, gsm_test=gte, humaneval=he, codegen=cg, alpaca=alp,
                   selfinstruct=si, wizard=wiz, mtbench=mt, roleplay=rp, toolenvs=envs, toolformer=tf,
                   alpaca_eval_all=[r["instruction"] for r in ae], general_answers=general,
                   code_chats=code_chats)
