"""Scores in [0, 1] with reason codes (DESIGN.md step 7), and the operating point that turns them into flags.

Two layers, both from the threat rather than from any one generator:
- an *individual* extraction score per account: concentration on extraction capabilities (reasoning,
  coding, tool use) × how it asks (chain-of-thought elicitation, single-turn, long max_tokens, sweeping
  many distinct prompts), discounted when the account has too little traffic to judge. On its own it is
  capped below any sensible threshold: one researcher running a benchmark looks exactly like this.
- a *campaign* score per group of linked accounts: the group's extraction behaviour × how tightly its
  accounts are bound × its size × whether its accounts run concurrently (a campaign's accounts overlap in
  time, independent benchmark runs do not).

The flag threshold is separate (`threshold_for`), set by `fpr_target` (the share of legitimate accounts the
operator accepts to flag) in two ways, no labels used:
- a floor that moves one `floor_per_decade` per decade of fpr_target around `floor` at `floor_fpr`
  (0.5 at the default 0.001; 0.4 at 0.01, 0.6 at 0.0001, clipped to [`floor_min`, `floor_max`]): a looser
  target flags weaker campaigns, a stricter one only the most certain;
- the (1 − fpr_target) quantile of the scores of accounts that belong to no group — the population that by
  construction carries no coordination evidence: once the floor falls below `individual_cap`, at most
  about fpr_target of the unlinked accounts can be flagged on their individual behaviour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .campaigns import Grouping
from .shared_traffic import MEASURES
from .sorted_unique import positions

# evidence that two accounts run the same client software: its sampling configuration and fingerprint
CLIENT_DEFAULT_KINDS = ("client-fingerprint", "shared-params")

INDIVIDUAL_WEIGHTS = {"extraction": 0.30, "cot": 0.20, "single_turn": 0.10, "long_output": 0.15, "sweep": 0.10,
                      "output_ratio": 0.05, "around_clock": 0.05, "regular": 0.05}


@dataclass(frozen=True)
class ScoreConfig:
    """Knobs of the scoring stage."""

    individual_cap: float = 0.45     # max score an account can reach without coordination evidence ...
    # ... unless its extraction behaviour is strong and sustained (`solo_score`): its individual score less
    # `solo_offset`, in full from `sustained_full_days` days of activity (its traffic over its busiest day's),
    # nothing up to `sustained_min_days` (one run of a benchmark, a weekend's experiment), less as its traffic is
    # replayed (texts other accounts send verbatim)
    solo_offset: float = 0.1
    sustained_min_days: float = 2.0
    sustained_full_days: float = 7.0
    floor: float = 0.5               # the flag threshold's floor at fpr_target = floor_fpr
    floor_fpr: float = 0.001
    floor_per_decade: float = 0.1    # the floor moves this much per decade of fpr_target
    floor_min: float = 0.2
    floor_max: float = 0.9
    own_power: float = 1.0
    full_tie_degree: float = 3.0    # linked accounts inside the group that count as fully tied
    full_tie_strength: float = 1.2  # ... and kind-weighted link strength
    single_family_min_accounts: int = 8
    single_family_factor: float = 0.6
    behaviour_low: float = 0.35      # group behaviour at or below this: no campaign (legit batch, teams)
    behaviour_high: float = 0.55     # ... at or above this: full campaign behaviour
    harvest_level: float = 0.55      # group behaviour of a fully bound group with the harvesting shape
    harvest_full_strength: float = 5.0  # link strength inside the group at which harvesting counts fully
    # a group whose accounts all declare one organisation is one known customer running several keys (a
    # lab's benchmark harness, a QA team), not a ring of fake accounts: no campaign score, each account
    # keeps its capped individual score. Past this many accounts the org itself looks like a key farm.
    one_customer_max_accounts: int = 50
    # a group member declaring such an org (fewer than half of the group's keys) and tied to the group by
    # content alone inherits nothing from it — when the group holds at most this many such orgs
    bystander_max_orgs: int = 2
    # one run of a suite: this share of the account's traffic in its busiest day, and at least this many
    # exchanges (a farm's short-lived accounts are bursts too, of a few dozen requests, and inherit)
    one_run_burst: float = 0.9
    one_run_min_exchanges: int = 100
    # behaviour measured on the traffic an account shares with its group counts from this many shared
    # exchanges on: one or two coincidental exchanges (a developer who once sent a prompt with a campaign's
    # wording) say nothing about how the account behaves
    shared_min_exchanges: int = 10
    # a group's behaviour is measured on the accounts carrying its own content (at least this many of
    # them); with fewer, on all its accounts
    core_min_accounts: int = 5
    # a community inside a group (`_community_fit`) inherits the group's campaign score in full while its behaviour
    # gate is at least this share of the group's (a campaign's parts vary: a small part's upper quartile is noisy),
    # in proportion below
    community_share: float = 0.5
    # a group whose typical account looks like one run of a shared suite (`suite_run`) at or above
    # `suite_high` is independent customers replaying one benchmark or problem set, not a campaign; at or
    # below `suite_low` the group is scored as it is (a campaign's accounts may replay a few texts too)
    suite_low: float = 0.3
    suite_high: float = 0.8
    band_step: float = 10.0          # review and watch: the operating point at 10× and 100× the fpr target
    # accounts of one group paid by one payment instrument, at least this many and none declaring an
    # organisation, are one operator's ring (a known customer with many keys declares itself). Coordination
    # proven by money needs less extraction behaviour: the ring is judged as a group of its own, its
    # behaviour gate (`behaviour_low`, `behaviour_high`) lowered by `operator_relief`
    operator_min_accounts: int = 5
    operator_relief: float = 0.2
    # a grouped account whose traffic is completions recycled between accounts (`provenance_share`: answers it
    # received that another account sent back, or others' answers it sends as tool results or prompts) is
    # making the model's outputs into a pipeline's data, whatever the topic: as a member it behaves at this
    # level once `provenance_full` of its traffic is such
    provenance_level: float = 0.6
    provenance_full: float = 0.5


@dataclass(frozen=True)
class Scores:
    """Per-account and per-group scores."""

    accounts: pa.Table               # account_id, score, individual, group, strength, in_block
    group_score: np.ndarray          # campaign score per group index
    group_parts: dict[str, np.ndarray]  # the components of group_score, per group index


def _col(t: pa.Table, name: str, default: float = 0.0) -> np.ndarray:
    if name not in t.column_names:
        return np.full(t.num_rows, default)
    return np.nan_to_num(t[name].to_numpy(zero_copy_only=False).astype(float), nan=default)


def _samples(t: pa.Table) -> np.ndarray:
    """How many samples of an account's behaviour its exchanges are: each a sample, a single-message agent's task
    once (`task_units`, see `features.TASK_SQL`; its exchanges where a table does not count tasks)."""
    return _col(t, "task_units") if "task_units" in t.column_names else _col(t, "exchanges")


def _evidence(samples: Any) -> Any:
    """How far `samples` samples of behaviour are enough to judge it, in [0, 1)."""
    return 1.0 - np.exp(-np.asarray(samples, float) / 20.0)


def individual_parts(features: pa.Table) -> dict[str, np.ndarray]:
    """The individual signals, each in [0, 1], per account (same order as `features`)."""
    n = _samples(features)
    return {
        # asking for the reasoning itself is extraction whatever the topic
        "extraction": np.maximum(1.0 - _col(features, "cap_other", 1.0), _col(features, "cot_share")),
        "cot": _col(features, "cot_share"),
        "single_turn": _col(features, "single_turn_share"),
        "long_output": _col(features, "long_max_tokens_share"),
        "sweep": np.clip(_col(features, "template_diversity"), 0, 1),
        "around_clock": np.clip((_col(features, "hour_entropy") - 0.75) / 0.2, 0, 1),
        "regular": np.clip((0.3 - _col(features, "burstiness")) / 0.6, 0, 1),
        "output_ratio": np.clip(np.log10(np.maximum(_col(features, "output_input_ratio"), 1.0)) / 1.5, 0, 1),
        "evidence": _evidence(n),
        # harvesting shape, whatever the topic: single-turn, every prompt new (no repeated suite) and sent
        # by no other account (not a shared homework/eval prompt) — a dataset being walked through
        "harvest": (_col(features, "single_turn_share") * np.clip(_col(features, "template_diversity"), 0, 1)
                    * (1.0 - np.clip(_col(features, "replayed_share"), 0, 1)) * _evidence(n)),
    }


def suite_run(features: pa.Table) -> np.ndarray:
    """How much each account looks like one run of a shared suite, in [0, 1] (same order as `features`).

    A researcher running a public benchmark, a lab's harness, a class doing one problem set: the account sends
    texts that other accounts send verbatim too (replayed), each once (no repeats of its own), all in one
    burst (its busiest day is nearly all of its traffic). Independent customers each replaying one suite is
    not an operator dividing work between its accounts: a campaign walking a dataset sends each text once
    across all its accounts, and keeps coming back day after day. The product needs all three at once.
    """
    n = np.maximum(_col(features, "exchanges"), 1.0)
    replayed = np.clip(_col(features, "replayed_share"), 0, 1)
    once = np.clip(_col(features, "template_diversity"), 0, 1)
    burst = np.clip(_col(features, "peak_per_day") / n, 0, 1)
    return replayed * once * burst


def solo_score(features: pa.Table, config: ScoreConfig = ScoreConfig()) -> np.ndarray:
    """Score an account earns on its own behaviour, sustained, in [0, 1] (same order as `features`).

    One researcher running a benchmark looks exactly like extraction for a day or two; an account whose own
    traffic reads as extraction day after day for a week and more is a harvester whether or not anything ties it
    to other accounts (an operator that gives each account its own wording, network and card leaves no link, but
    cannot make a week of harvesting look like anything else). The individual score less `solo_offset` (0.6 reaches
    the default floor, 0.5), scaled by how sustained it is — 0 up to `sustained_min_days` days of activity, 1 from
    `sustained_full_days`, the days counted as the account's traffic over its busiest day's (at most its active
    days) — and by how much of the traffic is the account's own (`_own` of its replayed share:
    a course's or an eval suite's texts other accounts send too are not).
    """
    # days of activity, counted as the traffic's whole over its busiest day's: a benchmark run of 1,300 requests in
    # one day and a dozen on eight others is one day of work, not nine
    n = _col(features, "exchanges")
    days = np.minimum(_col(features, "active_days"), n / np.maximum(_col(features, "peak_per_day"), 1.0))
    sustained = np.clip((days - config.sustained_min_days) / (config.sustained_full_days - config.sustained_min_days),
                        0, 1)
    own = _own(np.clip(_col(features, "replayed_share"), 0, 1))
    return np.clip(individual_score(features) - config.solo_offset, 0, 1) * sustained * own


def individual_score(features: pa.Table, evidence: np.ndarray | None = None) -> np.ndarray:
    """Extraction-likeness of each account on its own, in [0, 1]: a weighted sum of the signals, discounted as far
    as its samples are too few to judge — `evidence` in [0, 1] instead where given (`_operator_rings`)."""
    p = individual_parts(features)
    s = sum(w * p[k] for k, w in INDIVIDUAL_WEIGHTS.items())
    return np.clip(s * (0.5 + 0.5 * (p["evidence"] if evidence is None else evidence)), 0, 1)


def score_accounts(features: pa.Table, grouping: Grouping, config: ScoreConfig = ScoreConfig(),
                   orgs: Sequence[str | None] | None = None, shared: pa.Table | None = None,
                   cards: np.ndarray | None = None) -> Scores:
    """Combine individual and campaign evidence into one score per account.

    `orgs`: the one organisation each account declares on all its traffic (None: none or several), aligned
    with `features`. `shared`: behaviour features of grouped accounts restricted to the traffic they share
    with their group (`shared_traffic.shared_traffic_features`); None scores whole-account averages only.
    `cards`: each account's payment instrument as a number, -1 for none (`features.payment_cards`).
    """
    ids = features["account_id"].to_pylist()
    ind = individual_score(features)
    first, last = _col(features, "first_ts"), _col(features, "last_ts")
    at = positions(features["account_id"], grouping.accounts, last=True)   # row of each account in the grouping
    found = at >= 0
    gi = np.where(found, np.asarray(grouping.group, np.int64)[np.maximum(at, 0)], -1) if len(grouping.accounts) \
        else np.full(len(ids), -1, np.int64)
    strength = _take(grouping.strength, at, 0.0).astype(float)
    degree = _take(grouping.degree, at, 0.0).astype(float)
    in_block = _take(grouping.in_block, at, False).astype(bool)
    tied = np.ones(len(ids), bool) if grouping.operator_tied is None else \
        _take(grouping.operator_tied, at, False).astype(bool)
    customer = _known_customers(orgs, len(ids), config)
    # one run of a suite (a researcher's benchmark pass: `one_run_min_exchanges` or more, nearly all in one day)
    # tied to its group by content alone is no member of an operation that keeps coming back
    n_all = _col(features, "exchanges")
    bystander = ((n_all >= config.one_run_min_exchanges) & ~tied
                 & (_col(features, "peak_per_day") >= config.one_run_burst * np.maximum(n_all, 1.0)))
    n_groups = int(gi.max()) + 1 if len(gi) and gi.max() >= 0 else 0
    replay = _col(features, "replayed_share")
    # behaviour of an account as a group member: its extraction-likeness, or the harvesting shape (distinct
    # single-turn payloads, e.g. writing/roleplay/instruction data) as far as strong links bind it to its
    # group — never on its own: an unlinked harvester keeps its capped individual score
    bound = np.clip(strength / config.harvest_full_strength, 0, 1)
    beh = np.maximum(ind, config.harvest_level * individual_parts(features)["harvest"] * bound)
    core = np.zeros(len(ids), bool)   # grouped accounts with enough traffic carrying their group's own keys
    carry = np.ones(len(ids))         # how much of its group's campaign score an account may inherit
    unshared = np.zeros(len(ids), bool)  # members of a group measured on its core that share none of its content
    n_exchanges = _col(features, "exchanges")
    has_shared = shared is not None and shared.num_rows > 0
    mt = _aligned_shared(features["account_id"], shared) if has_shared else MemberTraffic.absent(len(ids))
    sh_n = mt.n                       # each account's exchanges carrying its group's own content
    if has_shared:
        # the same behaviour measured on the exchanges that bind the account to its group: benign cover
        # traffic (chat around the harvesting) no longer dilutes it. Grouped accounts only, so an unlinked
        # account still keeps its capped individual score.
        sh_ind, sh_harvest, _, own_traffic, own_ind, own_n, _ = mt
        ok = (gi >= 0) & (sh_n >= config.shared_min_exchanges)
        core = ok
        # a member whose traffic is mostly popular content (texts that accounts in no group send too) is judged
        # as a member on the rest only: heavy users pasting well-known conversations look like extraction by
        # topic, but what they send is everybody's
        beh = np.where(gi >= 0, beh * own_traffic, beh)
        beh = np.maximum(beh, np.where(ok, np.maximum(sh_ind, config.harvest_level * sh_harvest * bound), 0.0))
        # ... and on the part of it that is the member's own: the payloads its group's wording carries, which no
        # other member sends verbatim. A front whose members relay the same end-user chats among themselves
        # (replayed, so discounted above) is judged on what it wraps
        beh = np.maximum(beh, np.where((gi >= 0) & (own_n >= config.shared_min_exchanges), own_ind, 0.0))
    # completions recycled between accounts are extraction whatever the topic (the group's agents' tool results
    # that other accounts of it generate, answers pasted back for grading): measured on the recycled share
    prov = np.clip(_col(features, "provenance_share") / config.provenance_full, 0, 1)
    beh = np.where(gi >= 0, np.maximum(beh, config.provenance_level * prov), beh)
    suite = suite_run(features)
    card = np.full(len(ids), -1, np.int64) if cards is None else np.asarray(cards, np.int64)
    if orgs is not None:   # an account declaring its organisation is a known customer's, whoever pays
        card = np.where(np.array([o is None for o in orgs], bool), card, -1)
    operator_score = np.zeros(len(ids))
    ring_like = np.zeros(len(ids))    # how much a ring member behaves like its ring (`_operator_rings`)
    parts = {k: np.zeros(n_groups) for k in ("size", "behaviour", "binding", "concurrency", "accounts", "replay",
                                            "one_customer", "suite", "operator")}
    # each group's accounts in ascending row order, from one stable sort (not one scan of all rows per group)
    by_group = np.argsort(gi, kind="stable")
    bounds = np.searchsorted(gi[by_group], np.arange(n_groups + 1))
    for g in range(n_groups):
        m = by_group[bounds[g]:bounds[g + 1]]
        if len(m) == 0:
            continue
        parts["accounts"][g] = len(m)
        # two accounts are thin evidence (two researchers running one benchmark); five are a pattern
        parts["size"][g] = _size(len(m))
        # upper quartile: a campaign's group may carry legitimate hangers-on; their own score stays low
        # ... measured on the accounts that carry the group's own content: riders (a popular app's users joined
        # through its system prompt, chat users sharing a greeting) must not dilute a campaign as it grows
        # ... when enough of them do to speak for the group: four heavy users sharing a template in a cluster
        # of 268 casual and developer accounts are not the group's character (two accounts are thin evidence)
        parts["behaviour"][g], measured = _behaviour(beh, m, core, config.core_min_accounts)
        if measured:
            # in a group with its own content, a member that barely sends it (a batch customer sharing a
            # template phrase with a campaign, one exchange in 670) inherits in proportion to what it sends:
            # fully from `shared_min_exchanges` such exchanges, or from half of its traffic (a short-lived
            # account of a farm sends few exchanges, nearly all of them the campaign's). A member bound by other
            # evidence only (payment, infrastructure, a client's sampling defaults), or not yet measured (an
            # incremental update's newcomer), has no shared traffic to judge by: it inherits as far as its own
            # behaviour is the group's (`like`, below) — a farm's account fully, a casual user whose client shares
            # a campaign's defaults in proportion (and that again through `own`)
            unshared[m] = sh_n[m] == 0
            carry[m] = np.where(unshared[m], 1.0, np.clip(np.maximum(sh_n[m] / config.shared_min_exchanges,
                                                                     2.0 * sh_n[m] / np.maximum(n_exchanges[m], 1.0)),
                                                          0, 1))
        parts["binding"][g] = _binding(strength[m], config)
        parts["concurrency"][g] = _concurrency(first[m], last[m])
        parts["replay"][g] = float(np.median(replay[m]))
        parts["suite"][g] = float(np.median(suite[m]))
        ring_score, ring_like[m] = _operator_rings(m, card, beh, core, strength, first, last, suite, mt, config)
        operator_score[m] = ring_score
        parts["operator"][g] = float((ring_score > 0).mean())
        # a known customer's keys riding in a group of other accounts (a lab whose public benchmark a campaign
        # also walks, whose prompts share the campaign's craft) tied to it by content alone are a bystander: it is
        # known and runs its own workload. Tied by payment, network, client or timing, it is not
        # — one or two such customers: a group holding the keys of many small organisations (a reseller
        # declaring one per product, a farm one per key) is not a customer passing by
        known = m[customer[m] >= 0]
        if len(known):
            codes, counts = np.unique(customer[known], return_counts=True)
            if len(codes) <= config.bystander_max_orgs:
                bystander[known] |= np.isin(customer[known], codes[2 * counts < len(m)]) & ~tied[known]
        if orgs is not None and 2 <= len(m) <= config.one_customer_max_accounts:
            declared = {orgs[i] for i in m}
            parts["one_customer"][g] = float(len(declared) == 1 and bool(next(iter(declared))))
    behaviour = _behaviour_gate(parts["behaviour"], config)
    # a small group held together by one kind of evidence only (e.g. three evaluators using one prompt
    # format) is weaker than one bound by content *and* timing, infrastructure or payment
    fam = grouping.families[:n_groups] if len(grouping.families) >= n_groups else np.ones(n_groups)
    parts["families"] = fam.astype(float)
    single = (fam < 2) & (parts["accounts"] < config.single_family_min_accounts)
    group_score = (_bound_campaign(parts["size"], behaviour, parts["binding"], parts["concurrency"])
                   * np.where(single, config.single_family_factor, 1.0) * (1.0 - parts["one_customer"])
                   * (1.0 - _suite_ramp(parts["suite"], config)))
    score = np.maximum(np.minimum(ind, 1.0) * config.individual_cap, solo_score(features, config))
    if n_groups:
        gb = np.where(gi >= 0, parts["behaviour"][np.maximum(gi, 0)], 1.0)
        like = np.clip(beh / np.maximum(gb, 1e-9), 0, 1)   # how much the account behaves like its group
        # (a member with a few shared exchanges inherits at least what it would with none: its behaviour's
        # likeness. Its one or two exchanges with a neighbouring phrase must not weigh against it — a campaign
        # whose wording variants are each held by too few of its accounts to be the group's own leaves its
        # members exactly that)
        # (and as far as its own community inside the group behaves like a campaign: an extension's users bound to
        # a campaign by the sites both visit are a community of their own, whose behaviour is the users')
        gs = (np.where(gi >= 0, group_score[np.maximum(gi, 0)], 0.0)
              * np.where(unshared, like, np.maximum(carry, np.where(sh_n < config.shared_min_exchanges, like, 0.0)))
              * ~bystander * _community_fit(_take(grouping.community, at, -1) if grouping.community is not None
                                            else None, gi, beh, core, parts["behaviour"], config))
        # an account riding in a campaign's group but behaving unlike it (a NAT neighbour, a shared
        # greeting) keeps little of the campaign's score. An operator's ring inside the group is judged on its
        # own, its members against it; the group's other members (a popular framework's users bound to it by
        # tool schemas) carry no such proof and keep the group's score
        inherited = np.maximum(gs * like ** config.own_power, operator_score * ring_like ** config.own_power)
        # tied to the group by strong links to several of its accounts, not by one loose link
        size = np.where(gi >= 0, parts["accounts"][np.maximum(gi, 0)], 1.0)
        full = np.maximum(np.minimum(config.full_tie_degree, size - 1), 1.0)
        tie = np.clip(strength / config.full_tie_strength, 0, 1) * np.clip(degree / full, 0, 1)
        # and an account that is itself one run of a shared suite (a lab's benchmark pass whose harness a
        # campaign happens to share) does not inherit the campaign's score
        score = np.maximum(score, inherited * tie * (1.0 - _suite_ramp(suite, config)))
    table = pa.table({"account_id": ids, "score": np.round(np.clip(score, 0, 1), 6), "individual": ind,
                      "group": gi, "strength": strength, "in_block": in_block})
    return Scores(accounts=table, group_score=group_score, group_parts=parts)


def _known_customers(orgs: Sequence[str | None] | None, n: int, config: ScoreConfig) -> np.ndarray:
    """Per account, the number of the organisation it declares when that org runs at most
    `one_customer_max_accounts` keys (a known customer; past that the org itself looks like a key farm); -1:
    none."""
    if orgs is None:
        return np.full(n, -1, np.int64)
    names, code, counts = np.unique(np.array([o or "" for o in orgs], object), return_inverse=True,
                                    return_counts=True)
    small = (names != "") & (counts <= config.one_customer_max_accounts)
    return np.where(small[code], code, -1).astype(np.int64)


def _operator_rings(m: np.ndarray, card: np.ndarray, beh: np.ndarray, core: np.ndarray, strength: np.ndarray,
                    first: np.ndarray, last: np.ndarray, suite: np.ndarray, mt: MemberTraffic,
                    config: ScoreConfig) -> tuple[np.ndarray, np.ndarray]:
    """Campaign score of each account of group `m` (row indices) as a member of its operator's ring, and how much
    it behaves like its ring, in [0, 1]; 0 and 0 outside any ring.

    A ring: the group's accounts paid by one card (`card`, -1: none or declared), at least
    `operator_min_accounts` of them, scored like a group with its behaviour gate lowered by `operator_relief`.
    Its accounts are one operator's, so each is a sample of one behaviour: a member's own part (the payloads its
    group's wording carries, `MemberTraffic.own_full`) is judged with the evidence of the whole ring's own parts,
    not its own few — a front whose every account relays real end users' chat and slips in three of the owner's
    jobs is judged on the jobs, with the ring's hundreds behind them.
    """
    out, like = np.zeros(len(m)), np.zeros(len(m))
    paid = card[m] >= 0
    if paid.sum() < config.operator_min_accounts:
        return out, like
    cards, counts = np.unique(card[m][paid], return_counts=True)
    for c in cards[counts >= config.operator_min_accounts]:
        at = np.flatnonzero(card[m] == c)
        r = m[at]
        # (a ring is judged on 2 or more of its accounts carrying the group's content, not the group's
        # `core_min_accounts`: it has its own proof of coordination, the card)
        behaviour, _ = _behaviour(beh, r, core, 2)
        out[at] = (_bound_campaign(_size(len(r)), _behaviour_gate(behaviour, config, config.operator_relief),
                                   _binding(strength[r], config), _concurrency(first[r], last[r]))
                   * (1.0 - float(_suite_ramp(np.median(suite[r]), config))))
        pooled = mt.own_full[r] * (0.5 + 0.5 * _evidence(mt.own_n[r].sum()))
        like[at] = np.clip(np.maximum(beh[r], np.where(mt.own_n[r] > 0, pooled, 0.0)) / max(behaviour, 1e-9), 0, 1)
    return out, like


def _community_fit(community: np.ndarray | None, gi: np.ndarray, beh: np.ndarray, core: np.ndarray,
                   group_behaviour: np.ndarray, config: ScoreConfig) -> np.ndarray:
    """Per account, how far its community inside its group (`Grouping.community`, aligned with `gi`) behaves like
    a campaign against the whole group, in [0, 1]: the behaviour gate of the community's behaviour (`_behaviour`)
    over `community_share` of the group's. 1 outside a group, in a community of fewer than `core_min_accounts`
    accounts (too few to speak for themselves) and where communities are not known.

    Modularity may bind two dense communities into one group through a bridge of content both send (a browser
    agent extension's users and a campaign driving agents through the same sites: page snapshots read alike for
    every visitor). The group's behaviour is then the campaign's, and a heavy user of the extension, tied mostly
    to other users, behaves enough like it to inherit. Its community does not: a campaign's communities each carry
    the campaign's behaviour however it is split.
    """
    fit = np.ones(len(gi))
    if community is None:
        return fit
    order = np.argsort(community, kind="stable")
    bounds = np.searchsorted(community[order], np.arange(int(community.max(initial=-1)) + 2))
    for k in np.flatnonzero(np.diff(bounds) >= config.core_min_accounts):
        m = order[bounds[k]:bounds[k + 1]]
        whole = float(_behaviour_gate(group_behaviour[gi[m[0]]], config)) if gi[m[0]] >= 0 else 0.0
        if whole > 0:
            own, _ = _behaviour(beh, m, core, config.core_min_accounts)
            fit[m] = min(float(_behaviour_gate(own, config)) / (config.community_share * whole), 1.0)
    return fit


def _behaviour(beh: np.ndarray, members: np.ndarray, core: np.ndarray, min_core: int) -> tuple[float, bool]:
    """The upper quartile of `beh` over the `members` (row indices) that carry their group's own content when
    at least `min_core` do, else over all of them; and whether those accounts were enough."""
    c = members[core[members]]
    measured = len(c) >= min_core
    return float(np.quantile(beh[c] if measured else beh[members], 0.75)), measured


def _binding(strength: np.ndarray, config: ScoreConfig) -> float:
    """How tightly a group's (or ring's) typical member is tied to the others, in [0, 1]: its median kind-weighted
    degree inside the group, against `full_tie_degree` full-weight links (fewer in a group too small for them).

    A sum, so many weak ties count as much as a few strong ones — but a ring neighbour on a popular key is a
    tie the ring construction made, one per side, whatever the key's popularity: a member linked only through
    the shares it has of popular content (independent developers sending the same well-known conversations,
    each a fifth of their traffic) is weakly bound however many such neighbours it has, an operator's account
    wrapping its traffic in the operator's bank fully.
    """
    full = max(min(config.full_tie_degree, len(strength) - 1), 1.0)
    return float(np.clip(np.median(strength) / full, 0, 1))


def _size(n: int) -> float:
    """How much a group of `n` accounts is a pattern: two are thin evidence, five a pattern."""
    return 1.0 - float(np.exp(-(n - 1) / 2.2))


def _behaviour_gate(behaviour: Any, config: ScoreConfig, relief: float = 0.0) -> Any:
    """0 at or below `behaviour_low` (lowered by `relief`), 1 at or above `behaviour_high` (too), linear between."""
    return np.clip((behaviour - config.behaviour_low + relief) / (config.behaviour_high - config.behaviour_low), 0, 1)


def _bound_campaign(size: Any, gate: Any, binding: Any, concurrency: Any) -> Any:
    """The campaign score of a group (or ring) before its discounts: size × behaviour gate × binding ×
    concurrency weight (per group, or one group's scalars)."""
    return size * gate * binding * (0.4 + 0.6 * concurrency)


def _suite_ramp(suite: np.ndarray, config: ScoreConfig) -> np.ndarray:
    """0 at or below `suite_low`, 1 at or above `suite_high`, linear between."""
    return np.clip((suite - config.suite_low) / (config.suite_high - config.suite_low), 0, 1)


def _take(values: np.ndarray, at: np.ndarray, default: object) -> np.ndarray:
    v = np.asarray(values)
    if len(v) == 0:
        return np.full(len(at), default)
    return np.where(at >= 0, v[np.maximum(at, 0)], default)


def _own(common_share: np.ndarray) -> np.ndarray:
    """How much of a share of traffic that others send too still counts as the account's own: fully up to
    half, nothing when all of it is common."""
    return np.clip(2.0 * (1.0 - common_share), 0, 1)


def _own_shared(shared: pa.Table) -> pa.Table:
    """The shared-traffic features of the part no other member sends verbatim (`own_*`), under the names
    `individual_parts` reads (none of it replayed, by construction; no own part: no extraction)."""
    cols = {c: _col(shared, f"own_{c}", 1.0 if c == "cap_other" else 0.0)
            for c in ("exchanges", *(name for name, _ in MEASURES)) if f"own_{c}" in shared.column_names
            or c != "task_units"}   # (a table without task counts: each exchange a sample, `_samples`)
    return pa.table({**cols, "hour_entropy": _col(shared, "hour_entropy"), "burstiness": _col(shared, "burstiness")})


class MemberTraffic(NamedTuple):
    """Each grouped account's behaviour on the traffic it shares with its group, aligned with its features."""

    ind: np.ndarray        # individual score of the shared traffic (0: none)
    harvest: np.ndarray    # its harvesting shape (0: none)
    n: np.ndarray          # its exchanges (0: none)
    own_traffic: np.ndarray  # how much of the whole account's traffic is its own (`popular_share`; 1: no row)
    own_ind: np.ndarray    # individual score of the shared part no other member sends verbatim (0: none)
    own_n: np.ndarray      # ... its size in units (0: none)
    own_full: np.ndarray   # ... its individual score were its samples enough to judge (0: none)

    @classmethod
    def absent(cls, n: int) -> MemberTraffic:
        """`n` accounts that share no traffic with a group (no shared-traffic table)."""
        none = np.zeros(n)
        return cls(none, none, none, np.ones(n), none, none, none)


def _aligned_shared(ids: pa.Array | pa.ChunkedArray | Sequence[str], shared: pa.Table) -> MemberTraffic:
    """The shared-traffic behaviour of the accounts `ids`, in their order (`MemberTraffic`)."""
    idx = positions(shared["account_id"], ids, last=True)
    ok = idx >= 0
    ind, harvest, n, own = np.zeros(len(ids)), np.zeros(len(ids)), np.zeros(len(ids)), np.ones(len(ids))
    own_ind, own_n, own_full = np.zeros(len(ids)), np.zeros(len(ids)), np.zeros(len(ids))
    own_part = _own_shared(shared)
    own_ind[idx[ok]] = individual_score(own_part)[ok]
    own_full[idx[ok]] = individual_score(own_part, evidence=np.ones(shared.num_rows))[ok]
    # counted in units (a distinct text, or one conversation over an extraction problem): an agent's dozen
    # tool steps over one task are one sample of how the member behaves, not twelve
    own_n[idx[ok]] = _col(shared, "own_units")[ok]
    # identical texts sent by several accounts (homework, an eval suite, a shared template without a
    # payload) are how legitimate groups share traffic; a campaign's shared part wraps distinct payloads.
    # Mostly replayed shared traffic (over half) therefore counts less, all replayed not at all.
    ind[idx[ok]] = (individual_score(shared) * _own(_col(shared, "replayed_share")))[ok]
    harvest[idx[ok]] = individual_parts(shared)["harvest"][ok]
    n[idx[ok]] = _col(shared, "exchanges")[ok]
    own[idx[ok]] = _own(_col(shared, "popular_share"))[ok]
    return MemberTraffic(ind, harvest, n, own, own_ind, own_n, own_full)


def _concurrency(first: np.ndarray, last: np.ndarray, handover_s: float = 12 * 3600.0,
                 giant: float = 20.0) -> float:
    """Share of accounts whose activity overlaps, or hands over to, another account's of the same group.

    Overlap: a campaign's accounts run at the same time; independent benchmark runs do not. Hand-over: one
    account starts within `handover_s` of another's end — a farm replacing short-lived accounts (a hydra) runs
    them one after another, which is as coordinated as running them side by side. An interval more than
    `giant` times longer than the group's median (a few records with absurd timestamps) is left out: a
    handful of odd records must not make every account of a group look concurrent, nor none of them.
    """
    if len(first) < 2:
        return 0.0
    length = np.maximum(last - first, 0.0)
    partner = length <= giant * max(float(np.median(length)), handover_s)
    if partner.sum() < 2:
        return 0.0
    f, la = first[partner], last[partner] + handover_s
    order = np.argsort(f)
    f, la = f[order], la[order]
    prev_max = np.maximum.accumulate(la)
    # a partner interval [f, la] touches another partner's iff it starts before an earlier one ended, or a
    # later one starts before it ends
    touch = np.concatenate([[False], prev_max[:-1] >= f[1:]]) | np.concatenate([f[1:] <= la[:-1], [False]])
    # non-partners (giant intervals) are left out of the share too: an odd record neither makes an account
    # concurrent nor takes a concurrent account away from its group
    return float(touch.sum() / partner.sum())


def without_same_customer_links(links: pa.Table, account_ids: Sequence[str], orgs: Sequence[str | None],
                                config: ScoreConfig = ScoreConfig()) -> pa.Table:
    """`links` minus those between two accounts of one declared org (≤ `one_customer_max_accounts` keys), and
    the client-default links (`CLIENT_DEFAULT_KINDS`) of such an org's accounts, to anyone.

    Keys of one known customer sharing a harness, an IP and a payment are one entity, not a covert ring:
    such links are no coordination evidence (links to accounts outside the org still count). A known customer
    running a public harness sends its sampling configuration and client as everyone running it does: that is
    the tool's default, not an operator's — its content, payment and network links still count.
    """
    if len(orgs) != len(account_ids):
        raise ValueError(f"{len(orgs)} orgs for {len(account_ids)} accounts")
    # per link only integer work: the known customer of each end as a code (-1: none), looked up in Arrow
    org_code = np.append(_known_customers(orgs, len(account_ids), config), -1)
    if links.num_rows == 0 or (org_code < 0).all():
        return links
    src = org_code[positions(links["src"], account_ids, last=True)]    # index -1 picks the trailing -1
    dst = org_code[positions(links["dst"], account_ids, last=True)]
    client = pc.is_in(links["kind"], pa.array(CLIENT_DEFAULT_KINDS, pa.string())).to_numpy(zero_copy_only=False)
    drop = np.flatnonzero(((src >= 0) & (src == dst)) | (((src >= 0) | (dst >= 0)) & client))
    if len(drop) == 0:
        return links
    if len(drop) > 1024:
        keep = np.ones(links.num_rows, bool)
        keep[drop] = False
        return links.filter(pa.array(keep))
    # few dropped rows (the usual case): the kept runs as zero-copy slices, not a copy of every link
    starts, ends = np.concatenate([[0], drop + 1]), np.concatenate([drop, [links.num_rows]])
    runs = [links.slice(a, b - a) for a, b in zip(starts.tolist(), ends.tolist(), strict=True) if b > a]
    return pa.concat_tables(runs) if runs else links.slice(0, 0)


def floor_for(fpr_target: float, config: ScoreConfig = ScoreConfig()) -> float:
    """The threshold's floor at an fpr_target: `floor` at `floor_fpr`, ± `floor_per_decade` per decade."""
    f = config.floor - config.floor_per_decade * float(np.log10(fpr_target / config.floor_fpr))
    return float(np.clip(round(f, 9), config.floor_min, config.floor_max))


def threshold_for(scores: Scores, fpr_target: float, config: ScoreConfig = ScoreConfig()) -> float:
    """Flag threshold: the (1 − fpr_target) quantile of ungrouped accounts' capped individual scores, at least
    `floor_for`. (Capped: what the quantile guards is the individual path below `individual_cap`; an ungrouped
    account's sustained extraction, `solo_score`, is evidence of its own, not the population's noise.)"""
    t = scores.accounts
    s = np.minimum(t["score"].to_numpy(), config.individual_cap)
    null = s[t["group"].to_numpy() < 0]
    q = float(np.quantile(null, 1.0 - fpr_target)) if len(null) else 0.0
    return max(floor_for(fpr_target, config), q + 1e-9)


VERDICTS = ("enforce", "review", "watch")


@dataclass(frozen=True)
class OperatingPoint:
    """The run's three bands, each the label-free threshold of `threshold_for` at a looser fpr target.

    `enforce` (= `flagged`) at `fpr_target`; `review` at `band_step` × that; `watch` at `band_step`² × that
    (each capped at 0.5 and never above the band before it). With the defaults: 0.5 / 0.4 / 0.3.
    """

    fpr_target: float
    enforce: float
    review: float
    watch: float

    def verdicts(self, score: np.ndarray) -> np.ndarray:
        """Per score: `enforce`, `review`, `watch`, or '' below every band."""
        return np.select([score >= self.enforce, score >= self.review, score >= self.watch], list(VERDICTS), "")

    def record(self, score: np.ndarray) -> dict[str, object]:
        """The operating point as recorded in the output folder (`operating_point.json`)."""
        v = self.verdicts(score)
        return {"fpr_target": self.fpr_target,
                "thresholds": {"enforce": self.enforce, "review": self.review, "watch": self.watch},
                "accounts": {k: int((v == k).sum()) for k in VERDICTS}}


def operating_point(scores: Scores, fpr_target: float, config: ScoreConfig = ScoreConfig()) -> OperatingPoint:
    """The three bands of a run (see `OperatingPoint`)."""
    enforce = threshold_for(scores, fpr_target, config)
    review = min(enforce, threshold_for(scores, min(fpr_target * config.band_step, 0.5), config))
    watch = min(review, threshold_for(scores, min(fpr_target * config.band_step ** 2, 0.5), config))
    return OperatingPoint(fpr_target, enforce, review, watch)


INDIVIDUAL_REASONS = (
    ("extraction", 0.7, "extraction-targets"),
    ("cot", 0.3, "cot-elicitation"),
    ("single_turn", 0.9, "single-turn"),
    ("long_output", 0.5, "long-max-tokens"),
    ("around_clock", 0.5, "around-the-clock"),
    ("regular", 0.6, "regular-timing"),
)


def individual_reasons(features: pa.Table, config: ScoreConfig = ScoreConfig()) -> list[list[str]]:
    """Individual reason codes per account, strongest first: `sustained-extraction` where the account's own
    sustained behaviour (`solo_score`) scores above what an individual may without it (`individual_cap`)."""
    p = individual_parts(features)
    out: list[list[str]] = [[] for _ in range(features.num_rows)]
    for i in np.flatnonzero(solo_score(features, config) > config.individual_cap):
        out[i].append("sustained-extraction")
    for key, thr, code in INDIVIDUAL_REASONS:
        for i in np.flatnonzero(p[key] >= thr):
            out[i].append(code)
    return out
