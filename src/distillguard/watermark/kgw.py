"""Generation-time keyed green-list watermark (Kirchenbauer et al., SelfHash variant).

At each step the *seed* is the minimum of a keyed hash over the last `h` context tokens **and the
candidate token itself** (Kirchenbauer et al. 2023, "On the reliability of watermarks", SelfHash with
min-hash): editing one token changes the seed of at most h+1 positions, and only if that token held
the minimum, so the mark survives local edits. A candidate is *green* when a second keyed hash of
(seed, candidate) falls below γ·2⁶⁴; green logits get +δ.

Everything a detector needs is a function of (seed, token): the *scored tuple*. Detection and the
radioactivity test count each distinct tuple once (see `detect.py`).

The hashes are a keyed 64-bit mixer (splitmix64 finaliser, two rounds) over 64-bit subkeys derived
from the 256-bit secret with BLAKE2b. That is statistically sound and fast enough to re-derive 10,000
account keys for leak tracing; it is not a cryptographic PRF, so keep key files secret all the same.

Generation:
- Hugging Face: ``model.generate(..., logits_processor=LogitsProcessorList([KGWLogitsProcessor(key)]))``
  (`KGWLogitsProcessor` imports transformers on first use).
- vLLM-style servers: ``vllm_logits_processor(key)`` returns ``fn(prompt_ids, output_ids, logits)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .keys import WatermarkKey

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TUPLE_SALT = np.uint64(0x9E3779B97F4A7C15)


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on a uint64 array (a bijection with good avalanche)."""
    x = np.asarray(x, dtype=np.uint64)
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def tuple_digest(seeds: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """One uint64 per scored tuple (seed, token); equal tuples give equal digests (used for de-duplication)."""
    return np.asarray(seeds, dtype=np.uint64) ^ mix64(np.asarray(tokens).astype(np.uint64) ^ _TUPLE_SALT)


class GreenList:
    """The keyed green-list function of one key.

    >>> from distillguard.watermark.keys import WatermarkKey
    >>> g = GreenList(WatermarkKey(secret=bytes(32), gamma=0.5, context_width=2))
    >>> g.green_mask([1, 2, 3], vocab_size=8).dtype
    dtype('bool')
    """

    def __init__(self, key: WatermarkKey) -> None:
        self.key = key
        self.h = key.context_width
        self.gamma = key.gamma
        self.delta = key.delta
        self._s_ctx = np.array([key.subkey("context")], dtype=np.uint64)
        self._s_green = np.array([key.subkey("green")], dtype=np.uint64)
        self._threshold = np.uint64(min(int(key.gamma * 2.0**64), 2**64 - 1))

    def _hash(self, ids: np.ndarray, salt: np.ndarray) -> np.ndarray:
        x = np.asarray(ids).astype(np.uint64)
        return mix64(mix64(x ^ salt) + salt)

    def context_hash(self, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """Keyed hash of each token, whose window minimum is the seed."""
        return self._hash(np.asarray(ids, dtype=np.int64), self._s_ctx)

    def is_green(self, seeds: np.ndarray, tokens: np.ndarray | Sequence[int]) -> np.ndarray:
        """Whether each token is green under its seed."""
        g = self._hash(np.asarray(tokens, dtype=np.int64), self._s_green)
        return mix64(np.asarray(seeds, dtype=np.uint64) ^ g) < self._threshold

    def seeds(self, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """Seed of every position i >= h: min of the context hash over tokens i-h … i (self included)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) <= self.h:
            return np.empty(0, dtype=np.uint64)
        th = self.context_hash(ids)
        return np.lib.stride_tricks.sliding_window_view(th, self.h + 1).min(axis=1)

    def tuples(self, ids: np.ndarray | Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(seeds, tokens, green) of every scorable position of a token sequence (positions >= h)."""
        ids = np.asarray(ids, dtype=np.int64)
        seeds = self.seeds(ids)
        tokens = ids[self.h:]
        return seeds, tokens, self.is_green(seeds, tokens)

    @lru_cache(maxsize=4)  # noqa: B019 - a handful of vocab sizes per instance, freed with it
    def _vocab_hashes(self, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
        v = np.arange(vocab_size, dtype=np.int64)
        return self.context_hash(v), self._hash(v, self._s_green)

    def green_mask(self, context: Sequence[int] | np.ndarray, vocab_size: int) -> np.ndarray:
        """Green candidates (bool[vocab_size]) for the next token after `context`."""
        th_v, gh_v = self._vocab_hashes(int(vocab_size))
        ctx = np.asarray(context, dtype=np.int64)[-self.h:] if self.h else np.empty(0, dtype=np.int64)
        seeds = th_v if len(ctx) == 0 else np.minimum(self.context_hash(ctx).min(), th_v)
        return mix64(seeds ^ gh_v) < self._threshold

    def bias(self, context: Sequence[int] | np.ndarray, vocab_size: int) -> np.ndarray:
        """The additive logit bias (δ on green candidates, 0 elsewhere) as float32."""
        return self.green_mask(context, vocab_size).astype(np.float32) * np.float32(self.delta)


def vllm_logits_processor(key: WatermarkKey) -> Callable[[Sequence[int], Sequence[int], Any], Any]:
    """A per-request logits processor ``fn(prompt_token_ids, output_token_ids, logits) -> logits``.

    Works with torch tensors (vLLM) and numpy arrays; the context is the prompt followed by the output.
    """
    green = GreenList(key)

    def process(prompt_token_ids: Sequence[int], output_token_ids: Sequence[int], logits: Any) -> Any:
        ctx = (list(prompt_token_ids) + list(output_token_ids))[-green.h:] if green.h else []
        bias = green.bias(ctx, logits.shape[-1])
        if isinstance(logits, np.ndarray):
            return logits + bias
        import torch

        return logits + torch.from_numpy(bias).to(device=logits.device, dtype=logits.dtype)

    return process


@lru_cache(maxsize=1)
def _hf_processor_class() -> type:
    import torch
    from transformers import LogitsProcessor

    class KGWLogitsProcessor(LogitsProcessor):  # type: ignore[misc]
        """Hugging Face logits processor adding δ to the keyed green list of each row.

        >>> # model.generate(ids, logits_processor=LogitsProcessorList([KGWLogitsProcessor(key)]))
        """

        def __init__(self, key: WatermarkKey) -> None:
            self.green = GreenList(key)

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            ids = input_ids.detach().cpu().numpy()
            bias = np.stack([self.green.bias(row, scores.shape[-1]) for row in ids])
            return scores + torch.from_numpy(bias).to(device=scores.device, dtype=scores.dtype)

    return KGWLogitsProcessor


def __getattr__(name: str) -> Any:
    # `KGWLogitsProcessor` subclasses transformers' class, so it is built (and torch imported) on first use.
    if name == "KGWLogitsProcessor":
        return _hf_processor_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
