"""The one loader of the real corpora and serving traces in ../shared/data.

Everything the simulator draws from (human prompts, extraction prompt sets, arrival-time and token-count
traces) is read here, once per folder, into plain lists and numpy arrays. Nothing is copied into the
repository; a missing or unreadable folder raises InputError naming the file and what to do.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputError

DEFAULT_CORPORA = Path("../shared/data")
MAX_CHARS = 6000  # pasted documents beyond this are cut (keeps logs and RAM bounded)
_CODE = re.compile(r"```|def \w+\(|function|class \w+|#include|import \w+|;\n|=>|[Ee]rror|Traceback|SELECT |"
                   r"const \w+|console\.log|public static")


@dataclass(frozen=True)
class ServeGen:
    """ServeGen per-client 10-minute windows: rate and fitted inter-arrival distribution."""

    client: np.ndarray  # int64 global client number (model-qualified)
    window: np.ndarray  # int64 window index (600 s each, 0..2015 over 14 days)
    rate: np.ndarray  # float64 requests/s
    weibull: np.ndarray  # bool: Weibull (else Gamma)
    shape: np.ndarray  # float64
    scale: np.ndarray  # float64
    kind: np.ndarray  # int8: 0 language, 1 reasoning, 2 multimodal
    n_clients: int


@dataclass(frozen=True)
class Corpora:
    """Prompt pools and traces drawn from by the simulator (see ../shared/data/README.md)."""

    root: Path
    chats: list[list[str]]  # ShareGPT conversations (user turns), non-code
    code_chats: list[list[str]]  # ShareGPT conversations whose first turn is code-ish
    human_single: list[str]  # single real human prompts (ShareGPT first turns, oasst/koala/helpful_base)
    power: list[str]  # long-form human / community prompts (awesome prompts, alpaca_eval, user-oriented)
    role_prompts: list[str]  # awesome_chatgpt_prompts "act as" prompts (used as system prompts)
    codegen: list[str]  # GPTeacher codegen instruction (+ input)
    humaneval: list[str]
    gsm8k_train: list[str]
    gsm8k_test: list[str]
    toolformer: list[str]
    glaive: list[tuple[str, list[str]]]  # first user turn, offered tool names
    toolbench: list[tuple[str, list[str]]]
    selfinstruct: list[str]
    wizardlm: list[tuple[str, str]]  # skill, instruction
    mt_bench: list[tuple[str, str]]  # category, turn
    replies: list[str]  # model-written answers (for assistant turns and synthetic completions)
    records: list[str]  # short texts a batch integration feeds through its template
    servegen: ServeGen
    out_tokens: dict[str, np.ndarray]  # "language"/"reasoning" -> (values, probabilities) stacked 2×K
    azure_conv: np.ndarray  # (n, 3): context tokens, generated tokens, inter-arrival s
    azure_code: np.ndarray
    mooncake: np.ndarray  # (n, 3): input tokens, output tokens, inter-arrival s


def load_corpora(root: str | Path | None = None) -> Corpora:
    """Load (once per folder; cached) the corpora and traces under `root` (default ../shared/data)."""
    path = Path(root) if root is not None else DEFAULT_CORPORA
    if not path.is_dir():
        raise InputError(f"{path}: corpora folder not found; pass --corpora DIR (the shared/data folder)")
    return _load(path.resolve())


@lru_cache(maxsize=2)
def _load(root: Path) -> Corpora:
    chats, code_chats, firsts = _sharegpt(root / "sharegpt_v3_partial/sharegpt_v3_human_turns.jsonl.gz")
    ae = _jsonl(root / "alpaca_eval_instructions/alpaca_eval_instructions.jsonl")
    human_ae = [r["instruction"] for r in ae if r["dataset"] in ("oasst", "koala", "helpful_base")]
    awesome = _awesome(root / "awesome_chatgpt_prompts/prompts.csv.gz")
    uo = _jsonl(root / "alpaca_selfinstruct/user_oriented_instructions.jsonl")
    seeds = _jsonl(root / "alpaca_selfinstruct/seed_tasks.jsonl")
    alpaca = _jsonl(root / "alpaca_selfinstruct/alpaca_en_demo_1k.jsonl.gz")
    cg = _jsonl(root / "gpteacher_gpt4_distilled/codegen_instruct.jsonl.gz")
    tf = _jsonl(root / "gpteacher_gpt4_distilled/toolformer_dedupe_only.jsonl.gz")
    rp = _jsonl(root / "gpteacher_gpt4_distilled/roleplay_simple_deduped.jsonl.gz")
    wiz = _jsonl(root / "wizardlm_evol_instruct_testset/WizardLM_testset.jsonl")
    mt = _jsonl(root / "mt_bench/mt_bench_question.jsonl")
    gtrain = _jsonl(root / "gsm8k/train.jsonl.gz")
    gtest = _jsonl(root / "gsm8k/test.jsonl.gz")
    he = _jsonl(root / "humaneval/HumanEval.jsonl.gz")
    tb = [r for g in ("G1", "G2", "G3") for r in _jsonl(root / f"toolbench_example_queries/{g}_query.jsonl")]
    glaive = [_glaive(r) for r in _jsonl(root / "glaive_function_calling_demo/glaive_toolcall_en_demo.jsonl.gz")]

    def with_input(r: dict[str, Any]) -> str:
        inp = (r.get("input") or "").strip()
        return _cut(r["instruction"].strip() + ("\n\n" + inp if inp else ""))

    replies = [_cut(r["response"]) for r in cg + rp if r.get("response")]
    replies += [_cut(r["output"]) for r in alpaca if r.get("output")]
    replies += [r["answer"] for r in gtrain[:2000]]
    records = [t for t in firsts if 40 <= len(t) <= 600] + [r["input"] for r in alpaca if len(r["input"]) > 40]
    return Corpora(
        root=root,
        chats=chats,
        code_chats=code_chats,
        human_single=[t for t in firsts if len(t) >= 8] + human_ae,
        power=[p for _, p in awesome] + [r["instruction"] for r in ae] + [with_input(r) for r in uo],
        role_prompts=[p for act, p in awesome if p.lower().startswith(("i want you to act", "act as"))],
        codegen=[with_input(r) for r in cg],
        humaneval=[r["prompt"] for r in he],
        gsm8k_train=[r["question"] for r in gtrain],
        gsm8k_test=[r["question"] for r in gtest],
        toolformer=[with_input(r) for r in tf],
        glaive=[g for g in glaive if g[0]],
        toolbench=[(r["query"], [a["api_name"] for a in r["api_list"]]) for r in tb],
        selfinstruct=[_seed(r) for r in seeds] + [with_input(r) for r in alpaca],
        wizardlm=[(r["Skill"], r["Instruction"]) for r in wiz],
        mt_bench=[(r["category"], t) for r in mt for t in r["turns"]],
        replies=replies,
        records=records,
        servegen=_servegen(root / "servegen_alibaba_bailian_client_traces/servegen_client_windows.csv.gz"),
        out_tokens=_token_pmfs(root / "servegen_alibaba_bailian_client_traces"),
        azure_conv=_azure(root / "azure_llm_inference_trace_2023/AzureLLMInferenceTrace_conv.csv"),
        azure_code=_azure(root / "azure_llm_inference_trace_2023/AzureLLMInferenceTrace_code.csv"),
        mooncake=_mooncake(root / "mooncake_traces/conversation_trace.jsonl.gz"),
    )


def is_code(text: str) -> bool:
    """Whether a human prompt looks like a programming question (code, errors, APIs)."""
    return bool(_CODE.search(text, 0, 3000))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS]


def _open(path: Path) -> Any:
    if not path.is_file():
        raise InputError(f"{path}: corpus file missing; point --corpora at a complete shared/data folder")
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with _open(path) as f:
        try:
            return [orjson.loads(line) for line in f if line.strip()]
        except orjson.JSONDecodeError as e:
            raise InputError(f"{path}: not JSON Lines ({e})") from e


def _sharegpt(path: Path) -> tuple[list[list[str]], list[list[str]], list[str]]:
    chats: list[list[str]] = []
    code: list[list[str]] = []
    firsts: list[str] = []
    for rec in _jsonl(path):
        turns = [_cut(t["value"].strip()) for t in rec["turns"]
                 if t["from"] in ("human", "user") and t.get("value", "").strip()]
        if not turns:
            continue
        firsts.append(turns[0])
        (code if is_code(turns[0]) else chats).append(turns)
    return chats, code, firsts


def _awesome(path: Path) -> list[tuple[str, str]]:
    csv.field_size_limit(1 << 24)  # a few community prompts are very long
    with _open(path) as f:
        rows = list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8")))
    return [(r["act"], _cut(r["prompt"])) for r in rows if r.get("prompt") and r.get("type", "TEXT") == "TEXT"]


def _seed(r: dict[str, Any]) -> str:
    inst = r.get("instances") or [{}]
    inp = (inst[0].get("input") or "").strip()
    return r["instruction"].strip() + ("\n" + inp if inp else "")


def _glaive(r: dict[str, Any]) -> tuple[str, list[str]]:
    first = next((t["value"] for t in r["conversations"] if t["from"] == "human"), "")
    try:
        tools = [t["name"] for t in orjson.loads(r.get("tools") or "[]") if isinstance(t, dict) and "name" in t]
    except orjson.JSONDecodeError:
        tools = []
    return first, tools


def _servegen(path: Path) -> ServeGen:
    with _open(path) as f:
        t = pacsv.read_csv(f)
    kinds = {"language": 0, "reason": 1, "multimodal": 2}
    key = pc.binary_join_element_wise(t["category"], t["model"], t["client_id"].cast(pa.string()), "/")
    enc = pc.dictionary_encode(key).combine_chunks()
    order = np.argsort(np.array(enc.dictionary.to_pylist()))  # client numbers in sorted key order
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    cat = pc.dictionary_encode(t["category"]).combine_chunks()
    cat_kind = np.array([kinds.get(c, 0) for c in cat.dictionary.to_pylist()], np.int8)
    return ServeGen(
        client=rank[enc.indices.to_numpy()],
        window=(t["window_start_s"].to_numpy() // 600).astype(np.int64),
        rate=t["rate_rps"].to_numpy().astype(np.float64),
        weibull=pc.equal(t["iat_dist"], "Weibull").to_numpy(),
        shape=t["iat_shape"].to_numpy().astype(np.float64),
        scale=t["iat_scale"].to_numpy().astype(np.float64),
        kind=cat_kind[cat.indices.to_numpy()],
        n_clients=len(order),
    )


def _token_pmfs(folder: Path) -> dict[str, np.ndarray]:
    """Output-token distributions pooled over the busiest clients' windows (language vs reasoning)."""
    out: dict[str, np.ndarray] = {}
    for name, files in (("language", ("m-large", "m-mid")), ("reasoning", ("deepseek-r1",))):
        acc: dict[int, float] = {}
        for m in files:
            cat = "reason" if m == "deepseek-r1" else "language"
            for rec in _jsonl(folder / f"token_distributions_top3_{cat}_{m}.jsonl.gz"):
                for win in rec["windows"].values():
                    for b, p in (win.get("output_tokens") or {}).items():
                        acc[int(float(b))] = acc.get(int(float(b)), 0.0) + p
        vals = np.array(sorted(acc), dtype=np.float64)
        probs = np.array([acc[int(v)] for v in vals])
        out[name] = np.vstack([vals, probs / probs.sum()])
    return out


def _azure(path: Path) -> np.ndarray:
    with _open(path) as f:
        t = pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(column_types={"TIMESTAMP": "string"}))
    ts = np.array([np.datetime64(s[:26]) for s in t["TIMESTAMP"].to_pylist()]).astype("datetime64[us]")
    gaps = np.diff(ts.astype(np.int64)) / 1e6
    return np.column_stack([t["ContextTokens"].to_numpy()[1:], t["GeneratedTokens"].to_numpy()[1:], gaps])


def _mooncake(path: Path) -> np.ndarray:
    rows = _jsonl(path)
    ts = np.array([r["timestamp"] for r in rows], dtype=np.float64) / 1000.0
    inp = np.array([r["input_length"] for r in rows], dtype=np.float64)
    outp = np.array([r["output_length"] for r in rows], dtype=np.float64)
    return np.column_stack([inp[1:], outp[1:], np.diff(ts)])
