"""Watermark detection with exact p-values.

Under the null hypothesis (text written without the key) each *distinct* scored tuple (seed, token)
is green with probability exactly γ, independently, so the number of green tuples among n distinct
ones is Binomial(n, γ) and the p-value is the exact upper tail ``P[X >= k]``, not a normal
approximation. Three rules keep that true on real text:

- **De-duplication by value.** A repeated tuple repeats its green/red outcome, so counting it twice
  counts one coin flip twice: repetitive text ("lol lol lol", a pasted paragraph) then looks
  watermarked. Tuples are compared by a 64-bit digest of their *values* (`kgw.tuple_digest`), never
  by object identity (a Counter over tensor rows, the transformers ``WatermarkDetector`` pitfall,
  merges nothing), and per (seed, token) rather than per n-gram: with min-hash seeds, different
  n-grams that share their anchor token share one coin flip, so distinct n-grams still over-count.
- **Prompt exclusion.** Tuples that also occur in the prompt (text the model copied) are not scored.
- **Minimum tokens.** A verdict needs at least `min_tokens` distinct scored tuples; shorter texts get
  the p-value but the verdict ``too_short``.

Pooling several texts de-duplicates across all of them and runs one binomial test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .keys import WatermarkKey
from .kgw import GreenList, tuple_digest
from .tokenizer import Tokenizer, key_tokenizer

WATERMARKED, NOT_DETECTED, TOO_SHORT = "watermarked", "not_detected", "too_short"


@dataclass(frozen=True)
class Detection:
    """The test of one text (or of a pool of texts) against one key."""

    tokens: int  # tokens in the text(s)
    tokens_scored: int  # distinct scored tuples (after de-duplication and prompt exclusion)
    green: int  # green tuples among them
    gamma: float
    p_value: float  # exact binomial upper tail P[Binomial(tokens_scored, gamma) >= green]
    verdict: str  # watermarked | not_detected | too_short

    @property
    def z(self) -> float:
        """The z-score (for comparison with papers; the p-value is the exact one)."""
        n = self.tokens_scored
        return 0.0 if n == 0 else (self.green - self.gamma * n) / float(np.sqrt(n * self.gamma * (1 - self.gamma)))

    @property
    def green_fraction(self) -> float:
        """Share of scored tuples that are green."""
        return self.green / self.tokens_scored if self.tokens_scored else 0.0


def binomial_p_value(green: int, n: int, gamma: float) -> float:
    """Exact P[Binomial(n, gamma) >= green]."""
    from scipy.stats import binom  # scipy.stats takes ~0.5 CPU-s to import: not for every `distillguard` command

    if n == 0 or green <= 0:
        return 1.0
    return float(binom.sf(green - 1, n, gamma))


def verdict(p_value: float, tokens_scored: int, alpha: float, min_tokens: int) -> str:
    """The decision at level alpha, with the minimum-token rule."""
    if tokens_scored < min_tokens:
        return TOO_SHORT
    return WATERMARKED if p_value <= alpha else NOT_DETECTED


@dataclass(frozen=True)
class ScoredTuples:
    """Scored tuples of one text: their digests and green outcomes (duplicates kept)."""

    digest: np.ndarray  # uint64
    green: np.ndarray  # bool

    @classmethod
    def empty(cls) -> ScoredTuples:
        """No tuples."""
        return cls(np.empty(0, dtype=np.uint64), np.empty(0, dtype=bool))

    @classmethod
    def of(cls, green_list: GreenList, ids: np.ndarray | Sequence[int]) -> ScoredTuples:
        """All scorable tuples of a token sequence."""
        seeds, tokens, green = green_list.tuples(ids)
        return cls(tuple_digest(seeds, tokens), green)

    @classmethod
    def concat(cls, parts: Iterable[ScoredTuples]) -> ScoredTuples:
        """Tuples of several texts together."""
        parts = list(parts)
        if not parts:
            return cls.empty()
        return cls(np.concatenate([p.digest for p in parts]), np.concatenate([p.green for p in parts]))

    def select(self, dedup: bool = True, exclude: np.ndarray | None = None) -> ScoredTuples:
        """Drop tuples whose digest is in `exclude`, then keep one of each distinct tuple if `dedup`."""
        d, g = self.digest, self.green
        if exclude is not None and len(exclude) and len(d):
            keep = ~np.isin(d, exclude)
            d, g = d[keep], g[keep]
        if dedup and len(d):
            d, first = np.unique(d, return_index=True)
            g = g[first]
        return ScoredTuples(d, g)

    def test(self, gamma: float, tokens: int, alpha: float, min_tokens: int) -> Detection:
        """The exact binomial test on these tuples (as they are: select() first)."""
        n, k = int(len(self.digest)), int(self.green.sum())
        p = binomial_p_value(k, n, gamma)
        return Detection(tokens, n, k, gamma, p, verdict(p, n, alpha, min_tokens))


@dataclass(frozen=True)
class DetectOptions:
    """How to test: level, minimum tuples, de-duplication (on unless demonstrating the pitfall)."""

    alpha: float = 1e-3
    min_tokens: int = 16
    dedup: bool = True


class Detector:
    """Tests texts against one key using the key's tokenizer; needs no model weights.

    >>> # Detector(load_key("prod.key")).detect("some text").p_value
    """

    def __init__(self, key: WatermarkKey, tokenizer: Tokenizer | None = None,
                 options: DetectOptions | None = None) -> None:
        self.key = key
        self.tokenizer = tokenizer if tokenizer is not None else key_tokenizer(key)
        self.options = options or DetectOptions()
        self.green_list = GreenList(key)

    def tuples(self, text: str | np.ndarray | Sequence[int]) -> tuple[int, ScoredTuples]:
        """Token count and scored tuples of a text (or of token ids)."""
        ids = self.tokenizer.encode(text) if isinstance(text, str) else np.asarray(text, dtype=np.int64)
        return len(ids), ScoredTuples.of(self.green_list, ids)

    def exclusion(self, prompts: Iterable[str | None]) -> np.ndarray:
        """Digests of all tuples found in prompt texts (scored text that copies them is not counted)."""
        parts = [self.tuples(p)[1].digest for p in prompts if p]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)

    def detect(self, text: str | np.ndarray | Sequence[int], prompt: str | None = None) -> Detection:
        """Test one text (optionally excluding tuples of its prompt)."""
        n, t = self.tuples(text)
        o = self.options
        return t.select(o.dedup, self.exclusion([prompt])).test(self.key.gamma, n, o.alpha, o.min_tokens)

    def detect_many(self, texts: Sequence[str | np.ndarray],
                    prompts: Sequence[str | None] | None = None) -> tuple[list[Detection], Detection]:
        """Test each text and the pool of all of them (pooled tuples de-duplicated across texts)."""
        o, g = self.options, self.key.gamma
        prompts = list(prompts) if prompts is not None else [None] * len(texts)
        per, pool, total = [], [], 0
        for text, prompt in zip(texts, prompts, strict=True):
            n, t = self.tuples(text)
            t = t.select(o.dedup, self.exclusion([prompt]))
            per.append(t.test(g, n, o.alpha, o.min_tokens))
            pool.append(t)
            total += n
        pooled = ScoredTuples.concat(pool).select(o.dedup).test(g, total, o.alpha, o.min_tokens)
        return per, pooled
