"""When exchanges happen and how long they are, drawn from real serving traces.

- API-style clients follow a ServeGen client (Alibaba Bailian, 14 days of 10-minute windows): per window
  the client's rate and its fitted inter-arrival law (Weibull or Gamma), rescaled to the actor's volume.
- Humans follow sessions placed by a diurnal profile in their own time zone, with think-time gaps.
- Bursts inside a session or a dispatcher batch use the Azure 2023 conversation-service inter-arrivals.
- Completion lengths come from Azure (chat), ServeGen (API language models, reasoning model) traces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .corpora import Corpora

DAY_S = 86400
WIN_S = 600
WINDOWS = 2016  # 14 days of 10-minute windows in the ServeGen trace
US = 1_000_000

# Relative activity by local hour (0..23); sums are normalised when used.
PROFILES: dict[str, np.ndarray] = {
    "casual": np.array([2.2, 1.2, .7, .4, .3, .4, .8, 1.6, 2.6, 3.3, 3.8, 4.0, 4.2, 4.0, 4.0, 4.1, 4.2, 4.3,
                        4.3, 4.6, 5.0, 5.2, 4.6, 3.4]),
    "office": np.array([.3, .2, .1, .1, .1, .2, .5, 1.5, 4.0, 6.0, 6.6, 6.2, 4.4, 5.6, 6.4, 6.3, 5.6, 4.2, 2.5,
                        1.8, 1.6, 1.5, 1.1, .6]),
    "nightowl": np.array([4.0, 3.6, 2.8, 1.8, 1.0, .5, .4, .5, .9, 1.5, 2.2, 2.8, 3.2, 3.4, 3.6, 3.8, 4.0, 4.2,
                          4.5, 4.8, 5.0, 5.2, 5.0, 4.6]),
    "flat": np.ones(24),
}


@dataclass(frozen=True)
class ClientCurves:
    """Dense per-client window arrays built from the ServeGen table (clients × 2016 windows)."""

    rate: np.ndarray
    weibull: np.ndarray
    shape: np.ndarray
    scale: np.ndarray
    daily_mean: np.ndarray  # mean requests per day per client
    active: np.ndarray  # share of windows with traffic per client

    @classmethod
    def from_corpora(cls, c: Corpora) -> ClientCurves:
        """Spread the sparse ServeGen rows into dense (client, window) arrays."""
        sg = c.servegen
        shape = (sg.n_clients, WINDOWS)
        rate = np.zeros(shape)
        weib = np.ones(shape, dtype=bool)
        shp = np.ones(shape)
        scl = np.ones(shape)
        ok = sg.window < WINDOWS
        idx = (sg.client[ok], sg.window[ok])
        rate[idx], weib[idx], shp[idx], scl[idx] = sg.rate[ok], sg.weibull[ok], sg.shape[ok], sg.scale[ok]
        shp = np.clip(shp, 0.05, 50)
        return cls(rate, weib, shp, scl, rate.mean(axis=1) * DAY_S, (rate > 0).mean(axis=1))

    def pick(self, rng: np.random.Generator, n: int, min_active: float, max_active: float = 1.0) -> np.ndarray:
        """`n` client numbers whose share of active windows lies in [min_active, max_active]."""
        pool = np.flatnonzero((self.active >= min_active) & (self.active <= max_active) & (self.daily_mean > 0))
        if len(pool) == 0:
            pool = np.argsort(-self.active)[:10]
        return rng.choice(pool, n)


def iat_mean_unit(weibull: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """Mean of the unit-scale inter-arrival law (Weibull: Γ(1+1/k); Gamma: k)."""
    return np.where(weibull, special.gamma(1.0 + 1.0 / shape), shape)


def draw_unit_iat(rng: np.random.Generator, weibull: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """One unit-scale inter-arrival draw per element (Weibull or Gamma with the given shape)."""
    out = np.empty(len(shape))
    w = weibull
    out[w] = rng.weibull(shape[w])
    out[~w] = rng.gamma(shape[~w])
    return out


def renewal_day(rng: np.random.Generator, curves: ClientCurves, client: np.ndarray, factor: np.ndarray,
                day: int, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arrivals of one day for accounts that follow ServeGen clients scaled by `factor`.

    Returns (account position, seconds into the day). In each 10-minute window the gaps are drawn from the
    window's fitted law rescaled to mean 1/(rate·factor), as ServeGen's own generator does.
    """
    w = (phase[:, None] + day * 144 + np.arange(144)[None, :]) % WINDOWS  # (acc, 144)
    rate = curves.rate[client[:, None], w] * factor[:, None]
    expect = rate * WIN_S
    live = expect > 0.05
    a_idx, w_idx = np.nonzero(live)
    m = expect[a_idx, w_idx]
    cl, ww = client[a_idx], w[a_idx, w_idx]
    weib, shp = curves.weibull[cl, ww], curves.shape[cl, ww]
    cv = np.sqrt(np.where(weib, special.gamma(1 + 2 / shp) / special.gamma(1 + 1 / shp) ** 2 - 1, 1 / shp))
    k = np.ceil(m + 4 * np.sqrt(m) * np.maximum(np.minimum(cv, 6), 1) + 4).astype(np.int64)
    seg = np.repeat(np.arange(len(k)), k)
    gaps = draw_unit_iat(rng, weib[seg], shp[seg]) / (iat_mean_unit(weib[seg], shp[seg]) * rate[a_idx, w_idx][seg])
    cs = np.cumsum(gaps)
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    base = np.concatenate([[0.0], cs])[starts]
    t = cs - base[seg]
    keep = t < WIN_S
    # a random circular shift per window: the gaps are kept, window edges leave no mark in the timeline
    shift = rng.random(len(k)) * WIN_S
    t = (t[keep] + shift[seg[keep]]) % WIN_S
    offset = (phase.astype(np.float64) * 37.1) % WIN_S  # each account's windows start at its own second
    secs = (w_idx[seg[keep]].astype(np.float64) * WIN_S + t + offset[a_idx[seg[keep]]]) % DAY_S
    return a_idx[seg[keep]], secs


def sessions(rng: np.random.Generator, acc: np.ndarray, length: np.ndarray, tz_hours: np.ndarray,
             profile: np.ndarray, gap_median_s: float = 55.0, gap_sigma: float = 1.0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Human sessions of one UTC day: session i belongs to account `acc[i]` and has `length[i]` turns.

    Start times follow `profile` (by local hour) in the account's time zone; turns are separated by
    log-normal think-and-read gaps. Returns per exchange: (account position, seconds into the day,
    session number, turn index in the session).
    """
    n = len(acc)
    p = profile / profile.sum()
    local_h = rng.choice(24, n, p=p) + rng.random(n)
    start = ((local_h - tz_hours[acc]) % 24) * 3600.0
    sess = np.repeat(np.arange(n), length)
    first = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
    turn = np.arange(len(sess)) - first[sess]
    gaps = np.exp(np.log(gap_median_s) + gap_sigma * rng.standard_normal(len(sess)))
    gaps[first[length > 0]] = 0.0
    cs = np.cumsum(gaps)
    t = start[sess] + cs - cs[first][sess]
    return acc[sess], t % DAY_S, sess, turn


def azure_gaps(rng: np.random.Generator, c: Corpora, n: int, code: bool = False) -> np.ndarray:
    """`n` inter-arrival gaps (s) resampled from the Azure 2023 conversation (or code) service trace."""
    src = c.azure_code if code else c.azure_conv
    return src[rng.integers(0, len(src), n), 2]


def completion_tokens(rng: np.random.Generator, c: Corpora, kind: np.ndarray) -> np.ndarray:
    """Completion lengths by exchange kind: 0 chat (Azure conv), 1 code (Azure code ×), 2 API (ServeGen
    language), 3 reasoning with visible chain of thought (ServeGen DeepSeek-R1)."""
    n = len(kind)
    out = c.azure_conv[rng.integers(0, len(c.azure_conv), n), 1].astype(np.int64)
    for k, name in ((2, "language"), (3, "reasoning")):
        sel = np.flatnonzero(kind == k)
        if len(sel):
            vals, probs = c.out_tokens[name]
            out[sel] = vals[rng.choice(len(vals), len(sel), p=probs)].astype(np.int64)
    sel = np.flatnonzero(kind == 1)
    if len(sel):
        out[sel] = c.mooncake[rng.integers(0, len(c.mooncake), len(sel)), 1].astype(np.int64)
    return np.maximum(out, 1)
