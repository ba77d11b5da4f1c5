"""Capability label of a prompt: reasoning, coding, tool_use or other.

A transparent linear model over two blocks of features:

- *cues*: structural questions about what the text asks for, each one RE2 pattern (``CUES``): does it
  hold code, a call signature, math notation, quantities with units, numbered constraints, a question,
  a request for live data or an action in the world, a persona ... Binary, not normalised: they carry
  across corpora, because they describe the request rather than a corpus's wording.
- *n-grams*: binary word uni- and bi-grams (digits folded to ``0``, punctuation kept as its own token,
  first ``MAX_TOKENS`` tokens), each row L2-normalised; the training script keeps only n-grams seen in
  several training corpora and weighs them down against the cues.

One weight per (feature, class) plus an intercept; the label is the arg-max score. A few cues are rules, not
weights (``RULES``, listed in the model's ``meta.rules``): tools offered in the text make a request tool use,
as a request that sets the API's ``tools`` field is counted by detection. The cue names,
vocabulary and weights live in ``data/capability_model.json`` (n-gram strings and numbers only, no corpus
text), written by ``bench/train_capability.py`` from the labelled corpora in ``shared/data``;
``bench/capability_transfer.py`` measures how it does on corpora it was not fitted on. Inference is numpy
and Arrow only, vectorised over the batch, so detection does not need scikit-learn. It reads normalised,
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
_DENSE_BIGRAMS_MAX = 1 << 25  # unigram pairs in the dense bigram table (int32: 128 MB at most; the model's: 11 MB)


@dataclass(frozen=True)
class CapabilityModel:
    """Linear model: ``scores = intercept + x @ coef + cues @ cue_coef``, x binary n-grams L2-normalised per
    row, cues the binary ``CUES`` named in ``cues``."""

    classes: tuple[str, ...]
    vocab: pa.Array  # string n-grams, row i of coef
    coef: np.ndarray  # (len(vocab), len(classes)) float32
    intercept: np.ndarray  # (len(classes),) float32
    meta: dict[str, Any]
    cues: tuple[str, ...] = ()  # names in CUES, row i of cue_coef
    cue_coef: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str = "<memory>") -> CapabilityModel:
        """Build a model from its JSON form; raise ConfigError naming ``source`` when malformed."""
        try:
            classes = tuple(data["classes"])
            vocab = pa.array(data["vocab"], type=pa.string())
            coef = np.asarray(data["coef"], dtype=np.float32).reshape(len(vocab), len(classes))
            intercept = np.asarray(data["intercept"], dtype=np.float32).reshape(len(classes))
            cues = tuple(data.get("cues", ()))
            cue_coef = np.asarray(data.get("cue_coef", []), dtype=np.float32).reshape(len(cues), len(classes))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: not a capability model ({exc}); re-run bench/train_capability.py") from exc
        rules = dict(data.get("meta", {}).get("rules", {}))
        unknown = [c for c in [*cues, *rules] if c not in CUES]
        if unknown:
            raise ConfigError(f"{source}: unknown capability cues {unknown}; re-run bench/train_capability.py")
        if any(r not in cues for r in rules) or any(label not in classes for label in rules.values()):
            raise ConfigError(f"{source}: capability rules {rules} name a cue or class the model lacks")
        return cls(classes, vocab, coef, intercept, dict(data.get("meta", {})), cues, cue_coef)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``capability_model.json`` (weights rounded to 4 decimals)."""
        return {
            "format": "distillguard-capability-v2",
            "classes": list(self.classes),
            "intercept": [round(float(v), 4) for v in self.intercept],
            "cues": list(self.cues),
            "cue_coef": [round(float(v), 4) for v in self.cue_coef.ravel()],
            "vocab": self.vocab.to_pylist(),
            "coef": [round(float(v), 4) for v in self.coef.ravel()],
            "meta": self.meta,
        }

    def scores(self, lower: pa.Array) -> np.ndarray:
        """Class scores (n, k) for already normalised, lower-cased texts."""
        n, v = len(lower), len(self.vocab)
        key = self._feature_keys(lower)
        doc, feat = key // v, key % v
        norm = np.sqrt(np.maximum(np.bincount(doc, minlength=n), 1))
        out = np.empty((n, len(self.classes)), dtype=np.float64)
        weights = self.coef[feat]
        for c in range(len(self.classes)):
            out[:, c] = np.bincount(doc, weights=weights[:, c], minlength=n) / norm + self.intercept[c]
        if self.cues:
            cues = cue_matrix(lower, self.cues)
            out += cues @ self.cue_coef
            for name, label in self.meta.get("rules", {}).items():
                out[:, self.classes.index(label)] += RULE_SCORE * cues[:, self.cues.index(name)]
        return out

    def probabilities(self, lower: pa.Array) -> np.ndarray:
        """Class probabilities (n, k): the softmax of :meth:`scores` (the model is a logistic regression)."""
        s = self.scores(lower)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def _feature_keys(self, lower: pa.Array) -> np.ndarray:
        """Sorted distinct ``doc * len(vocab) + vocabulary index`` of every in-vocabulary n-gram of each text.

        The tokens of :func:`token_lists`, with the digits folded in the distinct tokens instead of the text
        (a run of digits never spans two tokens) and the token cap applied to token positions; n-grams are
        looked up by token id (bigrams in a dense table of unigram-id pairs), in 32-bit integers when the
        keys fit.
        """
        unigrams, uni_feat, bigram_table = self._dense_index()
        n, v, u = len(lower), len(self.vocab), len(unigrams)
        dt = np.int32 if n * v < 2**31 else np.int64
        lists = _split_tokens(lower)
        lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        flat = pc.list_flatten(lists)
        if len(flat) == 0:
            return np.empty(0, dt)
        enc = pc.dictionary_encode(flat)
        folded = pc.replace_substring_regex(enc.dictionary, r"\d+", "0")
        known = pc.fill_null(pc.index_in(folded, value_set=unigrams), -1).to_numpy(zero_copy_only=False)
        known = known.astype(np.int32)
        feat_of_token = np.where(known >= 0, uni_feat[np.maximum(known, 0)], -1).astype(np.int32)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        doc = np.repeat(np.arange(n, dtype=dt), lengths)
        if lengths.max() > MAX_TOKENS:  # each text's first MAX_TOKENS tokens
            first = np.cumsum(lengths) - lengths
            keep = np.arange(len(idx), dtype=np.int64) - np.repeat(first, lengths) < MAX_TOKENS
            idx, doc, lengths = idx[keep], doc[keep], np.minimum(lengths, MAX_TOKENS)
        tok, uf = known[idx], feat_of_token[idx]
        last = np.zeros(len(tok), dtype=bool)  # a text's last token starts no bigram
        last[(np.cumsum(lengths) - 1)[lengths > 0]] = True
        p = np.flatnonzero(~last[:-1] & (tok[:-1] >= 0) & (tok[1:] >= 0))
        if bigram_table is not None:
            bf = bigram_table[tok[p] * u + tok[p + 1]]
        else:  # a vocabulary too large for the dense table
            bigram_keys, bigram_feat = self._index()[2:]
            pair_key = tok[p].astype(np.int64) * u + tok[p + 1]
            pos = pc.fill_null(pc.index_in(pa.array(pair_key), value_set=bigram_keys), -1)
            pos = pos.to_numpy(zero_copy_only=False)
            bf = np.where(pos >= 0, bigram_feat[np.maximum(pos, 0)], -1)
        hit = bf >= 0
        keys = np.concatenate([doc[uf >= 0] * dt(v) + uf[uf >= 0], doc[p[hit]] * dt(v) + bf[hit]])
        return distinct_sorted(keys, runs=True)

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

    def _dense_index(self) -> tuple[pa.Array, np.ndarray, np.ndarray | None]:
        """Unigram table, unigram -> feature (int32), and a dense (id1 * |U| + id2) -> bigram feature table (-1: none;
        None when |U|² passes ``_DENSE_BIGRAMS_MAX``)."""
        cached = self._cache.get("dense")
        if cached is not None:
            return cached
        unigrams, uni_feat, bigram_keys, bigram_feat = self._index()
        table = None
        if len(unigrams) ** 2 <= _DENSE_BIGRAMS_MAX:
            table = np.full(len(unigrams) ** 2, -1, dtype=np.int32)
            table[bigram_keys.to_numpy(zero_copy_only=False)] = bigram_feat
        dense = (unigrams, uni_feat.astype(np.int32), table)
        self._cache["dense"] = dense
        return dense

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


# What a text asks for, described by its structure and by the kind of request rather than by any corpus's
# wording. Each is one RE2 pass over the first MAX_CHARS characters of the lower-cased text.
CUES = {
    "math": r"\b(?:how (?:many|much|long|far|old)|calculate|compute|solve|equation|probability|percent|sum of|"
    r"product of|average|ratio|prove|integer|divisible|remainder|fraction|area of|total cost|derivative|integral|"
    r"value of|find (?:the|all) |minimum|maximum|expected|show that|derive|theorem|lemma|by induction)\b",
    "numbers": r"\d[^\d\n]{1,40}\d[^\d\n]{1,40}\d",
    "equation": r"[a-z0-9)]\s*(?:\^|\*\*)\s*\d|\b[a-z]\s*[=<>]\s*-?\d|\d\s*[a-z]\s*[+\-=]|\b[a-z]\([a-z]\)\s*=|"
    r"[\x{221a}\x{2211}\x{222b}\x{2264}\x{2265}\x{2260}\x{03c0}]|\\\\(?:frac|sqrt|sum|int)",
    "quantity": r"\$\s?\d|\d\s?%|\d+\s*(?:hours?|minutes?|days?|weeks?|months?|years?|miles?|km|kg|pounds?|dollars?|"
    r"cents?|feet|meters?|liters?|gallons?)\b",
    "puzzle": r"\b(?:which of the following|premises?|clues?|riddle|puzzle|logic(?:al)?|deduce|conclusion|"
    r"true or false|sequence|pattern|must (?:be|have)|(?:all|some|no) \w+ are|how (?:can|do|would|could) (?:you|we|i) "
    r"(?:determine|figure out|tell|know|decide))\b",
    "question": r"\?\s*$",
    "code": r"(?m)```|\bdef \w+\(|\bfunction\s*\w*\(|\bclass \w+[:({]|\breturn\b[^\n]*;|#include|"
    r"^\s*(?:import|from) \w+|console\.|=>|\w\(\)|[{};]\s*\n",
    "codeblock": r"(?m)^(?: {4}|\t)\S|\"\"\"|>>>|^\s*(?:#|//) |\w+\.\w+\(",
    "language": r"\b(?:python|javascript|typescript|java|golang|rust|sql|html|css|react|node\.?js|bash|shell|"
    r"powershell|regex|php|swift|kotlin|ruby|scala|perl|matlab)\b|\bc(?:\+\+|#)",
    "program": r"\b(?:function|program|script|algorithm|implement(?:ation)?|class|method|compile|debug|bug|error|"
    r"exception|array|string|variable|loop|recursion|database|query)\b",
    "tool": r"\b(?:api|apis|endpoint|tools?|function call|search for|look up|fetch|current (?:price|weather|time)|"
    r"weather|stock price|book (?:a|me)|send (?:an? )?(?:email|message)|remind|schedule|exchange rate|"
    r"convert|news|directions|nearby|flights?|hotels?|restaurants?)\b",
    "live": r"\b(?:latest|current(?:ly)?|today'?s?|right now|real[- ]time|up[- ]to[- ]date|this week|tomorrow|"
    r"forecast|near me|available)\b",
    "action": r"\b(?:find|get|check|track|retrieve|search|look up|provide me with|give me the list|"
    r"list (?:of|the|all))\b",
    "persona": r"\b(?:act as|pretend|imagine you are|you are an? |role ?play|in the style of|story|poem|essay|"
    r"letter|blog post)\b",
    "constraints": r"(?m)^\s*(?:\d+[.)]|[-*\x{2022}]) \S",
    "signature": r"(?m)^\s*[a-z_]\w*\((?:[a-z_]\w*(?:, ?[a-z_]\w*)*)?\)\s*$",
    "json": r"[{\[]\s*\"\w+\"\s*:",
    # a tool the model may call is defined in the text, in any of its usual forms: a JSON function definition
    # (name + parameters / properties / a typed object), a named tool with a description of when to use it, or
    # a prose offer of tools or functions
    "tooldef": r"\"(?:parameters|properties|required_parameters|optional_parameters|api_name|input_schema)\"\s*:|"
    r"\"type\"\s*:\s*\"(?:object|function)\"|\b(?:function|tool|api) (?:schemas?|definitions?|specs?|signatures?)\b|"
    r"\bjson[- ]schema|\bopenapi\b|\b(?:access to|(?:can|may) (?:use|call)|available|provided) (?:the following |"
    r"these |some |an? )?(?:tools?|functions?|apis?|plugins?)\b|\b(?:tools?|functions?|apis?|plugins?) "
    r"(?:below|listed|provided|available)\b|"
    r"\b(?:useful|use this|used) (?:for|when|to)\b[^\n]{0,80}\b(?:query|input|search|question|information)\b|"
    r"\binput should be\b|\bsearch engine\b",
    # tools offered to the model in the text itself, as the API's `tools` field would carry them: a JSON function
    # definition, or an explicit offer of the tools below. A rule (RULES), not a fitted weight: such a request is
    # tool use whatever else it says, as detection already counts a request that sets `tools`
    "toolspec": r"\"(?:parameters|input_schema)\"\s*:\s*\{\s*\"(?:type|properties)\"|\"required_parameters\"\s*:\s*\[|"
    r"\"type\"\s*:\s*\"function\"|"
    r"\b(?:access to|(?:can|may) (?:use|call)) (?:the following|these|those|several|some) (?:tools|functions|apis)\b|"
    r"\b(?:function|tool) (?:schema|definition)s? (?:below|above|provided)\b|<tools>",
    # the text asks for a call: which tool or API, the call itself, its arguments
    "callreq": r"\b(?:function|tool|api) calls?\b|\"arguments\"\s*:|\b(?:with|which|its|the) arguments\b|"
    r"\bcall(?:ing)? (?:the |this |that |an? )?['\"]?[\w.]+['\"]? (?:api|endpoint|tool)\b|"
    r"\b(?:using|via|through) (?:the |their )?['\"]?[\w.]+['\"]? (?:api|endpoint)\b|\binvoke\b|"
    r"\bwhich (?:tools?|apis?|endpoints?)\b",
}


# Cues that decide the label outright: a text the cue matches scores RULE_SCORE more for the class
RULES = {"toolspec": "tool_use"}
RULE_SCORE = 100.0


def cue_matrix(lower: pa.Array, names: tuple[str, ...] | list[str] = tuple(CUES)) -> np.ndarray:
    """(n, len(names)) float32: 1 where the cue's pattern matches the text's first MAX_CHARS characters."""
    arr = pc.utf8_slice_codeunits(lower, 0, MAX_CHARS)
    out = np.zeros((len(lower), len(names)), dtype=np.float32)
    for i, name in enumerate(names):
        out[:, i] = pc.match_substring_regex(arr, CUES[name]).to_numpy(zero_copy_only=False)
    return out


_PUNCT = r"([^a-z0-9\x{80}-\x{10FFFF}\s_])"


def token_lists(lower: pa.Array) -> pa.Array:
    """The tokens of each text: digits folded to 0, punctuation split off, first MAX_TOKENS."""
    arr = pc.utf8_slice_codeunits(lower, 0, MAX_CHARS)
    arr = pc.replace_substring_regex(arr, r"\d+", "0")
    arr = pc.replace_substring_regex(arr, _PUNCT, " \\1 ")
    lists = pc.list_slice(pc.utf8_split_whitespace(pc.utf8_trim_whitespace(arr)), 0, MAX_TOKENS)
    return lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists


def _split_tokens(lower: pa.Array) -> pa.Array:
    """:func:`token_lists` before its digit folding and token cap (inference does both on fewer values)."""
    arr = pc.replace_substring_regex(pc.utf8_slice_codeunits(lower, 0, MAX_CHARS), _PUNCT, " \\1 ")
    lists = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(arr))
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
