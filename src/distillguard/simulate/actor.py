"""The actor protocol and the per-exchange columns every actor emits for one simulated day."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .world import AccountBlock, World, pick

US = 1_000_000
DAY_US = 86400 * US
# Completion-length kinds (see timing.completion_tokens)
CHAT, CODE, API, REASONING = 0, 1, 2, 3
COLUMNS = ("acct", "ts", "ip", "ua", "model", "sys", "hu0", "ha0", "hu1", "ha1", "pre", "body", "suf", "tools",
           "params", "kind", "conv", "key", "status")


@dataclass(frozen=True)
class Release:
    """A model released during the scenario: legitimate users adopt it slowly, campaigns pivot fast."""

    model: str
    at_us: int


@dataclass(frozen=True)
class DayCtx:
    """The day being generated."""

    day: int
    start_us: int  # midnight UTC
    weekday: int  # 0 = Monday
    release: Release | None


class Actor:
    """One behaviour with its accounts. Subclasses set `block` and implement `day`."""

    label: str = "legit:unknown"
    campaign: str = ""
    block: AccountBlock
    models: dict[str, float] = {"nova-pro": .55, "nova-lite": .3, "nova-reason": .15}
    adopt_tau_h: float = 24 * 9.0  # time constant of moving to a newly released model
    adopt_share: float = 0.45

    def __init__(self, world: World, serial: int) -> None:
        self.world = world
        self.serial = serial  # actor number in the scenario, keeps conversation numbers unique

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """The exchanges of this actor on one day (columns of COLUMNS), or None."""
        raise NotImplementedError

    # --- helpers ---------------------------------------------------------------------------------------
    def emit(self, ctx: DayCtx, rng: np.random.Generator, local: np.ndarray, secs: np.ndarray,
             body: np.ndarray, *, kind: np.ndarray | int = CHAT, pre: np.ndarray | int = 0,
             suf: np.ndarray | int = 0, sys: np.ndarray | int = -1, hist: tuple[np.ndarray, ...] | None = None,
             tools: np.ndarray | int = -1, conv: np.ndarray | None = None, ua: np.ndarray | None = None,
             ip: np.ndarray | None = None, params: np.ndarray | None = None,
             model: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Fill the columns of one day's exchanges; identity fields come from each account's habits."""
        n = len(local)
        b = self.block
        ts = ctx.start_us + (secs * US).astype(np.int64)
        full = np.full
        out = {
            "acct": local.astype(np.int64) + b.offset,
            "ts": ts,
            "ip": pick(rng, b.ips, local, 2.5) if ip is None else ip,
            "ua": pick(rng, b.uas, local, 3.0) if ua is None else ua,
            "model": self.choose_models(rng, ts) if model is None else model,
            "sys": np.broadcast_to(np.asarray(sys, np.int64), (n,)).copy(),
            "pre": np.broadcast_to(np.asarray(pre, np.int64), (n,)).copy(),
            "body": body.astype(np.int64),
            "suf": np.broadcast_to(np.asarray(suf, np.int64), (n,)).copy(),
            "tools": np.broadcast_to(np.asarray(tools, np.int32), (n,)).copy(),
            "params": pick(rng, b.params, local, 2.0).astype(np.int32) if params is None else params,
            "kind": np.broadcast_to(np.asarray(kind, np.int8), (n,)).copy(),
            "conv": full(n, -1, np.int64) if conv is None else conv,
            "key": pick(rng, b.keys, local, 1.5),
            "status": np.where(rng.random(n) < 0.003, 500, 200).astype(np.int16),
        }
        for i, name in enumerate(("hu0", "ha0", "hu1", "ha1")):
            out[name] = full(n, -1, np.int64) if hist is None else hist[i]
        return out

    def choose_models(self, rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
        """Model per exchange: the actor's usual mix, moving to a released model at its own pace."""
        names = list(self.models)
        w = np.array([self.models[m] for m in names])
        idx = np.array([self.world.model(m) for m in names], dtype=np.int16)
        out = idx[rng.choice(len(names), len(ts), p=w / w.sum())]
        rel = self.world.release
        if rel is not None:
            age_h = (ts - rel.at_us) / (3600 * US)
            p_new = np.where(age_h > 0, self.adopt_share * (1 - np.exp(-np.maximum(age_h, 0) / self.adopt_tau_h)), 0)
            out = np.where(rng.random(len(ts)) < p_new, np.int16(self.world.model(rel.model)), out)
        return out

    def conv_numbers(self, ctx: DayCtx, sess: np.ndarray) -> np.ndarray:
        """Globally unique conversation numbers for this actor's sessions of the day."""
        return (np.int64(self.serial) << 44) | (np.int64(ctx.day) << 30) | sess.astype(np.int64)


def turns_table(world: World, name: str, convs: list[list[str]], max_turns: int = 12
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Register conversations as one text pool: (offsets, lengths, text indices of the turns)."""
    if name not in world.cache:
        convs = [c[:max_turns] for c in convs if c]
        lens = np.array([len(c) for c in convs], dtype=np.int64)
        flat = world.pool(name, [t for c in convs for t in c])
        off = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        world.cache[name] = (off, lens, flat)
    return world.cache[name]


def history(world: World, replies: np.ndarray, turn_text: np.ndarray, conv_start: np.ndarray,
            turn: np.ndarray, sess_key: np.ndarray) -> tuple[np.ndarray, ...]:
    """The two previous (user, assistant) pairs of each exchange in a conversation (-1 where none).

    Assistant turns are model-written answers chosen deterministically per (session, turn), so the same
    reply appears in every later request of that conversation.
    """
    out = []
    for back in (2, 1):
        t = turn - back
        ok = t >= 0
        u = np.where(ok, turn_text[np.where(ok, conv_start + t, 0)], -1)
        a = np.where(ok, replies[(sess_key * 31 + t) % len(replies)], -1)
        out += [u, a]
    return tuple(out)
