"""Near-duplicate prompt skeletons: MinHash signatures (rensa, Rust) and banded LSH in numpy.

Shingles are the word unigrams and bigrams of a skeleton, so a paraphrased wrapper with a few words
changed keeps most of its shingles while unrelated prompts share only function words. Tokens are
dictionary-encoded by Arrow and shingles hashed with numpy, so no Python loop runs per token.
Signatures come from ``rensa.RMinHash`` in one bulk call; LSH bands are hashed with numpy, rows
sharing a band become candidate pairs, each pair is verified on its estimated Jaccard similarity,
and verified pairs are clustered around leaders (no chaining, see :func:`_leaders`).

>>> wrapper = "you are an expert tutor. solve the following problem step by step and show all of your work"
>>> near_duplicate_groups([wrapper, wrapper.replace("expert", "experienced"), "hi there"]).tolist()
[0, 0, 2]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import rensa

from distillguard.errors import UsageError

NUM_PERM = 128
SEED = 20260422
MAX_TOKENS = 512  # a skeleton's first 512 tokens decide its near-duplicates
_CHUNK = 10_000  # wrappers per rensa call: its `to_rows` lists (~5 KB a wrapper) stay small
_VERIFY_PIECE = 16_384  # candidate pairs compared at a time
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def distinct_sorted(values: np.ndarray, runs: bool = False) -> np.ndarray:
    """Sorted distinct values; np.unique in numpy 2.4 hashes and is ~50x slower on millions of ints.

    `runs`: the values are mostly in ascending runs already (a stable sort merges them, ~4x faster).
    """
    if len(values) == 0:
        return values
    s = np.sort(values, kind="stable" if runs else None)
    return s[np.concatenate([[True], s[1:] != s[:-1]])]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each uint64."""
    with np.errstate(over="ignore"):
        x = x.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _token_hashes(tokens: pa.Array) -> np.ndarray:
    """A stable 64-bit hash of each (distinct) token's text (blake2b: the same in every process and release)."""
    return np.fromiter((int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
                        for t in tokens.to_pylist()), dtype=np.uint64, count=len(tokens))


def shingle_hashes(skeletons: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Flat uint64 shingle hashes (unigrams and bigrams) and row offsets, one row per skeleton."""
    n = len(skeletons)
    lists = pc.list_slice(pc.utf8_split_whitespace(skeletons), 0, MAX_TOKENS)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(lists)
    # a token is identified by its content, never by its position in this chunk's dictionary: the same wrapper
    # must get the same signature whichever chunk (of `_CHUNK` skeletons) it is hashed in
    enc = pc.dictionary_encode(flat)
    ids = _token_hashes(enc.dictionary)[enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
    doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
    same = np.flatnonzero(doc[1:] == doc[:-1]) if len(doc) > 1 else np.empty(0, np.int64)
    with np.errstate(over="ignore"):
        uni = _mix(ids + np.uint64(1))
        bi = _mix(ids[same] * np.uint64(0x9E3779B97F4A7C15) + ids[same + 1] + np.uint64(7))
    # row by row: the skeleton's unigrams, then its bigrams, or one fixed shingle for an empty skeleton (it
    # still needs one); each lands at its place directly (no sort by row)
    per_row = np.where(lengths > 0, 2 * lengths - 1, 1)
    offsets = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    shift = offsets[:-1] - (np.cumsum(lengths) - lengths)  # a row's first shingle minus its first token
    out = np.empty(int(offsets[-1]), dtype=np.uint64)
    out[np.arange(len(doc), dtype=np.int64) + shift[doc]] = uni
    out[same + (shift + lengths)[doc[same]]] = bi
    out[offsets[:-1][lengths == 0]] = np.uint64(0x5EED)
    return out, offsets.astype(np.uint64)


def minhash_signatures(skeletons: Sequence[str] | pa.Array, num_perm: int = NUM_PERM) -> np.ndarray:
    """(n, num_perm) uint32 MinHash signatures of the skeletons' shingle sets."""
    arr = skeletons if isinstance(skeletons, pa.Array) else pa.array(list(skeletons), type=pa.string())
    out = np.empty((len(arr), num_perm), dtype=np.uint32)
    for start in range(0, len(arr), _CHUNK):
        hashes, offsets = shingle_hashes(arr.slice(start, _CHUNK))
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, num_perm, SEED)
        rows = matrix.to_rows()
        if rows:
            out[start : start + len(rows)] = np.asarray(rows, dtype=np.uint32)
    return out


def _bands(num_perm: int, threshold: float) -> tuple[int, int]:
    """(bands, rows) whose LSH S-curve midpoint sits just below ``threshold`` (favour recall)."""
    best = (num_perm, 1)
    best_err = float("inf")
    for r in range(1, num_perm + 1):
        b = num_perm // r
        mid = (1.0 / b) ** (1.0 / r)
        err = abs(mid - (threshold - 0.15))
        if err < best_err:
            best, best_err = (b, r), err
    return best


def groups_from_signatures(sig: np.ndarray, threshold: float = 0.7) -> np.ndarray:
    """Group id per row (its smallest member index) from MinHash signatures."""
    n, num_perm = sig.shape
    if n == 0:
        return np.empty(0, dtype=np.int64)
    bands, rows = _bands(num_perm, threshold)
    weights = _mix(np.arange(1, rows + 1, dtype=np.uint64))
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    for b in range(bands):
        block = sig[:, b * rows : (b + 1) * rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            key = _mix((block * weights).sum(axis=1, dtype=np.uint64) + np.uint64(b))
        order = np.argsort(key, kind="stable")
        k = key[order]
        starts = np.concatenate([[True], k[1:] != k[:-1]])
        head = order[np.maximum.accumulate(np.where(starts, np.arange(n), 0))]
        member = ~starts
        src.append(head[member])
        dst.append(order[member])
    a = np.concatenate(src)
    c = np.concatenate(dst)
    if len(a):
        pairs = distinct_sorted(np.minimum(a, c) * n + np.maximum(a, c))
        a, c = pairs // n, pairs % n
        # the share of equal values, counted (the mean of the booleans, bit for bit: count / num_perm) in pieces
        # whose rows stay in the CPU caches
        agree = np.empty(len(a), dtype=np.float64)
        for s in range(0, len(a), _VERIFY_PIECE):
            piece = slice(s, s + _VERIFY_PIECE)
            agree[piece] = np.count_nonzero(sig[a[piece]] == sig[c[piece]], axis=1) / num_perm
        ok = agree >= threshold - 0.05  # MinHash estimate noise at 128 permutations is ~±0.04
        a, c = a[ok], c[ok]
    return _leaders(a, c, n)


def _leaders(a: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    """Leader clustering of verified pairs (a < c): in index order, a row joins its first similar leader.

    Unlike connected components, groups cannot chain: every member is near-duplicate of the group's
    leader (its smallest index), so A~B, B~C, C~D... does not glue unrelated short wrappers together.
    """
    leader = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return leader
    order = np.lexsort((a, c))
    a, c = a[order], c[order]
    is_leader = np.ones(n, dtype=bool)
    starts = np.flatnonzero(np.concatenate([[True], c[1:] != c[:-1]]))
    ends = np.append(starts[1:], len(c))
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        cand = a[s:e]
        hit = cand[is_leader[cand]]
        if len(hit):
            i = c[s]
            leader[i] = hit[0]
            is_leader[i] = False
    return leader


def near_duplicate_groups(skeletons: Sequence[str] | pa.Array, threshold: float = 0.7,
                          known: tuple[pa.Array, np.ndarray] | None = None) -> np.ndarray:
    """int64 group id per skeleton; near-duplicates (Jaccard ≳ threshold) share the id of their first member.

    `known`: (distinct strings, their `minhash_signatures`) computed ahead, e.g. on a thread while the caller did
    other work; a signature depends on its string alone, so the groups are the same with or without them.
    """
    if not 0.0 < threshold <= 1.0:
        raise UsageError(f"near_duplicate_groups: threshold must be in (0, 1], got {threshold}")
    arr = skeletons if isinstance(skeletons, pa.Array) else pa.array(list(skeletons), type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = pc.fill_null(arr, "")
    enc = pc.dictionary_encode(arr)
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    distinct_groups = groups_from_signatures(_signatures(enc.dictionary, known), threshold)
    # map each distinct group to the smallest *input* index among its members
    n = len(codes)
    label = distinct_groups[codes]
    first = np.full(len(enc.dictionary), n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(n, dtype=np.int64))
    return first[label]


def _signatures(strings: pa.Array, known: tuple[pa.Array, np.ndarray] | None) -> np.ndarray:
    """`minhash_signatures(strings)`, taking the rows of `known` strings from it."""
    if known is None or len(known[0]) == 0 or len(strings) == 0:
        return minhash_signatures(strings)
    where = pc.fill_null(pc.index_in(strings, value_set=known[0].cast(strings.type)), -1)
    where = where.to_numpy(zero_copy_only=False).astype(np.int64)
    sig = np.empty((len(strings), known[1].shape[1]), dtype=np.uint32)
    hit = where >= 0
    sig[hit] = known[1][where[hit]]
    missing = np.flatnonzero(~hit)
    if len(missing):
        sig[missing] = minhash_signatures(strings.take(pa.array(missing)), known[1].shape[1])
    return sig
