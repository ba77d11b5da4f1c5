"""Radioactivity: was a suspect model trained on our watermarked outputs? (Sander et al., 2024)

A model fine-tuned on watermarked text inherits a preference for green tokens. Two settings:

- **Closed** (only the suspect's generations): the pooled exact test on its answers, prompt tuples
  excluded, every distinct (seed, token) tuple counted once.
- **Open** (the suspect model itself): feed it texts, take its top-1 next-token prediction at every
  position, and score the tuple (seed of the context window with the *predicted* token, predicted
  token). Best with an *unmarked* probe (human text, text from before the key): the probe is then
  independent of the key and, under the null, each distinct tuple is green with probability γ, so
  the binomial test is exact. With a *marked* probe, tuples that occur in the probe are excluded:
  an innocent model that predicts the probe's own (green-biased) tokens would otherwise look
  radioactive. That exclusion prefers to drop green tuples (the marked probe is rich in them), so the
  test stays valid but becomes conservative and loses most of its power (see bench/watermark.py).

Sander et al. found an innocent control "radioactive" when tuples were not de-duplicated; both tests
here always de-duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .detect import Detection, DetectOptions, Detector, ScoredTuples
from .kgw import tuple_digest

# ids (int64[L]) -> top-1 prediction for the token after each prefix ids[:i+1] (int64[L])
Predictor = Callable[[np.ndarray], np.ndarray]


def closed_test(detector: Detector, generations: Sequence[str | np.ndarray],
                prompts: Sequence[str | None] | None = None) -> Detection:
    """Pooled exact test of a suspect model's generations (prompt tuples excluded, de-duplicated)."""
    _, pooled = detector.detect_many(generations, prompts)
    return pooled


def prediction_tuples(detector: Detector, ids: np.ndarray, predicted: np.ndarray) -> ScoredTuples:
    """Scored tuples of the predictions: position i+1's predicted token in the context ids[..i]."""
    g, h = detector.green_list, detector.green_list.h
    ids = np.asarray(ids, dtype=np.int64)
    pred = np.asarray(predicted, dtype=np.int64)[h - 1: len(ids) - 1] if h else np.asarray(predicted)[:-1]
    if len(pred) == 0:
        return ScoredTuples.empty()
    th = g.context_hash(ids)
    if h:
        ctx = np.lib.stride_tricks.sliding_window_view(th, h).min(axis=1)[: len(pred)]
        seeds = np.minimum(ctx, g.context_hash(pred))
    else:
        seeds = g.context_hash(pred)
    return ScoredTuples(tuple_digest(seeds, pred), g.is_green(seeds, pred))


def open_test(detector: Detector, texts: Sequence[str | np.ndarray], predict: Predictor,
              exclude_input: bool = True, options: DetectOptions | None = None) -> Detection:
    """Exact test on the suspect's top-1 predictions over `texts`, de-duplicated.

    Input tuples are excluded unless `exclude_input` is False, which is valid only when the input texts
    are known to carry no watermark of this key (human text, text from before the key existed).
    """
    o = options or detector.options
    token_lists = [detector.tokenizer.encode(t) if isinstance(t, str) else np.asarray(t, dtype=np.int64)
                   for t in texts]
    seen = [detector.tuples(ids)[1].digest for ids in token_lists] if exclude_input else []
    exclude = np.unique(np.concatenate(seen)) if seen else None
    parts = [prediction_tuples(detector, ids, predict(ids)) for ids in token_lists if len(ids) > 1]
    pooled = ScoredTuples.concat(parts).select(dedup=o.dedup, exclude=exclude)
    return pooled.test(detector.key.gamma, sum(len(t) for t in token_lists), o.alpha, o.min_tokens)


def hf_predictor(model: object, max_length: int = 1024) -> Predictor:
    """A `Predictor` from a Hugging Face causal LM (torch imported here, on use)."""
    import torch

    def predict(ids: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(ids), max_length):
                chunk = torch.as_tensor(ids[start:start + max_length], dtype=torch.long)[None, :]
                out.append(model(chunk).logits[0].argmax(-1).cpu().numpy())  # type: ignore[operator]
        return np.concatenate(out).astype(np.int64)

    return predict
