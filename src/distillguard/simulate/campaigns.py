"""Campaign actors, by sophistication: L0 naive, L1 distributed, L2 mimicry, L3 adaptive hydra.

They draw ids, addresses, clients, payment and parameter values from the same generators as legitimate
users; what gives them away is behaviour: what they ask (capability-targeted corpus items in wrappers,
chain-of-thought elicitation), how (template reuse, long max_tokens), when (synchronised batches,
around-the-clock or low-and-slow) and who (signup cohorts, shared payment, account replacement, fast
pivot to a new model).
"""

from __future__ import annotations

import numpy as np

from . import identity as ident
from .accounts import DAY_US, AccountStyle, new_accounts
from .actor import API, CHAT, CODE, REASONING, Actor, DayCtx, history, turns_table
from .population import HUMAN_UA
from .prompts import GENERIC_SYSTEM, capability_items, vary_numbers, wrappers
from .timing import PROFILES, renewal_day, sessions
from .world import World

S = ident.style
CAPS = ("reasoning", "coding", "tool_use", "other")
KIND = {"reasoning": REASONING, "coding": CODE, "tool_use": API, "other": CHAT}
LONG_PARAMS = S([1, 0, 0, 0, 0, .3, 1, 1.5, .3, 1, 0], [5, 0, 0, .5, 1], [1, 0, 0, 0, 0, 0, 0, .2, 0, 0, .3, .5,
                1.5, .5, 2, .5, 1.5, 1, 1], [1, .2, 2], seed=.05)
NAIVE_PARAMS = S([0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                 0, 1, 1, 1], [1, 0, 0])
MIMIC_PARAMS = S([4, .5, .2, .5, .4, .8, .3, 2, .5, 1, .1], [6, .1, .4, .6, 1], [3, 0, 0, .2, .4, 0, .3, 1.2, .2,
                 .5, 1.4, .4, 1.8, .3, 1.2, .1, .4, .05, .05], [2, 2, 1.5])


def _item_pool(world: World, cap: str) -> tuple[np.ndarray, np.ndarray]:
    """Text indices and offered-tool indices of one capability's items (built once per world)."""
    key = f"items:{cap}"
    if key not in world.cache:
        if "items" not in world.cache:
            world.cache["items"] = capability_items(world.corpora)
        items = world.cache["items"][cap]
        texts = [t for t, _ in items]
        tools = [world.tool_list(tl) if tl else -1 for _, tl in items]
        if cap == "reasoning":  # seed problems multiplied with new numbers, as campaigns do
            texts = vary_numbers(np.random.default_rng(11), texts, 3)
            tools = [x for x in tools for _ in range(3)]
        world.cache[key] = (world.add_texts(texts), np.array(tools, dtype=np.int32))
    return world.cache[key]


def _plain(col: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    col.pop("filler")
    return col


class Campaign(Actor):
    """Common machinery: capability-targeted items, wrappers, systematic coverage of the item pools."""

    models = {"nova-pro": .55, "nova-reason": .45}
    wrappers_per_cap = 4
    paraphrase = False
    filler = 0.0  # share of benign human prompts mixed in
    cot = 0.9

    def __init__(self, world: World, serial: int, rng: np.random.Generator, campaign: str,
                 capabilities: dict[str, float]) -> None:
        super().__init__(world, serial)
        self.campaign = campaign
        caps = [c for c in CAPS if capabilities.get(c, 0) > 0]
        w = np.array([capabilities[c] for c in caps])
        self.caps, self.cap_w = caps, w / w.sum()
        self.items: dict[str, np.ndarray] = {}
        self.item_tools: dict[str, np.ndarray] = {}
        for cap in caps:
            self.items[cap], self.item_tools[cap] = _item_pool(world, cap)
        self.pre: dict[str, np.ndarray] = {}
        self.suf: dict[str, np.ndarray] = {}
        for cap in caps:
            pre, suf = wrappers(rng, self.wrappers_per_cap, cap, self.cot, self.paraphrase)
            self.pre[cap], self.suf[cap] = world.add_texts(pre), world.add_texts(suf)
        self.perm = {cap: rng.permutation(len(self.items[cap])) for cap in caps}
        self.cursor = {cap: int(rng.integers(0, len(self.items[cap]))) for cap in caps}
        self.fill = world.pool("human_single", world.corpora.human_single)
        generic = world.pool("generic_system", GENERIC_SYSTEM)
        # a campaign's tooling sends no system prompt or one of a couple of generic ones
        self.sys_choices = np.concatenate([[-1], generic[rng.choice(len(generic), 2, replace=False)]])
        none = rng.uniform(.45, .9) if self.filler == 0 else rng.uniform(.7, .95)
        self.sys_w = np.array([none, (1 - none) * .7, (1 - none) * .3])
        self._sys_acct: np.ndarray | None = None

    def account_sys(self, local: np.ndarray) -> np.ndarray:
        """Each account's worker sends no system prompt or one of the campaign's generic ones, always."""
        if self._sys_acct is None:
            rng = np.random.default_rng([self.world.seed, 9, self.serial])
            self._sys_acct = self.sys_choices[rng.choice(3, self.block.n, p=self.sys_w)]
        return self._sys_acct[local]

    def content(self, rng: np.random.Generator, n: int, wrap_slice: slice | None = None,
                local: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Prompt columns for `n` exchanges: targeted items (in coverage order) in wrappers, plus filler."""
        cap = rng.choice(len(self.caps), n, p=self.cap_w)
        body = np.empty(n, np.int64)
        pre = np.zeros(n, np.int64)
        suf = np.zeros(n, np.int64)
        tools = np.full(n, -1, np.int32)
        kind = np.empty(n, np.int8)
        for i, c in enumerate(self.caps):
            sel = np.flatnonzero(cap == i)
            k = len(sel)
            idx = self.perm[c][(self.cursor[c] + np.arange(k)) % len(self.perm[c])]
            self.cursor[c] = (self.cursor[c] + k) % len(self.perm[c])
            body[sel] = self.items[c][idx]
            tools[sel] = self.item_tools[c][idx]
            pool_pre, pool_suf = self.pre[c], self.suf[c]
            if wrap_slice is not None:
                pool_pre, pool_suf = pool_pre[wrap_slice], pool_suf[wrap_slice]
            if self.paraphrase:  # prefix and suffix drawn independently: combinatorial variety
                pre[sel] = pool_pre[rng.integers(0, len(pool_pre), k)]
                suf[sel] = pool_suf[rng.integers(0, len(pool_suf), k)]
            else:
                w = rng.integers(0, len(pool_pre), k)
                pre[sel], suf[sel] = pool_pre[w], pool_suf[w]
            kind[sel] = KIND[c]
        f = np.zeros(n, bool)
        if self.filler > 0:
            f = rng.random(n) < self.filler
            body[f] = self.fill[rng.integers(0, len(self.fill), int(f.sum()))]
            pre[f] = 0
            suf[f] = 0
            tools[f] = -1
            kind[f] = CHAT
        sys = np.full(n, -1, np.int64) if local is None else self.account_sys(local)
        sys[f] = -1
        return {"body": body, "pre": pre, "suf": suf, "tools": tools, "kind": kind, "sys": sys, "filler": f}

    def sessions_content(self, ctx: DayCtx, rng: np.random.Generator, sess: np.ndarray, turn: np.ndarray,
                         local: np.ndarray, wrap_slice: slice | None = None) -> dict[str, np.ndarray]:
        """Content for human-paced sessions: filler turns come from real conversations, with history,
        and accounts whose client sends conversation ids send them like the official apps do."""
        col = self.content(rng, len(sess), wrap_slice, local)
        filler = col.pop("filler")
        w = self.world
        off, lens, turns = turns_table(w, "chats", w.corpora.chats)
        conv = rng.integers(0, len(lens), int(sess.max()) + 1 if len(sess) else 0)[sess]
        t = np.minimum(turn, lens[conv] - 1)
        key = self.conv_numbers(ctx, sess)
        hist = history(w, w.pool("replies", w.corpora.replies), turns, off[conv], t, key)
        col["body"] = np.where(filler, turns[off[conv] + t], col["body"])
        col["hist"] = tuple(np.where(filler, h, -1) for h in hist)
        col["conv"] = np.where(self.sends_conv[local], key, -1)
        return col


class Naive(Campaign):
    """L0: a few fresh accounts on datacenter addresses, very high volume, one identical template."""

    label = "campaign:naive"
    wrappers_per_cap = 1
    adopt_tau_h = 48.0

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, campaign: str, capabilities: dict[str, float]) -> None:
        super().__init__(world, serial, rng, campaign, capabilities)
        style = AccountStyle(age_days=(0, 3), payment="shared", payment_share=1, shared_group=(n, n),
                             ip_kinds={"datacenter": 1}, ips_per_account=(1, 2), params=NAIVE_PARAMS,
                             params_per_account=(1, 1), ua={"http-lib": .7, "sdk-python": .3}, uas_per_account=(1, 1),
                             verified=.2, tiers={"pay-as-you-go": 1})
        self.block = new_accounts(world, rng, n, self.label, style, start_us, campaign)
        self.client = world.curves.pick(rng, n, 0.9)
        self.factor = rate * rng.lognormal(0, .3, n) / world.curves.daily_mean[self.client]
        self.phase = rng.integers(0, 2016, n)

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Around-the-clock requests following an always-on API client's arrival process."""
        pos, secs = renewal_day(rng, self.world.curves, self.client, self.factor, ctx.day, self.phase)
        if not len(pos):
            return None
        return self.emit(ctx, rng, pos, secs, **_plain(self.content(rng, len(pos), local=pos)))


class Distributed(Campaign):
    """L1: thousands of accounts behind a proxy service, signup cohorts, shared cards, synchronised batches,
    a handful of repeated templates with chain-of-thought elicitation and long max_tokens."""

    label = "campaign:distributed"
    wrappers_per_cap = 3
    batches_per_day = 72

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, campaign: str, capabilities: dict[str, float], pivot_tau_h: float = 10.0,
                 pivot_share: float = 0.5) -> None:
        super().__init__(world, serial, rng, campaign, capabilities)
        self.adopt_tau_h, self.adopt_share = pivot_tau_h, pivot_share
        # signup cohorts: bursts of registrations in the weeks before the campaign
        n_cohorts = max(1, n // int(rng.integers(20, 120)))
        cohort = rng.integers(0, n_cohorts, n)
        when = start_us - (rng.uniform(0.5, 30, n_cohorts) * DAY_US).astype(np.int64)
        created = when[cohort] + (rng.exponential(1800, n) * 1e6).astype(np.int64)
        pool_n = max(8, n // 5)
        kinds = rng.random(pool_n) < .55
        ints = np.where(kinds, ident.draw_ip_ints(rng, pool_n, "datacenter"),
                        ident.draw_ip_ints(rng, pool_n, "residential"))
        proxy = world.add_ips(ints)
        tool_ua = world.ua_pick(rng, 2, {"sdk-python": .8, "async-python": .2})
        ua = tool_ua[(rng.random(n) < .15).astype(np.int64)]
        style = AccountStyle(payment="shared", payment_share=1, shared_group=(15, 60), ips_per_account=(2, 6),
                             params=LONG_PARAMS, params_per_account=(1, 2), verified=.5,
                             tiers={"pay-as-you-go": .8, "free": .2})
        self.block = new_accounts(world, rng, n, self.label, style, start_us, campaign, created_us=created,
                                  ip_pool=proxy, ua=ua)
        self.p = np.clip(rate / (self.batches_per_day * 2.0), 0, 1)

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Batches fired by one orchestrator: participants send together, dispatched like a real load."""
        b = self.block
        nb = rng.poisson(self.batches_per_day)
        t_batch = np.sort(rng.uniform(0, 86400, nb))
        alive = b.created_us < ctx.start_us
        part = (rng.random((nb, b.n)) < self.p * rng.lognormal(0, .3, (nb, 1))) & alive[None, :]
        bi, acc = np.nonzero(part)
        if not len(acc):
            return None
        k = 1 + rng.poisson(1.0, len(acc))
        c = self.world.corpora.azure_conv
        dispatch = c[rng.integers(0, len(c), len(acc)), 2]
        offs = np.cumsum(dispatch) - np.repeat(np.concatenate([[0], np.cumsum(dispatch)])[
            np.searchsorted(bi, np.arange(nb))], np.bincount(bi, minlength=nb))
        local = np.repeat(acc, k)
        first = np.repeat(np.concatenate([[0], np.cumsum(k)[:-1]]), k)
        turn = np.arange(len(local)) - first
        follow = np.where(turn > 0, np.exp(np.log(25.0) + .6 * rng.standard_normal(len(local))), 0)
        cs = np.cumsum(follow)
        secs = np.repeat(t_batch[bi] + offs, k) + cs - cs[first]
        secs = np.mod(secs, 86400.0)
        return self.emit(ctx, rng, local, secs, **_plain(self.content(rng, len(local), local=local)))


class Mimicry(Campaign):
    """L2: human-looking accounts (aged, own card, one residential IP, official client, diurnal sessions),
    paraphrased wrappers and ≥20 % benign filler prompts."""

    label = "campaign:mimicry"
    wrappers_per_cap = 1500
    paraphrase = True
    filler = 0.25
    cot = 0.7
    adopt_tau_h = 36.0
    adopt_share = 0.6

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, campaign: str, capabilities: dict[str, float]) -> None:
        super().__init__(world, serial, rng, campaign, capabilities)
        style = AccountStyle(age_days=(60, 700), payment="own", payment_share=.95, ip_kinds={"residential": 1},
                             ips_per_account=(1, 1), ua=HUMAN_UA, params=MIMIC_PARAMS, verified=.95,
                             v6_share=.25, tiers={"pay-as-you-go": .7, "free": .3})
        self.block = new_accounts(world, rng, n, self.label, style, start_us, campaign)
        self.rate = rate * rng.lognormal(0, .4, n) / np.exp(.08)
        self.sends_conv = rng.random(n) < .5
        self.profile = PROFILES["casual"] if rng.random() < .5 else PROFILES["nightowl"]

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Several human-paced sessions per account and day."""
        b = self.block
        mean_len = 8.0
        n_sess = rng.poisson(self.rate / mean_len)
        s_acc = np.repeat(np.arange(b.n), n_sess)
        if not len(s_acc):
            return None
        length = 1 + rng.geometric(1 / mean_len, len(s_acc)) - 1
        pos, secs, sess, turn = sessions(rng, s_acc, length, b.tz, self.profile, 45.0, 0.9)
        return self.emit(ctx, rng, pos, secs, **self.sessions_content(ctx, rng, sess, turn, pos))


class Hydra(Campaign):
    """L3: low and slow (≈26 exchanges/account/day), accounts replaced on a ban schedule by fresh ones,
    rotating residential exits, wording drifting week by week, pivot to a new model within 24 h."""

    label = "campaign:hydra"
    wrappers_per_cap = 240
    paraphrase = True
    filler = 0.1
    cot = 0.8
    adopt_tau_h = 6.0
    adopt_share = 0.8

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, campaign: str, capabilities: dict[str, float],
                 lifetime_days: tuple[float, float] = (4, 12)) -> None:
        super().__init__(world, serial, rng, campaign, capabilities)
        # each slot runs accounts one after another; a replacement starts when the previous is "banned"
        starts, ends, slot = [], [], []
        for s in range(n):
            t = -rng.uniform(0, lifetime_days[1]) if days > lifetime_days[0] else 0.0
            while t < days:
                life = rng.uniform(*lifetime_days)
                starts.append(max(t, 0.0))
                ends.append(min(t + life, days))
                slot.append(s)
                t += life
        self.start = np.array(starts)
        self.end = np.array(ends)
        m = len(starts)
        created = (start_us + (self.start - rng.uniform(0.05, 2.0, m)) * DAY_US).astype(np.int64)
        style = AccountStyle(payment="own", payment_share=.85, ip_kinds={"residential": .7, "mobile": .3},
                             ips_per_account=(4, 15), ua={"sdk-python": .5, "app": .25, "browser": .25},
                             params=MIMIC_PARAMS, verified=.7, tiers={"pay-as-you-go": .6, "free": .4})
        self.block = new_accounts(world, rng, m, self.label, style, start_us, campaign, created_us=created)
        self.rate = rate * rng.lognormal(0, .25, m) / np.exp(.03)
        self.sends_conv = rng.random(m) < .3

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Short sessions spread over the day from the accounts alive today."""
        b = self.block
        lo, hi = np.clip(self.start - ctx.day, 0, 1), np.clip(self.end - ctx.day, 0, 1)
        frac = hi - lo
        live = np.flatnonzero(frac > 0)
        n = rng.poisson(self.rate[live] * frac[live])
        mean_len = 6.0
        n_sess = np.maximum(1, np.round(n / mean_len)).astype(np.int64) * (n > 0)
        s_acc = np.repeat(live, n_sess)
        if not len(s_acc):
            return None
        length = np.maximum(1, rng.poisson(mean_len, len(s_acc)))
        pos, secs, sess, turn = sessions(rng, s_acc, length, b.tz, PROFILES["nightowl"], 90.0, 1.1)
        inside = (secs / 86400 >= lo[pos]) & (secs / 86400 < hi[pos])
        pos, secs, sess, turn = pos[inside], secs[inside], sess[inside], turn[inside]
        week = ctx.day // 7
        k = self.wrappers_per_cap // 4
        sl = slice((week * k // 2) % (self.wrappers_per_cap - k), (week * k // 2) % (self.wrappers_per_cap - k) + k)
        return self.emit(ctx, rng, pos, secs, **self.sessions_content(ctx, rng, sess, turn, pos, sl))
