"""Sorted distinct values of a 1-D array: `np.unique`'s results through a plain sort.

numpy 2.4's `np.unique` hashes integer arrays and is tens of times slower than sorting on millions of
values; the detection stages call it on per-edge and per-exchange arrays. `unique` returns exactly what
`np.unique` returns for a 1-D array (values sorted, first-occurrence indices, inverse, counts; NaNs
collapsed into one), by one stable sort. String (object) arrays are sorted by Arrow, which is much faster
than numpy's comparison sort of Python objects.
"""

from __future__ import annotations

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
