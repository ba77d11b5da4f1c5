"""Train the capability model (reasoning / coding / tool_use / other) and print its accuracy.

    .venv/bin/python bench/train_capability.py [--data ../shared/data] [--out PATH] [--no-cross]

Reads the labelled corpora in ``shared/data`` (never copied into the repo), trains a multinomial
logistic regression over the structural cues (:data:`distillguard.fingerprints.capability.CUES`, scaled by
CUE_SCALE) and the binary uni/bi-grams of :func:`distillguard.fingerprints.capability.ngram_terms` seen in at
least MIN_CORPORA training corpora (scaled by NGRAM_SCALE), every corpus weighted by its size to the power
-CORPUS_ALPHA and the classes balanced (a corpus of 3,000 prompts must not define its class),
prints per-class precision / recall and the confusion matrix on a stratified held-out split, then a
leave-one-corpus-out table (train without corpus X, test on X: how the model does on a corpus it
has never seen), and writes the final model, trained on everything, as JSON (weights + n-gram
vocabulary only).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import csr_matrix, hstack
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from distillguard.fingerprints.capability import (
    CLASSES,
    CUES,
    MODEL_RESOURCE,
    RULES,
    CapabilityModel,
    cue_matrix,
    ngram_terms,
)
from distillguard.fingerprints.neardup import distinct_sorted
from distillguard.fingerprints.texts import normalise_array

CAP_PER_CORPUS = 3000
MIN_DF = 3
MIN_CORPORA = 2
MAX_VOCAB = 5_000
C = 1.0
CUE_SCALE = 3.0
NGRAM_SCALE = 0.25
CORPUS_ALPHA = 0.5
WIZARD = {
    "Math": "reasoning", "Reasoning": "reasoning", "Code Generation": "coding", "Code Debug": "coding",
    "Writting": "other", "Roleplay": "other", "Academic Writing": "other", "Literature": "other",
    "History": "other", "Art": "other", "Music": "other", "Entertainment": "other", "Sport": "other",
    "Philosophy": "other", "Ethics": "other",
}  # fmt: skip
MT_BENCH = {"math": "reasoning", "reasoning": "reasoning", "coding": "coding",
            "writing": "other", "roleplay": "other", "humanities": "other"}  # fmt: skip


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _join(instruction: str, inp: str) -> str:
    return f"{instruction}\n\n{inp}" if inp else instruction


def _casual(text: str) -> bool:
    """ShareGPT turns without code or maths: the casual chat that labels ``other``."""
    code_marks = ("```", "def ", "function", "{", "};", "import ", "#include", "=>", "SELECT ", "<div")
    return 15 <= len(text) <= 2000 and not any(m in text for m in code_marks) and sum(ch.isdigit() for ch in text) < 10


_LANG = re.compile(
    r"\b(?:python|javascript|typescript|java|c\+\+|c#|golang|rust|sql|html|css|react|node\.?js|bash|regex|php|swift|kotlin)\b",
    re.I,
)
_TASK = re.compile(r"\b(?:write|code|function|implement|script|program|class|bug|error|debug|refactor|compile)\b", re.I)


def _code_turn(text: str) -> bool:
    """ShareGPT turns that ask for code (weak label): a code fence, or a language plus a coding verb."""
    return 15 <= len(text) <= 4000 and ("```" in text or bool(_LANG.search(text) and _TASK.search(text)))


# Glaive's tool definitions put back into the text, as function-calling prompts carry them when the API's
# `tools` field is not used: Glaive's own system-prompt form, and the <tools> block of Hermes-style chat templates
TOOL_FORMS = (
    "SYSTEM: You are a helpful assistant with access to the following functions. Use them if required -\n"
    "{tools}\n\nUSER: {query}",
    "<tools>\n{tools}\n</tools>\n\n{query}",
)


def glaive_with_tools(data: Path) -> list[str]:
    """The opening request of each Glaive conversation that offers tools, with its tool definitions in the text
    (the forms of TOOL_FORMS in turn). Same conversations as ``glaive_function_calling``: one source."""
    out = []
    for i, r in enumerate(_jsonl(data / "glaive_function_calling_demo" / "glaive_toolcall_en_demo.jsonl.gz")):
        tools = json.loads(r.get("tools") or "[]")
        if tools:
            form = TOOL_FORMS[i % len(TOOL_FORMS)]
            out.append(form.format(tools="\n".join(json.dumps(t) for t in tools), query=r["conversations"][0]["value"]))
    return out


def source_of(corpus: str) -> str:
    """The source a corpus was drawn from: corpora of one source are left out together and count once in
    MIN_CORPORA (their shared wording is one source's, not the request's)."""
    return corpus.removesuffix("_tools")


def load_corpora(data: Path, cap: int | None = None) -> list[tuple[str, str, str]]:
    """(text, label, corpus) for every labelled prompt, at most ``cap`` (CAP_PER_CORPUS) per corpus, deterministic."""
    rows: list[tuple[str, str, str]] = []
    cap = CAP_PER_CORPUS if cap is None else cap

    def add(corpus: str, label: str, texts: list[str]) -> None:
        texts = [t for t in texts if t and t.strip()]
        random.Random(corpus).shuffle(texts)
        rows.extend((t, label, corpus) for t in texts[:cap])

    gsm = [r["question"] for f in ("train.jsonl.gz", "test.jsonl.gz") for r in _jsonl(data / "gsm8k" / f)]
    add("gsm8k", "reasoning", gsm)
    add("humaneval", "coding", [r["prompt"] for r in _jsonl(data / "humaneval" / "HumanEval.jsonl.gz")])
    gt = data / "gpteacher_gpt4_distilled"
    add(
        "gpteacher_codegen",
        "coding",
        [_join(r["instruction"], r["input"]) for r in _jsonl(gt / "codegen_instruct.jsonl.gz")],
    )
    add("gpteacher_toolformer", "tool_use",
        [_join(r["instruction"], r["input"]) for r in _jsonl(gt / "toolformer_dedupe_only.jsonl.gz")])  # fmt: skip
    add("gpteacher_roleplay", "other",
        [_join(r["instruction"], r["input"]) for r in _jsonl(gt / "roleplay_simple_deduped.jsonl.gz")])  # fmt: skip
    glaive = []
    for r in _jsonl(data / "glaive_function_calling_demo" / "glaive_toolcall_en_demo.jsonl.gz"):
        conv = r["conversations"]
        glaive += [
            t["value"]
            for t, nxt in zip(conv, conv[1:], strict=False)
            if t["from"] == "human" and nxt["from"] == "function_call"
        ]
    add("glaive_function_calling", "tool_use", glaive)
    add("glaive_function_calling_tools", "tool_use", glaive_with_tools(data))
    tb = data / "toolbench_example_queries"
    add("toolbench", "tool_use", [r["query"] for f in sorted(tb.glob("G*_query.jsonl")) for r in _jsonl(f)])
    mt: dict[str, list[str]] = {}
    for r in _jsonl(data / "mt_bench" / "mt_bench_question.jsonl"):
        if r["category"] in MT_BENCH:
            mt.setdefault(MT_BENCH[r["category"]], []).append(r["turns"][0])
    for label, texts in mt.items():
        add(f"mt_bench_{label}", label, texts)
    wiz: dict[str, list[str]] = {}
    for r in _jsonl(data / "wizardlm_evol_instruct_testset" / "WizardLM_testset.jsonl"):
        if r["Skill"] in WIZARD:
            wiz.setdefault(WIZARD[r["Skill"]], []).append(r["Instruction"])
    for label, texts in wiz.items():
        add(f"wizardlm_{label}", label, texts)
    share = [t["value"] for r in _jsonl(data / "sharegpt_v3_partial" / "sharegpt_v3_human_turns.jsonl.gz")
             for t in r["turns"] if t.get("value") and _casual(t["value"])]  # fmt: skip
    add("sharegpt_casual", "other", share)
    share_code = [t["value"] for r in _jsonl(data / "sharegpt_v3_partial" / "sharegpt_v3_human_turns.jsonl.gz")
                  for t in r["turns"] if t.get("value") and _code_turn(t["value"])]  # fmt: skip
    add("sharegpt_code_weak", "coding", share_code)
    csv.field_size_limit(10_000_000)
    with gzip.open(data / "awesome_chatgpt_prompts" / "prompts.csv.gz", "rt", encoding="utf-8") as f:
        awesome = [r["prompt"] for r in csv.DictReader(io.StringIO(f.read())) if r.get("for_devs") != "TRUE"]
    add("awesome_chatgpt_prompts", "other", awesome)
    add(
        "alpaca_eval",
        "other",
        [r["instruction"] for r in _jsonl(data / "alpaca_eval_instructions" / "alpaca_eval_instructions.jsonl")],
    )
    return rows


def featurise(texts: list[str]) -> tuple[np.ndarray, pa.Array]:
    """(doc, term) pairs, deduplicated per doc, for the normalised lower-cased texts."""
    lower = pc.utf8_lower(normalise_array(pa.array(texts, type=pa.string())))
    return ngram_terms(lower)


def build_vocab(doc: np.ndarray, terms: pa.Array, rows: np.ndarray, corpus: np.ndarray | None = None) -> pa.Array:
    """Terms in at least MIN_DF of the given training docs and MIN_CORPORA of their corpora, the MAX_VOCAB most
    frequent: an n-gram only one corpus uses is that corpus's wording, not the request's."""
    in_rows = np.isin(doc, rows)
    enc = pc.dictionary_encode(terms.filter(pa.array(in_rows)))
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    d = doc[in_rows]
    pairs = distinct_sorted(codes * (doc.max() + 1) + d)
    df = np.bincount(pairs // (doc.max() + 1), minlength=len(enc.dictionary))
    ok = df >= MIN_DF
    if corpus is not None:
        cid = np.unique(corpus, return_inverse=True)[1]
        k = int(cid.max()) + 1
        cdf = np.bincount(distinct_sorted(codes * k + cid[d]) // k, minlength=len(enc.dictionary))
        ok &= cdf >= MIN_CORPORA
    keep = np.flatnonzero(ok)
    keep = keep[np.argsort(-df[keep], kind="stable")][:MAX_VOCAB]
    return enc.dictionary.take(pa.array(np.sort(keep)))


def matrix(doc: np.ndarray, terms: pa.Array, vocab: pa.Array, n: int) -> csr_matrix:
    """Binary doc × vocab matrix, rows L2-normalised (as in CapabilityModel.scores)."""
    feat = pc.fill_null(pc.index_in(terms, value_set=vocab), -1).to_numpy(zero_copy_only=False)
    ok = feat >= 0
    key = distinct_sorted(doc[ok] * len(vocab) + feat[ok])
    d, f = key // len(vocab), key % len(vocab)
    norm = np.sqrt(np.maximum(np.bincount(d, minlength=n), 1))
    return csr_matrix((1.0 / norm[d], (d, f)), shape=(n, len(vocab)))


@dataclass(frozen=True)
class Prepared:
    """The featurised training prompts: (doc, term) pairs, the number of prompts and each one's corpus."""

    doc: np.ndarray
    terms: pa.Array
    n: int
    corpus: np.ndarray
    cues: np.ndarray  # (n, len(CUES)) binary


def prepare(texts: list[str], corpora: list[str]) -> Prepared:
    """Featurise the prompts once; `fit` then trains on any subset of them."""
    doc, terms = featurise(texts)
    lower = pc.utf8_lower(normalise_array(pa.array(texts, type=pa.string())))
    return Prepared(doc, terms, len(texts), np.asarray(corpora), cue_matrix(lower))


def sample_weights(y: np.ndarray, corpus: np.ndarray, alpha: float = CORPUS_ALPHA) -> np.ndarray:
    """Each prompt weighs (its corpus's size) ** -alpha, then each class sums to the same total."""
    _, inv, cnt = np.unique(corpus, return_inverse=True, return_counts=True)
    w = cnt[inv].astype(np.float64) ** -alpha
    labels = np.unique(y)
    for k in labels:
        m = y == k
        w[m] *= len(y) / (len(labels) * w[m].sum())
    return w


def fit(prep: Prepared, y: np.ndarray, rows: np.ndarray, c: float = C) -> CapabilityModel:
    """Train on ``rows``; return the exported-form model."""
    doc, terms, n = prep.doc, prep.terms, prep.n
    vocab = build_vocab(doc, terms, rows, np.asarray([source_of(c) for c in prep.corpus]))
    # a rule's cue is no fitted feature: fitted, it would explain its texts' label alone and leave the other cues
    # of what they ask for (a tool described) unlearnt, which is what transfers to tools described otherwise
    fitted = np.asarray([name not in RULES for name in CUES], dtype=np.float32)
    x = hstack([matrix(doc, terms, vocab, n) * NGRAM_SCALE, csr_matrix(prep.cues * fitted * CUE_SCALE)]).tocsr()
    w = sample_weights(y[rows], prep.corpus[rows])
    clf = LogisticRegression(C=c, max_iter=1000)
    clf.fit(x[rows], y[rows], sample_weight=w)
    order = [list(clf.classes_).index(c) for c in CLASSES]
    coef = clf.coef_[order].T
    v = len(vocab)
    return CapabilityModel(CLASSES, vocab, (coef[:v] * NGRAM_SCALE).astype(np.float32),
                           clf.intercept_[order].astype(np.float32), {"rules": dict(RULES)}, tuple(CUES),
                           (coef[v:] * CUE_SCALE).astype(np.float32))  # fmt: skip


def report(title: str, y_true: list[str], y_pred: list[str]) -> float:
    """Print per-class precision/recall/F1 and the confusion matrix; return accuracy."""
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(CLASSES), zero_division=0)
    acc = float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
    print(f"\n## {title}: accuracy {acc:.3f} (n={len(y_true)})\n")
    print("| class | precision | recall | F1 | support |\n|---|---|---|---|---|")
    for i, c in enumerate(CLASSES):
        print(f"| {c} | {p[i]:.3f} | {r[i]:.3f} | {f[i]:.3f} | {s[i]} |")
    cm = confusion_matrix(y_true, y_pred, labels=list(CLASSES))
    print("\nconfusion (rows = true, columns = predicted)\n")
    print("| true \\ pred | " + " | ".join(CLASSES) + " |")
    print("|---" * (len(CLASSES) + 1) + "|")
    for i, c in enumerate(CLASSES):
        print(f"| {c} | " + " | ".join(str(v) for v in cm[i]) + " |")
    return acc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "src" / "distillguard" / "data" / MODEL_RESOURCE,
    )
    ap.add_argument("--no-cross", action="store_true", help="skip the leave-one-corpus-out table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--C", type=float, default=C, help="inverse L2 regularisation strength")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = load_corpora(args.data)
    texts, labels, corpora = (list(x) for x in zip(*rows, strict=True))
    n = len(texts)
    y, corpus = np.asarray(labels), np.asarray(corpora)
    prep = prepare(texts, corpora)
    print(f"{n} labelled prompts from {len(set(corpora))} corpora; featurised in {time.perf_counter() - t0:.1f}s")
    print("\n| corpus | label | n |\n|---|---|---|")
    for c in sorted(set(corpora)):
        print(f"| {c} | {y[corpus == c][0]} | {(corpus == c).sum()} |")

    rng = np.random.default_rng(args.seed)
    test = np.zeros(n, dtype=bool)
    for c in sorted(set(corpora)):  # stratified by corpus: 20 % of each corpus held out
        idx = np.flatnonzero(corpus == c)
        test[rng.choice(idx, size=max(1, len(idx) // 5), replace=False)] = True
    model = fit(prep, y, np.flatnonzero(~test), args.C)
    pred = model.predict(pc.utf8_lower(normalise_array(pa.array([texts[i] for i in np.flatnonzero(test)]))))
    report("held-out split (20 % of every corpus)", list(y[test]), pred.to_pylist())

    if not args.no_cross:
        print("\n## cross-corpus: train without the corpus, test on it\n")
        print("| held-out corpus | label | n | accuracy | predicted as |\n|---|---|---|---|---|")
        all_true: list[str] = []
        all_pred: list[str] = []
        source = np.asarray([source_of(c) for c in corpora])
        held_out: dict[str, CapabilityModel] = {}  # one fit per source: its corpora are left out together
        for c in sorted(set(corpora)):
            out = np.flatnonzero(corpus == c)
            s = source_of(c)
            if s not in held_out:
                held_out[s] = fit(prep, y, np.flatnonzero(source != s), args.C)
            m = held_out[s]
            pr = m.predict(pc.utf8_lower(normalise_array(pa.array([texts[i] for i in out])))).to_pylist()
            counts = {k: pr.count(k) for k in CLASSES if pr.count(k)}
            acc = float(np.mean(np.asarray(pr) == y[out]))
            print(f"| {c} | {y[out][0]} | {len(out)} | {acc:.3f} | {counts} |")
            all_true += list(y[out])
            all_pred += pr
        report("cross-corpus, all held-out corpora pooled", all_true, all_pred)

    final = fit(prep, y, np.arange(n), args.C)
    # drop near-zero weights (a smaller file): below a tenth of the n-gram scale
    keep = np.flatnonzero(np.abs(final.coef).max(axis=1) >= 0.1 * NGRAM_SCALE)
    final = CapabilityModel(CLASSES, final.vocab.take(pa.array(keep)), final.coef[keep], final.intercept, {
        "rules": dict(RULES), "trained_on": sorted(set(corpora)), "n_prompts": n, "min_df": MIN_DF,
        "min_corpora": MIN_CORPORA,
        "C": args.C, "cue_scale": CUE_SCALE, "ngram_scale": NGRAM_SCALE, "corpus_alpha": CORPUS_ALPHA,
        "features": "binary structural cues + binary word uni+bi-grams (digits->0, L2-normalised rows)",
    }, final.cues, final.cue_coef)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(final.to_json(), separators=(",", ":")), encoding="utf-8")
    print(
        f"\nwrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {len(keep)} n-grams)"
        f" in {time.perf_counter() - t0:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
