"""`distinct.unique` returns exactly what `np.unique` returns, on every dtype the detection stages use."""

from __future__ import annotations

import numpy as np
import pytest

from distillguard.detection.sorted_unique import unique

FLAGS = [dict(), dict(return_inverse=True), dict(return_index=True, return_counts=True),
         dict(return_index=True, return_inverse=True, return_counts=True)]


def _arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    words = np.array([f"acct-{i}" for i in rng.integers(0, 50, 400)] + ["é-ü", "Z", "a"], dtype=object)
    floats = rng.integers(0, 20, 500) / 4.0
    floats[::37] = np.nan
    return [rng.integers(-30, 30, 1000), rng.integers(0, 2**63, 300, dtype=np.uint64), floats, words,
            np.array([], np.int64), np.array([], dtype=object), np.array([7]), np.array(["only"], dtype=object)]


@pytest.mark.parametrize("flags", FLAGS)
def test_matches_numpy_unique(flags) -> None:
    for arr in _arrays():
        got, want = unique(arr, **flags), np.unique(arr, **flags)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype or g.dtype.kind == w.dtype.kind
            np.testing.assert_array_equal(g, w)


def test_mixed_objects_fall_back_to_numpy_order() -> None:
    arr = np.array([3, 1, 3, 2], dtype=object)
    np.testing.assert_array_equal(unique(arr, return_inverse=True)[1], np.unique(arr, return_inverse=True)[1])
