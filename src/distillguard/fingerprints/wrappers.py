"""Wrapper templates: the repeated part of prompts that differ only by their payload.

A campaign prompt is ``<wrapper prefix> <payload> <wrapper suffix>``; the payload (a benchmark question,
a code task) is new in nearly every prompt, the wrapper's sentences come back in thousands. So each
skeleton is cut into *segments* (lines and sentences), and a segment counts as wrapper when it

- has at least ``MIN_SEGMENT_TOKENS`` tokens (``thanks`` or ``<num>`` alone says nothing), and
- occurs in at least ``min_df`` distinct skeletons of the batch, and in at least ``DF_RATIO`` times
  as many as the most repeated segment of the same prompt (a benchmark question may come back
  behind a few wrappers; the wrapper comes back across the whole campaign), or
- is one of the ``known`` segments (wrapper segments learnt earlier, e.g. by ``detect`` on the whole
  log, so that a small online batch at the gateway gets the same ids).

Runs of other segments become one ``<payload>``; the result, joined by newlines, is the prompt's
``wrapper`` and its blake2b-64 the ``wrapper_id``. A prompt without a payload or without a wrapper
of at least ``MIN_WRAPPER_TOKENS`` tokens keeps its skeleton and template id. Mimicry that rotates
hundreds of wrapper variants built from a few phrase banks still repeats its *segments*: their ids
are returned per prompt (``segment_ids``) so that links can be made on shared wrapper segments.

>>> w = find_wrappers(pa.array(["solve this problem step by step\\nq one", "solve this problem step by step\\nq two"]))
>>> w.wrapper.to_pylist()
['solve this problem step by step\\n<payload>', 'solve this problem step by step\\n<payload>']
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.fingerprints.neardup import distinct_sorted

MIN_SEGMENT_TOKENS = 3
MIN_WRAPPER_TOKENS = 4
DF_RATIO = 0.1
SENTENCE_SPLIT = r"[.?!:;](?:\s|$)|\n"
PAYLOAD = "<payload>"


def stable_hash64(values: pa.Array | Sequence[str]) -> np.ndarray:
    """blake2b-64 of each string as int64: identical across processes, machines and versions."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), type=pa.string())
    if len(values) == 0:
        return np.empty(0, dtype=np.int64)
    raw = values.cast(pa.binary()).to_pylist()
    digest = b"".join([hashlib.blake2b(b, digest_size=8).digest() for b in raw])
    return np.frombuffer(digest, dtype="<i8").astype(np.int64)


@dataclass(frozen=True)
class Wrappers:
    """Per skeleton: its wrapper string and id, and the ids of its wrapper segments."""

    wrapper: pa.Array  # string
    wrapper_id: np.ndarray  # int64
    segment_ids: pa.Array  # list<int64>, in prompt order
    segments: pa.Table  # the repeated segments found: segment_id, segment, skeletons


def segments_of(skeletons: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(skeleton index, segment text) of every non-empty line / sentence of each skeleton."""
    lists = pc.split_pattern_regex(skeletons, SENTENCE_SPLIT)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    doc = np.repeat(np.arange(len(skeletons), dtype=np.int64), lengths)
    nonempty = pc.greater(pc.utf8_length(flat), 0)
    return doc[nonempty.to_numpy(zero_copy_only=False)], flat.filter(nonempty)


def find_wrappers(
    skeletons: pa.Array,
    template_ids: np.ndarray | None = None,
    min_df: int = 2,
    known: Sequence[str] | pa.Array | None = None,
) -> Wrappers:
    """Wrappers of distinct skeletons (see the module docstring); ``template_ids`` default to their hashes."""
    n = len(skeletons)
    if template_ids is None:
        template_ids = stable_hash64(skeletons)
    doc, flat = segments_of(skeletons)
    enc = pc.dictionary_encode(flat)
    dictionary = enc.dictionary
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ntok = pc.list_value_length(pc.utf8_split_whitespace(dictionary)).to_numpy(zero_copy_only=False)
    df = np.bincount(distinct_sorted(codes * max(n, 1) + doc) // max(n, 1), minlength=len(dictionary))
    seg_df = np.where(ntok[codes] >= MIN_SEGMENT_TOKENS, df[codes], 0)
    top = np.zeros(n, dtype=np.int64)
    np.maximum.at(top, doc, seg_df)
    keep = (seg_df >= max(2, min_df)) & (seg_df >= DF_RATIO * top[doc])
    if known is not None and len(known):
        known_arr = known if isinstance(known, pa.Array) else pa.array(list(known), type=pa.string())
        keep |= pc.is_in(dictionary, value_set=known_arr).to_numpy(zero_copy_only=False)[codes]
    prev_payload = np.zeros(len(codes), dtype=bool)
    prev_payload[1:] = (doc[1:] == doc[:-1]) & ~keep[:-1]
    emit = keep | ~prev_payload  # one <payload> per run of payload segments
    seg = pc.if_else(pa.array(keep), flat, pa.scalar(PAYLOAD)).filter(pa.array(emit))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(doc[emit], minlength=n))]).astype(np.int32)
    wrapper = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), seg), "\n")
    kept_tokens = np.bincount(doc[keep], weights=ntok[codes[keep]], minlength=n)
    has_payload = np.bincount(doc[~keep], minlength=n) > 0
    usable = (kept_tokens >= MIN_WRAPPER_TOKENS) & has_payload
    wrapper = pc.if_else(pa.array(usable), wrapper, skeletons)
    wrapper_id = np.asarray(template_ids, dtype=np.int64).copy()
    idx = np.flatnonzero(usable)
    if len(idx):
        wrapper_id[idx] = stable_hash64(wrapper.take(pa.array(idx)))
    # ids of the kept segments: hash each distinct kept segment once
    kept_codes = distinct_sorted(codes[keep])
    seg_hash = np.zeros(len(dictionary), dtype=np.int64)
    seg_hash[kept_codes] = stable_hash64(dictionary.take(pa.array(kept_codes)))
    seg_offsets = np.concatenate([[0], np.cumsum(np.bincount(doc[keep], minlength=n))]).astype(np.int32)
    segment_ids = pa.ListArray.from_arrays(pa.array(seg_offsets), pa.array(seg_hash[codes[keep]]))
    segments = pa.table(
        {
            "segment_id": pa.array(seg_hash[kept_codes]),
            "segment": dictionary.take(pa.array(kept_codes)),
            "skeletons": pa.array(df[kept_codes].astype(np.int64)),
        }
    )
    return Wrappers(wrapper, wrapper_id, segment_ids, segments)
