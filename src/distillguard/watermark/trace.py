"""Leak tracing: which deployment or account keys does a suspect dataset carry?

Every candidate key (the deployment key and the per-account key of each listed account) gets the
pooled exact test over all texts; the family of M tests is controlled with Holm's step-down method,
so the chance of naming *any* innocent account is at most alpha (family-wise error), whatever the
dependence between the tests. Texts are tokenized once; each key costs a few vectorised passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .detect import binomial_p_value
from .keys import WatermarkKey, account_key
from .kgw import GreenList, tuple_digest
from .tokenizer import Tokenizer

TRACE_SCHEMA = pa.schema([
    ("key_id", pa.string()),
    ("account", pa.string()),
    ("tokens_scored", pa.int64()),
    ("green", pa.int64()),
    ("p_value", pa.float64()),
    ("p_adjusted", pa.float64()),
    ("significant", pa.bool_()),
])


def holm_adjust(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(p, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj_sorted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


@dataclass(frozen=True)
class _Positions:
    """All texts' tokens concatenated, with the index of every position whose window stays in its text."""

    ids: np.ndarray
    windows: np.ndarray  # (n_scorable, h+1) indices into ids
    tokens: int


def _positions(token_lists: Sequence[np.ndarray], h: int) -> _Positions:
    ids = np.concatenate(token_lists) if token_lists else np.empty(0, dtype=np.int64)
    starts = np.cumsum([0] + [len(t) for t in token_lists])
    scorable = np.concatenate([np.arange(s + h, e) for s, e in zip(starts[:-1], starts[1:], strict=True)]
                              ) if token_lists else np.empty(0, dtype=np.int64)
    windows = scorable[:, None] - np.arange(h, -1, -1)[None, :]
    return _Positions(ids, windows.astype(np.int64), int(len(ids)))


def key_counts(key: WatermarkKey, pos: _Positions) -> tuple[int, int]:
    """(distinct scored tuples, green among them) of the pooled texts under one key."""
    g = GreenList(key)
    uniq, inverse = np.unique(pos.ids, return_inverse=True)  # hash each distinct token once
    th = g.context_hash(uniq)[inverse]
    seeds = th[pos.windows].min(axis=1) if len(pos.windows) else np.empty(0, dtype=np.uint64)
    tokens = pos.ids[pos.windows[:, -1]] if len(pos.windows) else np.empty(0, dtype=np.int64)
    digest, first = np.unique(tuple_digest(seeds, tokens), return_index=True)
    green = g.is_green(seeds[first], tokens[first])
    return int(len(digest)), int(green.sum())


def _result(keys: Sequence[WatermarkKey], counts: Sequence[tuple[int, int]], gamma: float,
            alpha: float) -> pa.Table:
    p = np.array([binomial_p_value(k, n, gamma) for n, k in counts])
    adj = holm_adjust(p)
    order = np.argsort(p, kind="stable")
    return pa.table({
        "key_id": [keys[i].key_id for i in order],
        "account": [keys[i].account for i in order],
        "tokens_scored": [counts[i][0] for i in order],
        "green": [counts[i][1] for i in order],
        "p_value": p[order],
        "p_adjusted": adj[order],
        "significant": adj[order] <= alpha,
    }, schema=TRACE_SCHEMA)


def trace_keys(texts: Sequence[str], deployment_key: WatermarkKey, accounts: Sequence[str],
               tokenizer: Tokenizer, alpha: float = 1e-3) -> pa.Table:
    """Test the pooled texts against the deployment key and every account key; Holm-adjusted, sorted."""
    keys = [deployment_key] + [account_key(deployment_key, a) for a in accounts]
    pos = _positions([tokenizer.encode(t) for t in texts], deployment_key.context_width)
    return _result(keys, [key_counts(k, pos) for k in keys], deployment_key.gamma, alpha)


def trace_lexical(texts: Sequence[str], deployment_key: WatermarkKey, accounts: Sequence[str],
                  alpha: float = 1e-3) -> pa.Table:
    """The same for the post-hoc lexical watermark (slots found once, one keyed bit per slot and key)."""
    from .lexical import LexicalWatermark, find_slots

    keys = [deployment_key] + [account_key(deployment_key, a) for a in accounts]
    slots = [s for t in texts for s in find_slots(t)]
    counts = []
    for k in keys:
        t = LexicalWatermark(k).slot_tuples(slots).select(dedup=True)
        counts.append((int(len(t.digest)), int(t.green.sum())))
    return _result(keys, counts, 0.5, alpha)
