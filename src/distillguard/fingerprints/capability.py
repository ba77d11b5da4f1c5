"""Capability label of a prompt: reasoning, coding, tool_use or other.

A transparent linear model: binary word uni- and bi-grams (digits folded to ``0``, punctuation kept
as its own token, first ``MAX_TOKENS`` tokens), each row L2-normalised, one weight per (n-gram,
class) plus an intercept; the label is the arg-max score. The vocabulary and weights live in
``data/capability_model.json`` (n-gram strings and numbers only, no corpus text), written by
``bench/train_capability.py`` from the labelled corpora in ``shared/data``. Inference is numpy and
Arrow only, vectorised over the batch, so detection does not need scikit-learn. It reads normalised,
lower-cased text; `distillguard.fingerprints.capability_labels` labels raw text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.errors import ConfigError
from distillguard.fingerprints.neardup import distinct_sorted

CLASSES = ("reasoning", "coding", "tool_use", "other")
MAX_CHARS = 2000
MAX_TOKENS = 256
MODEL_RESOURCE = "capability_model.json"


@dataclass(frozen=True)
class CapabilityModel:
    """Linear model over n-grams: ``scores = intercept + x @ coef`` with x binary, L2-normalised."""

    classes: tuple[str, ...]
    vocab: pa.Array  # string n-grams, row i of coef
    coef: np.ndarray  # (len(vocab), len(classes)) float32
    intercept: np.ndarray  # (len(classes),) float32
    meta: dict[str, Any]
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "<memory>") -> CapabilityModel:
        """Build a model from its JSON form; raise ConfigError naming ``source`` when malformed."""
        try:
            classes = tuple(data["classes"])
            vocab = pa.array(data["vocab"], type=pa.string())
            coef = np.asarray(data["coef"], dtype=np.float32).reshape(len(vocab), len(classes))
            intercept = np.asarray(data["intercept"], dtype=np.float32).reshape(len(classes))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: not a capability model ({exc}); re-run bench/train_capability.py") from exc
        return cls(classes, vocab, coef, intercept, dict(data.get("meta", {})))

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``capability_model.json`` (weights rounded to 4 decimals)."""
        return {
            "format": "distillguard-capability-v1",
            "classes": list(self.classes),
            "intercept": [round(float(v), 4) for v in self.intercept],
            "vocab": self.vocab.to_pylist(),
            "coef": [round(float(v), 4) for v in self.coef.ravel()],
            "meta": self.meta,
        }

    def scores(self, lower: pa.Array) -> np.ndarray:
        """Class scores (n, k) for already normalised, lower-cased texts."""
        n, v = len(lower), len(self.vocab)
        doc, feat = self._features(lower)
        key = distinct_sorted(doc * v + feat)
        doc, feat = key // v, key % v
        norm = np.sqrt(np.maximum(np.bincount(doc, minlength=n), 1))
        out = np.empty((n, len(self.classes)), dtype=np.float64)
        for c in range(len(self.classes)):
            out[:, c] = np.bincount(doc, weights=self.coef[feat, c], minlength=n) / norm + self.intercept[c]
        return out

    def _features(self, lower: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(doc, vocabulary index) of every in-vocabulary n-gram, looked up by token id, not by string."""
        unigrams, uni_feat, bigram_keys, bigram_feat = self._index()
        lists = token_lists(lower)
        lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        flat = pc.list_flatten(lists)
        if len(flat) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        enc = pc.dictionary_encode(flat)
        known = pc.fill_null(pc.index_in(enc.dictionary, value_set=unigrams), -1).to_numpy(zero_copy_only=False)
        tok = known.astype(np.int64)[enc.indices.to_numpy(zero_copy_only=False)]
        doc = np.repeat(np.arange(len(lower), dtype=np.int64), lengths)
        uni = np.where(tok >= 0, uni_feat[np.maximum(tok, 0)], -1)
        pair = (doc[1:] == doc[:-1]) & (tok[:-1] >= 0) & (tok[1:] >= 0)
        key = tok[:-1][pair] * len(unigrams) + tok[1:][pair]
        pos = pc.fill_null(pc.index_in(pa.array(key), value_set=bigram_keys), -1).to_numpy(zero_copy_only=False)
        hit = pos >= 0
        docs = np.concatenate([doc[uni >= 0], doc[:-1][pair][hit]])
        feats = np.concatenate([uni[uni >= 0], bigram_feat[pos[hit]]])
        return docs, feats

    def _index(self) -> tuple[pa.Array, np.ndarray, pa.Array, np.ndarray]:
        """Unigram table, unigram -> feature, bigram keys (id1 * |U| + id2) and their features."""
        cached = self._cache.get("index")
        if cached is not None:
            return cached
        terms = self.vocab.to_pylist()
        words = sorted({w for t in terms for w in t.split(" ")})
        wid = {w: i for i, w in enumerate(words)}
        uni_feat = np.full(len(words), -1, dtype=np.int64)
        keys, feats = [], []
        for f, t in enumerate(terms):
            parts = t.split(" ")
            if len(parts) == 1:
                uni_feat[wid[t]] = f
            else:
                keys.append(wid[parts[0]] * len(words) + wid[parts[1]])
                feats.append(f)
        order = np.argsort(np.asarray(keys, dtype=np.int64), kind="stable")
        index = (
            pa.array(words, type=pa.string()),
            uni_feat,
            pa.array(np.asarray(keys, dtype=np.int64)[order]),
            np.asarray(feats, dtype=np.int64)[order],
        )
        self._cache["index"] = index
        return index

    def predict(self, lower: pa.Array) -> pa.Array:
        """Arg-max class name per already normalised, lower-cased text."""
        if len(lower) == 0:
            return pa.array([], type=pa.string())
        best = self.scores(lower).argmax(axis=1)
        return pa.array(np.asarray(self.classes, dtype=object)[best], type=pa.string())

    def top_terms(self, label: str, k: int = 20) -> list[tuple[str, float]]:
        """The k n-grams that push hardest towards ``label`` (for reports and reviews)."""
        c = self.classes.index(label)
        order = np.argsort(-self.coef[:, c])[:k]
        return [(self.vocab[int(i)].as_py(), float(self.coef[i, c])) for i in order]


# Lexicon cues that travel across corpora better than a corpus's own wording; each adds one pseudo-token
# (``__cue_math__`` ...) that the model weighs like any other n-gram.
CUES = {
    "math": r"\b(?:how (?:many|much|long|far|old)|calculate|compute|solve|equation|probability|percent|sum of|"
    r"product of|average|ratio|prove|integer|divisible|remainder|fraction|area of|total cost)\b",
    "numbers": r"\d[^\d\n]{1,40}\d[^\d\n]{1,40}\d",
    "code": r"(?m)```|\bdef \w+\(|\bfunction\s*\w*\(|\bclass \w+[:({]|\breturn\b[^\n]*;|#include|"
    r"^\s*(?:import|from) \w+|console\.|=>|\w\(\)|[{};]\s*\n",
    "tool": r"\b(?:api|apis|endpoint|tools?|function call|search for|look up|fetch|current (?:price|weather|time)|"
    r"weather|stock price|book (?:a|me)|send (?:an? )?(?:email|message)|remind|schedule|exchange rate|"
    r"convert|news|directions|nearby|flights?|hotels?|restaurants?)\b",
    "persona": r"\b(?:act as|pretend|imagine you are|you are an? |role ?play|in the style of|story|poem|essay|"
    r"letter|blog post)\b",
}


def token_lists(lower: pa.Array) -> pa.Array:
    """The tokens of each text: cue pseudo-tokens, digits folded to 0, punctuation split off, first MAX_TOKENS."""
    arr = pc.utf8_slice_codeunits(lower, 0, MAX_CHARS)
    cues = [pc.if_else(pc.match_substring_regex(arr, pattern), f"__cue_{name}__", "") for name, pattern in CUES.items()]
    arr = pc.replace_substring_regex(arr, r"\d+", "0")
    arr = pc.replace_substring_regex(arr, r"([^a-z0-9\x{80}-\x{10FFFF}\s_])", " \\1 ")
    arr = pc.binary_join_element_wise(*cues, arr, " ")
    lists = pc.list_slice(pc.utf8_split_whitespace(pc.utf8_trim_whitespace(arr)), 0, MAX_TOKENS + len(CUES))
    return lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists


def ngram_terms(lower: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(doc index, n-gram string) for every uni- and bi-gram of each text (training; inference uses ids)."""
    lists = token_lists(lower)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(lists)
    doc = np.repeat(np.arange(len(lower), dtype=np.int64), lengths)
    if len(flat) > 1:
        same = np.flatnonzero(doc[1:] == doc[:-1])
        bigrams = pc.binary_join_element_wise(flat.take(pa.array(same)), flat.take(pa.array(same + 1)), " ")
        return np.concatenate([doc, doc[same]]), pa.concat_arrays([flat, bigrams])
    return doc, flat


def load_model(path: str | Path | None = None) -> CapabilityModel:
    """Load the packaged model, or the one at ``path``."""
    if path is None:
        return _packaged_model()
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: cannot read capability model ({exc})") from exc
    return CapabilityModel.from_json(data, str(p))


@lru_cache(maxsize=1)
def _packaged_model() -> CapabilityModel:
    ref = resources.files("distillguard") / "data" / MODEL_RESOURCE
    try:
        data = json.loads(ref.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"distillguard/data/{MODEL_RESOURCE}: cannot read the packaged capability model ({exc}); "
            "re-install DistillGuard or run bench/train_capability.py"
        ) from exc
    return CapabilityModel.from_json(data, f"distillguard/data/{MODEL_RESOURCE}")


def classify_normalised(lower: pa.Array) -> pa.Array:
    """Capability label per normalised, lower-cased text, with the packaged model."""
    return _packaged_model().predict(lower)
