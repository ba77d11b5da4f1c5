"""Sorted distinct values of a 1-D array: `np.unique`'s results through a plain sort.

numpy 2.4's `np.unique` hashes integer arrays and is tens of times slower than sorting on millions of
values; the detection stages call it on per-edge and per-exchange arrays. `unique` returns exactly what
`np.unique` returns for a 1-D array (values sorted, first-occurrence indices, inverse, counts; NaNs
collapsed into one), by one stable sort. String (object) arrays are sorted by Arrow, which is much faster
than numpy's comparison sort of Python objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _stable_order(v: np.ndarray) -> np.ndarray:
    if v.dtype == object and len(v):
        try:
            return pc.sort_indices(pa.array(v, pa.string())).to_numpy().astype(np.intp)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return np.argsort(v, kind="stable")


def unique(values: Any, *, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False) -> Any:
    """Drop-in for `np.unique` on a 1-D array (same outputs, same order), via a stable sort."""
    v = np.asarray(values).ravel()
    want = return_index or return_inverse or return_counts
    order = _stable_order(v) if want or v.dtype == object else None
    s = v[order] if order is not None else np.sort(v)
    mask = np.ones(len(s), bool)
    if len(s) > 1:
        mask[1:] = s[1:] != s[:-1]
        if s.dtype.kind in "fc":
            mask[1:] &= ~(np.isnan(s[1:]) & np.isnan(s[:-1]))
    uniq = s[mask]
    if not want:
        return uniq
    out: list[np.ndarray] = [uniq]
    if return_index:
        out.append(order[mask])
    if return_inverse:
        inv = np.empty(len(v), np.intp)
        inv[order] = np.cumsum(mask) - 1
        out.append(inv)
    if return_counts:
        starts = np.flatnonzero(mask)
        out.append(np.diff(np.append(starts, len(s))).astype(np.intp))
    return tuple(out)


def strings(x: pa.Array | pa.ChunkedArray | Sequence[str]) -> pa.Array | pa.ChunkedArray:
    """`x` as an Arrow string column (Arrow's hash kernels, unique and index_in, have no string_view kernel)."""
    if not isinstance(x, pa.Array | pa.ChunkedArray):
        return pa.array(list(x), pa.string())
    return x.cast(pa.string()) if pa.types.is_string_view(x.type) else x


def positions(col: pa.Array | pa.ChunkedArray | Sequence[str], values: pa.Array | pa.ChunkedArray | Sequence[str],
              last: bool = False) -> np.ndarray:
    """Index of each value of `col` in `values` (-1: absent), by one hash lookup per row in Arrow.

    Where `values` repeats a value: its first index, or with `last` its last one (what a dict built over
    `values` would give).
    """
    col, values = strings(col), strings(values)
    if len(values) == 0:
        return np.full(len(col), -1, np.int64)
    if not last:
        return np.asarray(pc.index_in(col, value_set=values).fill_null(-1).to_numpy(), np.int64)
    # index_in returns the first match: look up the reversed values
    rev = values[::-1] if isinstance(values, pa.Array) else values.combine_chunks()[::-1]
    idx = np.asarray(pc.index_in(col, value_set=rev).fill_null(-1).to_numpy(), np.int64)
    return np.where(idx >= 0, len(values) - 1 - idx, -1)
