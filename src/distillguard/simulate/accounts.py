"""Account creation, shared by legitimate and campaign actors (one generator, different settings)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import identity as ident
from .world import AccountBlock, World, csr

DAY_US = 86400 * 1_000_000


@dataclass(frozen=True)
class AccountStyle:
    """How an actor's accounts look: age, e-mail, payment, network, client and parameter habits."""

    age_days: tuple[float, float] = (30, 900)  # account age at the simulation start (uniform range)
    email: str = "free"  # free | org | edu
    payment: str = "own"  # own | none | shared | org
    payment_share: float = 0.6  # share of accounts with a payment instrument (own / shared)
    shared_group: tuple[int, int] = (15, 60)  # accounts per shared instrument
    ip_kinds: dict[str, float] = field(default_factory=lambda: {"residential": .75, "mobile": .25})
    ips_per_account: tuple[int, int] = (1, 4)
    ua: dict[str, float] = field(default_factory=lambda: {"app": .5, "browser": .5})
    uas_per_account: tuple[int, int] = (1, 2)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    params_per_account: tuple[int, int] = (1, 2)
    keys: tuple[int, int] = (1, 2)
    verified: float = 0.7
    tiers: dict[str, float] = field(default_factory=lambda: {"free": .6, "pay-as-you-go": .4})
    countries: dict[str, float] | None = None  # None: the global mix
    v6_share: float = 0.2


def _ranged(rng: np.random.Generator, n: int, lo_hi: tuple[int, int]) -> np.ndarray:
    return rng.integers(lo_hi[0], lo_hi[1] + 1, n)


def new_accounts(world: World, rng: np.random.Generator, n: int, actor: str, style: AccountStyle,
                 start_us: int, campaign: str = "", org: np.ndarray | None = None,
                 created_us: np.ndarray | None = None, ip_pool: np.ndarray | None = None,
                 org_domain: list[str] | None = None, payment: np.ndarray | None = None,
                 ua: np.ndarray | None = None) -> AccountBlock:
    """Create `n` accounts of one actor; shared things (org, ip pool, payment, UA) may be passed in."""
    if style.countries is None:
        country = rng.choice(len(ident.COUNTRIES), n, p=ident.COUNTRY_W / ident.COUNTRY_W.sum())
    else:
        names = list(style.countries)
        w = np.array([style.countries[c] for c in names])
        country = np.array([ident.COUNTRIES.index(c) for c in names])[rng.choice(len(names), n, p=w / w.sum())]
    tz = ident.COUNTRY_TZ[country] + rng.normal(0, 0.6, n)
    if created_us is None:
        age = rng.uniform(style.age_days[0], style.age_days[1], n)
        created_us = (start_us - age * DAY_US).astype(np.int64)
    if org_domain is not None:
        email = np.array(org_domain, dtype=object)
    else:
        fm = rng.choice(len(ident.FREE_MAIL), n, p=ident.FREE_MAIL_W / ident.FREE_MAIL_W.sum())
        email = np.array(ident.FREE_MAIL, dtype=object)[fm]
    if payment is None:
        payment = np.full(n, -1, dtype=np.int64)
        has = rng.random(n) < style.payment_share
        if style.payment == "own":
            payment[has] = world.new_numbers("payment", int(has.sum()))
        elif style.payment == "shared":
            size = rng.integers(style.shared_group[0], style.shared_group[1] + 1, n)
            group = np.repeat(np.arange(n), size)[:n]
            payment = world.new_numbers("payment", int(group.max()) + 1)[group]
        elif style.payment == "org":
            payment[:] = world.new_numbers("payment", 1)[0]
    # network: each account gets its own addresses unless a shared pool (NAT, proxy service) is given
    n_ip = _ranged(rng, n, style.ips_per_account)
    if ip_pool is None:
        kinds = list(style.ip_kinds)
        kw = np.array([style.ip_kinds[k] for k in kinds])
        kind = rng.choice(len(kinds), int(n_ip.sum()), p=kw / kw.sum())
        ints = np.empty(len(kind), dtype=np.uint32)
        for i, k in enumerate(kinds):
            sel = kind == i
            ints[sel] = ident.draw_ip_ints(rng, int(sel.sum()), k)
        is_dc = np.array([k == "datacenter" for k in kinds])[kind]
        ip_vals = world.add_ips(ints, (rng.random(len(ints)) < style.v6_share) & ~is_dc)
    else:
        ip_vals = ip_pool[rng.integers(0, len(ip_pool), int(n_ip.sum()))]
    ips = csr(n_ip, ip_vals)
    signup_ip = ip_vals[ips[0][:-1]]
    n_ua = _ranged(rng, n, style.uas_per_account)
    uas = csr(n_ua, world.ua_pick(rng, int(n_ua.sum()), style.ua)) if ua is None else csr(
        np.ones(n, np.int64), ua)
    n_par = _ranged(rng, n, style.params_per_account)
    params = csr(n_par, world.params.habit(rng, style.params, int(n_par.sum())))
    n_key = _ranged(rng, n, style.keys)
    keys = csr(n_key, world.new_numbers("key", int(n_key.sum())))
    tiers = list(style.tiers)
    tw = np.array([style.tiers[t] for t in tiers])
    tier = np.array(tiers, dtype=object)[rng.choice(len(tiers), n, p=tw / tw.sum())]
    return world.add_block(
        n=n, actor=actor, campaign=np.full(n, campaign, dtype=object), created_us=created_us.astype(np.int64),
        email=email, payment=payment, signup_ip=signup_ip, country=country, verified=rng.random(n) < style.verified,
        tier=tier, org=org if org is not None else np.full(n, -1, dtype=np.int64), tz=tz, keys=keys, ips=ips,
        uas=uas, params=params)
