"""The shared tables of one simulation: texts, IPs, User-Agents, models, params, tools and accounts.

Actors register what they use here during setup and then emit integer indices per exchange; the engine
turns indices into strings in bulk (Arrow `take`), so nothing is formatted per exchange in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import identity as ident
from .corpora import Corpora
from .timing import ClientCurves


@dataclass
class AccountBlock:
    """Account attributes of one actor, local index 0..n-1 (global = offset + local)."""

    offset: int
    n: int
    actor: str
    campaign: np.ndarray  # object array of campaign ids ("" legit)
    created_us: np.ndarray  # int64
    email: np.ndarray  # object: e-mail domain
    payment: np.ndarray  # int64 payment instrument number (shared number = shared instrument); -1 none
    signup_ip: np.ndarray  # int64 world ip index
    country: np.ndarray  # int64 index in identity.COUNTRIES
    verified: np.ndarray  # bool
    tier: np.ndarray  # object
    org: np.ndarray  # int64 org number, -1 none
    tz: np.ndarray  # float64 UTC offset hours
    keys: tuple[np.ndarray, np.ndarray]  # CSR (offsets, global key numbers)
    ips: tuple[np.ndarray, np.ndarray]  # CSR (offsets, world ip indices)
    uas: tuple[np.ndarray, np.ndarray]  # CSR (offsets, ua indices)
    params: tuple[np.ndarray, np.ndarray]  # CSR (offsets, params indices)


def csr(counts: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (len n+1) and flat values for per-account lists."""
    off = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    return off, np.asarray(values)


def pick(rng: np.random.Generator, lists: tuple[np.ndarray, np.ndarray], local: np.ndarray,
         skew: float = 2.0) -> np.ndarray:
    """One element per exchange from each account's list, favouring the first ones (`u**skew`)."""
    off, vals = lists
    cnt = off[local + 1] - off[local]
    j = np.minimum((rng.random(len(local)) ** skew * cnt).astype(np.int64), cnt - 1)
    return vals[off[local] + j]


@dataclass
class World:
    """Everything shared by the actors of one simulation run."""

    corpora: Corpora
    seed: int
    curves: ClientCurves
    texts: list[str] = field(default_factory=lambda: [""])
    ips: list[int] = field(default_factory=list)
    ip_v6: list[bool] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    tools: list[list[str]] = field(default_factory=list)
    params: ident.ParamsCatalogue = field(default_factory=ident.ParamsCatalogue)
    blocks: list[AccountBlock] = field(default_factory=list)
    n_accounts: int = 0
    n_keys: int = 0
    n_payments: int = 0
    n_orgs: int = 0
    release: Any = None  # actor.Release of the scenario, if a model is released during it
    uas: list[str] = field(default_factory=list)
    ua_family: dict[str, np.ndarray] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # derived tables built once per world
    _pools: dict[str, np.ndarray] = field(default_factory=dict)
    _tool_index: dict[tuple[str, ...], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.seed, 77])
        cat = ident.ua_strings(rng)
        self.uas = [s for _, s in cat]
        fams = np.array([f for f, _ in cat])
        self.ua_family = {f: np.flatnonzero(fams == f) for f in ident.UA_FAMILIES}

    # --- registration --------------------------------------------------------------------------------
    def add_texts(self, items: Sequence[str]) -> np.ndarray:
        """Register texts; return their indices."""
        start = len(self.texts)
        self.texts.extend(items)
        return np.arange(start, len(self.texts), dtype=np.int64)

    def pool(self, name: str, items: Sequence[str]) -> np.ndarray:
        """Register a named text pool once; later calls return the same indices."""
        if name not in self._pools:
            self._pools[name] = self.add_texts(items)
        return self._pools[name]

    def add_ips(self, ints: np.ndarray, v6: np.ndarray | None = None) -> np.ndarray:
        """Register IP addresses (uint32, optional IPv6 flag); return their indices."""
        start = len(self.ips)
        self.ips.extend(ints.tolist())
        self.ip_v6.extend((v6 if v6 is not None else np.zeros(len(ints), bool)).tolist())
        return np.arange(start, len(self.ips), dtype=np.int64)

    def model(self, name: str) -> int:
        """Index of a model name (registered on first use)."""
        if name not in self.models:
            self.models.append(name)
        return self.models.index(name)

    def tool_list(self, names: Sequence[str]) -> int:
        """Index of a list of offered tool names."""
        key = tuple(names)
        if key not in self._tool_index:
            self._tool_index[key] = len(self.tools)
            self.tools.append(list(key))
        return self._tool_index[key]

    def ua_pick(self, rng: np.random.Generator, n: int, families: dict[str, float]) -> np.ndarray:
        """`n` User-Agent indices drawn from families with the given weights."""
        names = list(families)
        w = np.array([families[f] for f in names], float)
        fam = rng.choice(len(names), n, p=w / w.sum())
        out = np.empty(n, dtype=np.int64)
        for i, f in enumerate(names):
            sel = fam == i
            members = self.ua_family[f]
            # popular versions first: a Zipf over each family's catalogue
            zw = 1.0 / np.arange(1, len(members) + 1) ** 1.2
            out[sel] = members[rng.choice(len(members), int(sel.sum()), p=zw / zw.sum())]
        return out

    def new_numbers(self, what: str, n: int) -> np.ndarray:
        """Fresh global numbers for keys, payment instruments or organisations."""
        attr = {"key": "n_keys", "payment": "n_payments", "org": "n_orgs"}[what]
        start = getattr(self, attr)
        setattr(self, attr, start + n)
        return np.arange(start, start + n, dtype=np.int64)

    def add_block(self, **kw: object) -> AccountBlock:
        """Register an actor's accounts (see AccountBlock) and give them global numbers."""
        block = AccountBlock(offset=self.n_accounts, **kw)  # type: ignore[arg-type]
        self.n_accounts += block.n
        self.blocks.append(block)
        return block
