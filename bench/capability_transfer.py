"""Does the capability model transfer to corpora it was not fitted on? A leave-one-corpus-out table.

    PYTHONPATH=src .venv/bin/python bench/capability_transfer.py [--data ../shared/data] [--cap N]

For every labelled corpus of ``bench/train_capability.py`` (the same corpora, labels and caps): fit the
model exactly as the training script does, on all the *other* corpora, and label the held-out one (corpora
drawn from one source, ``train_capability.source_of``, are left out together).
Prints per held-out corpus its accuracy and what it was labelled as; then, pooled over every held-out
prompt, accuracy and macro-F1 over the four classes, and the unweighted mean of the per-corpus
accuracies (small corpora count as much as large ones); and the in-corpus figure (a stratified 20 %
split of every corpus, the model fitted on the other 80 %), i.e. how much of the in-corpus accuracy
survives a corpus the model has never seen.

The chain-of-thought-elicitation label (``cot``) is a phrase rule, not a fitted model, and no corpus here
is labelled for it: the table gives the share of each corpus that the rule marks (none of these
corpora's prompts ask for the reasoning, except where their authors wrote "step by step" themselves).

``--cap N`` keeps at most N prompts per corpus (a quick run; the test uses it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.metrics import f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_capability as tc  # noqa: E402  (the training script is the one definition of the model's fit)

from distillguard.fingerprints.capability import CLASSES  # noqa: E402
from distillguard.fingerprints.texts import _COT, normalise_array  # noqa: E402


def _lower(texts: list[str]) -> pa.Array:
    return pc.utf8_lower(normalise_array(pa.array(texts, type=pa.string())))


def loco(rows: list[tuple[str, str, str]], seed: int = 0) -> dict:
    """Leave-one-corpus-out and in-corpus figures for (text, label, corpus) rows."""
    texts, labels, corpora = (list(x) for x in zip(*rows, strict=True))
    y, corpus = np.asarray(labels), np.asarray(corpora)
    prep = tc.prepare(texts, corpora)
    lower = _lower(texts)
    per_corpus = []
    pooled_true: list[str] = []
    pooled_pred: list[str] = []
    source = np.asarray([tc.source_of(c) for c in corpora])
    pred_of: dict[str, list[str]] = {}
    for s in sorted(set(source)):  # corpora of one source are left out together
        out = np.flatnonzero(source == s)
        model = tc.fit(prep, y, np.flatnonzero(source != s))
        pred = np.asarray(model.predict(lower.take(pa.array(out))).to_pylist())
        for c in sorted(set(corpus[out])):
            pred_of[c] = list(pred[corpus[out] == c])
    for c in sorted(set(corpora)):
        out = np.flatnonzero(corpus == c)
        pred = pred_of[c]
        per_corpus.append({
            "corpus": c, "label": str(y[out][0]), "n": len(out), "source": tc.source_of(c),
            "accuracy": float(np.mean(np.asarray(pred) == y[out])),
            "predicted": {k: pred.count(k) for k in CLASSES if pred.count(k)},
        })  # fmt: skip
        pooled_true += list(y[out])
        pooled_pred += pred
    rng = np.random.default_rng(seed)
    test = np.zeros(len(texts), dtype=bool)
    for c in sorted(set(corpora)):
        idx = np.flatnonzero(corpus == c)
        test[rng.choice(idx, size=max(1, len(idx) // 5), replace=False)] = True
    model = tc.fit(prep, y, np.flatnonzero(~test))
    in_pred = model.predict(lower.take(pa.array(np.flatnonzero(test)))).to_pylist()
    in_true = list(y[test])
    return {
        "per_corpus": per_corpus,
        "cross_accuracy": float(np.mean(np.asarray(pooled_true) == np.asarray(pooled_pred))),
        "cross_macro_f1": float(f1_score(pooled_true, pooled_pred, labels=list(CLASSES), average="macro")),
        # the same figures without the corpora derived from another (comparable with tables before them)
        **_pooled_without_derived(per_corpus, pooled_true, pooled_pred),
        "cross_mean_corpus_accuracy": float(np.mean([r["accuracy"] for r in per_corpus])),
        "in_accuracy": float(np.mean(np.asarray(in_true) == np.asarray(in_pred))),
        "in_macro_f1": float(f1_score(in_true, in_pred, labels=list(CLASSES), average="macro")),
        "cot_share": {c: float(np.mean(pc.match_substring_regex(lower.take(pa.array(np.flatnonzero(corpus == c))),
                                                                 _COT).to_numpy(zero_copy_only=False)))
                      for c in sorted(set(corpora))},
    }  # fmt: skip


def _pooled_without_derived(per_corpus: list[dict], true: list[str], pred: list[str]) -> dict:
    keep = np.concatenate([np.full(r["n"], r["source"] == r["corpus"]) for r in per_corpus])
    t, p = np.asarray(true)[keep], np.asarray(pred)[keep]
    return {"cross_accuracy_primary": float(np.mean(t == p)),
            "cross_macro_f1_primary": float(f1_score(t, p, labels=list(CLASSES), average="macro"))}


def print_table(res: dict) -> None:
    print("| held-out corpus | label | n | accuracy | labelled as | cot rule fires |\n|---|---|---|---|---|---|")
    for r in res["per_corpus"]:
        print(
            f"| {r['corpus']} | {r['label']} | {r['n']} | {r['accuracy']:.3f} | {r['predicted']} | "
            f"{res['cot_share'][r['corpus']]:.3f} |"
        )
    print("\n| figure | accuracy | macro-F1 |\n|---|---|---|")
    print(f"| in-corpus (stratified 20 % split) | {res['in_accuracy']:.3f} | {res['in_macro_f1']:.3f} |")
    print(f"| cross-corpus, pooled | {res['cross_accuracy']:.3f} | {res['cross_macro_f1']:.3f} |")
    print(f"| cross-corpus, pooled, without derived corpora | {res['cross_accuracy_primary']:.3f} | "
          f"{res['cross_macro_f1_primary']:.3f} |")
    print(f"| cross-corpus, mean of corpora | {res['cross_mean_corpus_accuracy']:.3f} | |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--cap", type=int, default=None, help="at most N prompts per corpus")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"error: corpora folder not found: {args.data}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rows = tc.load_corpora(args.data, cap=args.cap)
    res = loco(rows, args.seed)
    print(f"{len(rows)} labelled prompts from {len({r[2] for r in rows})} corpora\n")
    print_table(res)
    print(f"\n{time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
