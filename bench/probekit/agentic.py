"""Tool-call plumbing shared by attackers and legitimate agent users: schemas, calls, tool results, coding repos."""

from __future__ import annotations

import json
import random
import re

from probekit.corpora import Corpora, Item, ToolEnv
from probekit.world import hexid

WORDS = re.compile(r"[A-Za-z][A-Za-z\-']{2,}")


def fake_args(r: random.Random, schema: dict, query: str) -> dict:
    """Arguments for a call of `schema` filled from the query's words and plausible values."""
    words = WORDS.findall(query) or ["item"]
    out = {}
    props = (schema.get("parameters") or {}).get("properties") or {}
    for k, p in list(props.items())[:5]:
        t = p.get("type", "string") if isinstance(p, dict) else "string"
        if t in ("number", "integer"):
            out[k] = r.choice([1, 2, 5, 10, 25, 100, 250, 1200, 3.5])
        elif t == "boolean":
            out[k] = r.random() < 0.5
        elif t == "array":
            out[k] = r.sample(words, k=min(len(words), r.randint(1, 3)))
        else:
            out[k] = " ".join(r.sample(words, k=min(len(words), r.randint(1, 3))))
    return out


def fake_result(r: random.Random, name: str, args: dict) -> str:
    """A tool result a backend might return."""
    shape = r.random()
    if shape < 0.4:
        hits = [{"id": hexid(r, 6), "title": f"{name} result {i + 1}", "score": round(r.random(), 3)}
                for i in range(r.randint(1, 4))]
        return json.dumps({"status": "ok", "results": hits})
    if shape < 0.7:
        return json.dumps({"data": {k: (v if not isinstance(v, str) else v.title()) for k, v in args.items()},
                           "count": r.randint(0, 40), "next_page": None})
    if shape < 0.85:
        return json.dumps({"error": r.choice(["rate limited, retry later", "not found", "invalid parameter"]),
                           "code": r.choice([404, 429, 400])})
    return f"{name}: {r.randint(1, 999)} records; first: {json.dumps(args)[:120]}"


def call_id(r: random.Random) -> str:
    """An OpenAI-style tool call id."""
    return "call_" + hexid(r, 24)


def tool_turns(r: random.Random, env: ToolEnv, step: int, query: str) -> tuple[dict, dict, str]:
    """(assistant tool-call message, tool result message, call JSON) for step `step` of a trajectory."""
    schema = env.schemas[step % len(env.schemas)]
    if step < len(env.calls):
        try:
            call = json.loads(env.calls[step])
            name, args = call.get("name", schema["name"]), call.get("arguments", {})
        except (ValueError, AttributeError):
            name, args = schema["name"], fake_args(r, schema, query)
    else:
        name, args = schema["name"], fake_args(r, schema, query)
    cid = call_id(r)
    arg_s = json.dumps(args)
    obs = env.observations[step] if step < len(env.observations) else fake_result(r, name, args)
    am = {"role": "assistant", "content": None,
          "tool_calls": [{"id": cid, "type": "function", "function": {"name": name, "arguments": arg_s}}]}
    tm = {"role": "tool", "tool_call_id": cid, "content": obs[:1500]}
    return am, tm, json.dumps({"name": name, "arguments": args})


def final_answer(r: random.Random, env: ToolEnv, obs: str) -> str:
    """The assistant's closing message after tool results."""
    lead = r.choice(["Here is what I found:", "Done. Summary:", "Based on the results:", "All set.",
                     "I checked this for you."])
    return f"{lead} {obs[:400]}\n\n" + r.choice(["Anything else?", "Let me know if you want more detail.", "",
                                                 "Want me to refine the search?"])


def toolformer_env(it: Item) -> ToolEnv:
    """A ToolEnv from a GPTeacher toolformer record (tool named in its instruction)."""
    m = re.search(r"toolformer access: ([\w, ]+)", it.text)
    names = [n.strip() for n in (m.group(1).split(",") if m else ["search"]) if n.strip()]
    schemas = tuple({"name": n, "description": f"{n} tool", "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}}, "required": ["query"]}} for n in names[:4])
    q = it.text.split("\n")[-1] if "\n" in it.text else it.text
    return ToolEnv(q, schemas)


# -- coding sessions ---------------------------------------------------------------------------------------

REPO_WORDS = ["billing", "ledger", "tiny", "http", "kv", "store", "parse", "quill", "atlas", "relay", "spark",
              "orbit", "cask", "ferry", "lint", "ember", "grain", "pivot", "vault", "beacon", "chisel", "drift"]


def repo_name(r: random.Random) -> str:
    """A plausible repository name."""
    return "-".join(r.sample(REPO_WORDS, 2))


def module_for(it: Item) -> str:
    """File name for a task's module."""
    m = re.search(r"def (\w+)\(", it.text)
    return (m.group(1) if m else "solution").lower()[:30] + ".py"


def file_tree(r: random.Random, repo: str, mod: str) -> str:
    """An abbreviated `tree` of a small Python repository."""
    pkg = repo.split("-")[0]
    files = [f"{pkg}/__init__.py", f"{pkg}/{mod}", f"{pkg}/util.py", f"tests/test_{mod}", "pyproject.toml",
             "README.md"] + r.sample([f"{pkg}/cli.py", f"{pkg}/io.py", "tests/conftest.py", ".github/workflows/ci.yml",
                                      f"{pkg}/config.py", "Makefile", "docs/index.md"], k=r.randint(1, 4))
    return "\n".join(sorted(files))


def diff_for(mod: str, old: str, new: str) -> str:
    """A unified diff replacing `old` by `new` in `mod` (abbreviated to the new lines)."""
    new_lines = new.splitlines()
    return (f"--- a/{mod}\n+++ b/{mod}\n@@ -1,{len(old.splitlines())} +1,{len(new_lines)} @@\n" +
            "\n".join("+" + x for x in new_lines[:60]))


def pytest_failure(r: random.Random, mod: str, entry: str) -> str:
    """A pytest failure report for the module's tests."""
    n = r.randint(3, 14)
    k = r.randint(1, max(1, n // 2))
    case = r.randint(1, n)
    got, want = r.choice([("4", "5"), ("[]", "[1]"), ("None", "True"), ("'ab'", "'ba'"), ("0.5", "0.25")])
    return (f"============================= test session starts ==============================\n"
            f"collected {n} items\n\ntests/test_{mod} " + "." * (n - k) + "F" * k + f"\n\n"
            f"=================================== FAILURES ===================================\n"
            f"___________________________ test_{entry}_{case} ___________________________\n\n"
            f"    def test_{entry}_{case}():\n>       assert {entry}(...) == {want}\nE       AssertionError: "
            f"assert {got} == {want}\n\ntests/test_{mod}:{r.randint(8, 90)}: AssertionError\n"
            f"=========================== short test summary info ============================\n"
            f"FAILED tests/test_{mod}::test_{entry}_{case} - AssertionError\n"
            f"{'=' * 25} {k} failed, {n - k} passed in {r.uniform(0.05, 2.5):.2f}s {'=' * 25}")


def coding_task(r: random.Random, c: Corpora) -> Item:
    """A task for a coding session: a HumanEval stub or a GPTeacher coding instruction."""
    return r.choice(c.humaneval) if r.random() < 0.45 else r.choice(c.codegen)
