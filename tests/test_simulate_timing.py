from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from distillguard.simulate import load_corpora
from distillguard.simulate.timing import PROFILES, ClientCurves, renewal_day, sessions


@pytest.fixture(scope="module")
def curves() -> ClientCurves:
    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip("corpora not found")
    return ClientCurves.from_corpora(load_corpora(SHARED_DATA))


def _window_gaps(curves: ClientCurves, client: int, window: int, factor: float, accounts: int = 3
                 ) -> np.ndarray:
    """Gaps between consecutive arrivals inside one ServeGen window, for many accounts following it."""
    rng = np.random.default_rng(5)
    day, w_in_day = divmod(window, 144)
    cl = np.full(accounts, client)
    phase = np.zeros(accounts, np.int64)
    pos, secs = renewal_day(rng, curves, cl, np.full(accounts, factor), day, phase)
    lo = w_in_day * 600.0
    inside = (secs >= lo) & (secs < lo + 600)
    gaps = []
    for a in range(accounts):
        t = np.sort(secs[inside & (pos == a)])
        gaps.append(np.diff(t))
    return np.concatenate(gaps)


def _busy_window(curves: ClientCurves, weibull: bool) -> tuple[int, int]:
    rate = np.where(curves.weibull == weibull, curves.rate, 0)
    day_total = curves.rate.reshape(len(curves.rate), 14, 144).sum(axis=2).repeat(144, axis=1)
    # a busy window in a day that is not much busier overall (keeps the test small)
    # moderate burstiness: with extreme CVs the 10-minute window itself truncates the gap law (as in
    # ServeGen's own generator), and sub-microsecond gaps vanish in µs timestamps
    ok = (rate > 0.5) & (np.abs(curves.shape - 1) > 0.3) & (curves.shape > 0.45) & (curves.shape < 4)
    ok &= day_total < 40 * rate
    rate = np.where(ok, rate, 0)
    c, w = np.unravel_index(np.argmax(rate), rate.shape)
    return int(c), int(w)


@pytest.mark.parametrize("weibull", [True, False])
def test_generated_gaps_follow_the_servegen_window_fit(curves: ClientCurves, weibull: bool) -> None:
    c, w = _busy_window(curves, weibull)
    # ~4000 arrivals per account in the window, so edge effects of the finite window stay negligible
    factor = 6.6 / curves.rate[c, w]
    k, rate = curves.shape[c, w], curves.rate[c, w] * factor
    gaps = _window_gaps(curves, c, w, factor)
    assert len(gaps) > 2000
    if weibull:
        ref = stats.weibull_min(k, scale=1 / (rate * special.gamma(1 + 1 / k)))
    else:
        ref = stats.gamma(k, scale=1 / (rate * k))
    assert stats.kstest(gaps, ref.cdf).pvalue > 0.01
    # and the test can fail: the same gaps are not exponential with that rate
    assert stats.kstest(gaps, stats.expon(scale=1 / rate).cdf).pvalue < 1e-6


def test_daily_volume_matches_the_client_curve_scaled(curves: ClientCurves) -> None:
    c, _ = _busy_window(curves, True)
    rng = np.random.default_rng(2)
    n = 200
    f = 2000 / max(curves.rate[c, :144].sum() * 600, 1)
    pos, _ = renewal_day(rng, curves, np.full(n, c), np.full(n, f), 0, np.zeros(n, np.int64))
    expect = curves.rate[c, :144].sum() * 600 * f
    assert abs(len(pos) / n - expect) / expect < 0.1


def test_session_gaps_are_lognormal_think_times_and_starts_follow_the_profile() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    acc, secs, sess, turn = sessions(rng, np.arange(n), np.full(n, 6), np.zeros(n), PROFILES["office"], 60.0, 0.8)
    order = np.lexsort((secs, sess))
    gaps = np.diff(secs[order])[np.diff(sess[order]) == 0]
    gaps = gaps[(gaps > 0) & (gaps < 40000)]  # sessions wrapping midnight are cut by the day
    assert stats.kstest(gaps, stats.lognorm(0.8, scale=60.0).cdf).pvalue > 0.01
    first = secs[turn == 0] / 3600
    hist = np.bincount(first.astype(int), minlength=24) / len(first)
    p = PROFILES["office"] / PROFILES["office"].sum()
    assert np.abs(hist - p).max() < 0.02
