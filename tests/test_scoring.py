"""Scores: individual signals, campaign evidence, the label-free operating point."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from distillguard.detection.campaigns import Grouping
from distillguard.detection.scoring import (
    ScoreConfig,
    _concurrency,
    individual_parts,
    individual_reasons,
    individual_score,
    score_accounts,
    threshold_for,
)


def _feats(**cols) -> pa.Table:
    return pa.table(cols)


EXTRACTOR = dict(cap_other=0.0, cot_share=0.9, single_turn_share=1.0, long_max_tokens_share=1.0,
                 template_diversity=1.0, hour_entropy=0.95, burstiness=-0.5, output_input_ratio=20.0, exchanges=200)
CHATTER = dict(cap_other=0.9, cot_share=0.0, single_turn_share=0.3, long_max_tokens_share=0.0,
               template_diversity=0.9, hour_entropy=0.6, burstiness=0.5, output_input_ratio=3.0, exchanges=200)
BATCH = dict(cap_other=1.0, cot_share=0.0, single_turn_share=1.0, long_max_tokens_share=0.0,
             template_diversity=0.01, hour_entropy=1.0, burstiness=-1.0, output_input_ratio=0.1, exchanges=5000)


def _table(rows: list[dict], ids: list[str]) -> pa.Table:
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    return _feats(account_id=ids, first_ts=[0.0] * len(ids), last_ts=[1e5] * len(ids), **cols)


def test_individual_score_orders_behaviours() -> None:
    s = individual_score(_table([EXTRACTOR, CHATTER, BATCH], ["e", "c", "b"]))
    assert s[0] > 0.8 and s[1] < 0.3 and s[2] < 0.35


def test_individual_alone_never_flags_but_campaign_does() -> None:
    ids = [f"e{i}" for i in range(6)] + ["solo"]
    t = _table([EXTRACTOR] * 7, ids)
    group = np.array([0] * 6 + [-1])
    g = Grouping(accounts=ids, group=group, strength=np.array([3.0] * 6 + [0.0]),
                 in_block=np.zeros(7, bool), families=np.array([2]),
                 edges=pa.table({"src": [], "dst": [], "weight": []}), degree=np.full(len(ids), 5.0))
    sc = score_accounts(t, g)
    s = sc.accounts["score"].to_numpy()
    thr = threshold_for(sc, 0.001)
    assert (s[:6] >= thr).all() and s[6] < thr and s[6] <= ScoreConfig().individual_cap
    # the same accounts tied by five weak links each (a fifth of a full tie apiece, e.g. ring neighbours on a
    # popular template carrying a fifth of their traffic): too loosely bound to be a campaign on this behaviour
    weak = score_accounts(t, replace(g, strength=np.array([1.0] * 6 + [0.0])))
    assert (weak.accounts["score"].to_numpy() < thr).all()


def test_legit_group_with_weak_behaviour_is_not_a_campaign() -> None:
    ids = [f"b{i}" for i in range(5)]
    t = _table([BATCH] * 5, ids)
    g = Grouping(accounts=ids, group=np.zeros(5, np.int64), strength=np.ones(5),
                 in_block=np.ones(5, bool), families=np.array([2]),
                 edges=pa.table({"src": [], "dst": [], "weight": []}), degree=np.full(len(ids), 5.0))
    sc = score_accounts(t, g)
    assert sc.accounts["score"].to_numpy().max() < threshold_for(sc, 0.001)


def test_threshold_is_quantile_of_ungrouped_with_floor() -> None:
    ids = [f"a{i}" for i in range(1000)]
    rng = np.random.default_rng(0)
    cap = ScoreConfig().individual_cap
    t = pa.table({"account_id": ids, "score": rng.random(1000) * cap, "group": np.full(1000, -1)})
    from distillguard.detection.scoring import Scores

    sc = Scores(accounts=t, group_score=np.zeros(0), group_parts={})
    assert abs(threshold_for(sc, 0.01, replace(ScoreConfig(), floor=0.2)) - np.quantile(t["score"].to_numpy(), 0.99)) \
        < 1e-6
    # ungrouped accounts above the individual cap (sustained extraction of their own, `solo_score`) are evidence of
    # their own: they do not raise the population's quantile
    high = t.set_column(1, "score", pa.array(np.where(np.arange(1000) < 30, 0.8, t["score"].to_numpy())))
    assert threshold_for(Scores(accounts=high, group_score=np.zeros(0), group_parts={}), 0.01,
                         replace(ScoreConfig(), floor=0.2)) == pytest.approx(cap, abs=1e-6)
    low = Scores(accounts=t.set_column(1, "score", pa.array(np.zeros(1000))), group_score=np.zeros(0), group_parts={})
    assert threshold_for(low, 0.01) == pytest.approx(0.4)
    assert threshold_for(low, 0.001) == pytest.approx(ScoreConfig().floor)


def test_fpr_target_moves_the_operating_point() -> None:
    from distillguard.detection.scoring import Scores, floor_for

    assert floor_for(0.001) == pytest.approx(0.5) and floor_for(0.01) == pytest.approx(0.4)
    assert floor_for(0.0001) == pytest.approx(0.6) and floor_for(1e-9) == ScoreConfig().floor_max
    # 900 unlinked accounts (capped individual scores up to 0.45) and 100 grouped ones at 0.38 .. 0.62
    rng = np.random.default_rng(3)
    score = np.concatenate([rng.random(900) * 0.45, np.linspace(0.38, 0.62, 100)])
    group = np.concatenate([np.full(900, -1), np.zeros(100, np.int64)])
    sc = Scores(accounts=pa.table({"account_id": [f"a{i}" for i in range(1000)], "score": score, "group": group}),
                group_score=np.zeros(1), group_parts={})
    flagged = {f: int((score >= threshold_for(sc, f)).sum()) for f in (0.0001, 0.001, 0.01, 0.05)}
    assert flagged[0.0001] < flagged[0.001] < flagged[0.01] < flagged[0.05]
    # a loose target reaches unlinked accounts, but only about fpr_target of them
    for f in (0.01, 0.05):
        assert (score[:900] >= threshold_for(sc, f)).sum() <= f * 900 + 1


def test_concurrency() -> None:
    day = 86400.0
    assert _concurrency(np.array([0, 1, 2.0]), np.array([5, 6, 7.0])) == 1.0
    # independent runs days apart: not concurrent
    assert _concurrency(np.array([0, 3, 6.0]) * day, np.array([0.1, 3.1, 6.1]) * day) == 0.0
    # a hydra: each short-lived account takes over when the previous one stops
    starts = np.arange(10) * 2 * day
    assert _concurrency(starts, starts + 2 * day - 3600) == 1.0
    # a few records with absurd timestamps stretch two accounts' spans over everything: the rest stay apart
    first, last = np.array([0, 3, 6, 9, 12.0]) * day, np.array([0.1, 3.1, 6.1, 9.1, 12.1]) * day
    first[0], last[1] = -2000 * 365 * day, 8000 * 365 * day
    assert _concurrency(first, last) == 0.0


def test_one_declared_org_is_one_customer_not_a_campaign() -> None:
    """A lab's benchmark harness on 5 keys of its own org: extraction-like and tightly linked, not a ring."""
    ids = [f"lab{i}" for i in range(5)] + [f"ring{i}" for i in range(5)]
    t = _table([EXTRACTOR] * 10, ids)
    g = Grouping(accounts=ids, group=np.array([0] * 5 + [1] * 5), strength=np.full(10, 3.0),
                 in_block=np.zeros(10, bool), families=np.array([3, 3]),
                 edges=pa.table({"src": [], "dst": [], "weight": []}), degree=np.full(10, 4.0))
    orgs = ["org-lab"] * 5 + [None] * 4 + ["org-x"]       # the ring: one account declares an org, not all
    sc = score_accounts(t, g, orgs=orgs)
    s, thr = sc.accounts["score"].to_numpy(), threshold_for(sc, 0.001)
    assert (s[:5] < thr).all() and (s[:5] <= ScoreConfig().individual_cap).all()
    assert (s[5:] >= thr).all()
    assert (score_accounts(t, g).accounts["score"].to_numpy() >= thr).all()   # without orgs: both groups
    # an org with more keys than `one_customer_max_accounts` is itself a key farm
    small = ScoreConfig(one_customer_max_accounts=4)
    assert (score_accounts(t, g, small, orgs=orgs).accounts["score"].to_numpy()[:5] >= thr).all()


def test_links_inside_one_declared_customer_are_no_evidence() -> None:
    from distillguard.detection.scoring import without_same_customer_links

    links = pa.table({"src": ["l1", "l1", "l2", "r1"], "dst": ["l2", "r1", "x1", "r2"],
                      "kind": ["shared-ip"] * 4, "weight": [1.0] * 4})
    ids, orgs = ["l1", "l2", "r1", "r2", "x1"], ["lab", "lab", None, None, "other"]
    kept = without_same_customer_links(links, ids, orgs)
    assert list(zip(kept["src"].to_pylist(), kept["dst"].to_pylist(), strict=True)) == [
        ("l1", "r1"), ("l2", "x1"), ("r1", "r2")]
    # an org with more keys than one customer plausibly runs keeps its links
    big = without_same_customer_links(links, ids, orgs, ScoreConfig(one_customer_max_accounts=1))
    assert big.num_rows == 4


def test_a_known_customers_client_defaults_link_no_one() -> None:
    # two labs running one public harness (temperature 0, a seed, max_tokens) and one account declaring no
    # organisation: the harness's configuration and client link none of them; their content links still do,
    # and two accounts declaring no organisation keep their configuration link
    from distillguard.detection.scoring import without_same_customer_links

    links = pa.table({"src": ["a1", "a1", "a1", "a1", "n1"], "dst": ["b1", "b1", "n1", "n1", "n2"],
                      "kind": ["shared-params", "shared-wrapper", "client-fingerprint", "shared-phrases",
                               "shared-params"], "weight": [0.3] * 5})
    kept = without_same_customer_links(links, ["a1", "b1", "n1", "n2"], ["lab-a", "lab-b", None, None])
    assert list(zip(kept["src"].to_pylist(), kept["dst"].to_pylist(), kept["kind"].to_pylist(), strict=True)) == [
        ("a1", "b1", "shared-wrapper"), ("a1", "n1", "shared-phrases"), ("n1", "n2", "shared-params")]


def _shared(ids: list[str], **over: float) -> pa.Table:
    row = dict(EXTRACTOR, replayed_share=0.0, exchanges=40.0)
    row.update(over)
    return pa.table({"account_id": ids, **{k: [float(v)] * len(ids) for k, v in row.items()}})


def test_shared_traffic_lifts_a_diluted_group_but_not_alone_few_or_replayed() -> None:
    """Accounts chatting 70 % of the time around extraction: their whole-account average is benign."""
    ids = [f"m{i}" for i in range(6)] + ["solo"]
    t = _table([CHATTER] * 7, ids)
    g = Grouping(accounts=ids, group=np.array([0] * 6 + [-1]), strength=np.array([3.0] * 6 + [0.0]),
                 in_block=np.zeros(7, bool), families=np.array([2]),
                 edges=pa.table({"src": [], "dst": [], "weight": []}), degree=np.full(7, 5.0))

    def flagged(shared: pa.Table | None, config: ScoreConfig | None = None) -> np.ndarray:
        config = config or ScoreConfig()
        sc = score_accounts(t, g, config, shared=shared)
        return sc.accounts["score"].to_numpy() >= threshold_for(sc, 0.001, config)

    assert not flagged(None).any()
    assert flagged(_shared(ids))[:6].all() and not flagged(_shared(ids))[6]   # the unlinked one stays capped
    assert not flagged(_shared(ids, exchanges=5.0)).any()                   # a few coincidental exchanges
    assert not flagged(_shared(ids, replayed_share=1.0)).any()              # everybody's identical texts
    assert not flagged(_shared(ids), ScoreConfig(shared_min_exchanges=10**9)).any()


def test_without_same_customer_links_matches_reference() -> None:
    from distillguard.detection.scoring import without_same_customer_links

    rng = np.random.default_rng(3)
    ids = [f"acc-{i}" for i in range(300)]
    choice = ["", None, None, *[f"o{j}" for j in range(30)]]
    orgs = ["big"] * 60 + [choice[int(rng.integers(0, len(choice)))] for _ in ids[60:]]
    pick = rng.integers(0, 330, (3000, 2))          # some ends are accounts without features
    names = ids + [f"ghost-{i}" for i in range(30)]
    links = pa.table({"src": [names[a] for a, _ in pick], "dst": [names[b] for _, b in pick],
                      "kind": ["shared-ip"] * len(pick), "weight": rng.random(len(pick))})
    cfg = ScoreConfig(one_customer_max_accounts=40)
    org_of = {a: o for a, o in zip(ids, orgs, strict=True) if o}
    size = {o: list(org_of.values()).count(o) for o in set(org_of.values())}
    small = {a: o for a, o in org_of.items() if size[o] <= cfg.one_customer_max_accounts}
    want = [r for r in links.to_pylist() if small.get(r["src"]) is None or small.get(r["src"]) != small.get(r["dst"])]
    got = without_same_customer_links(links, ids, orgs, cfg).to_pylist()
    assert got == want and 0 < len(want) < links.num_rows
    # many dropped links (more than are worth slicing around), and all of them
    many = pa.table({"src": ["l1", "r1"] * 1500, "dst": ["l2", "r2"] * 1500, "kind": ["shared-ip"] * 3000,
                     "weight": np.arange(3000.0)})
    kept = without_same_customer_links(many, ["l1", "l2", "r1"], ["lab", "lab", None])
    assert kept["weight"].to_pylist() == list(np.arange(1.0, 3000.0, 2.0))
    assert without_same_customer_links(many.slice(0, 1), ["l1", "l2"], ["lab", "lab"]).num_rows == 0
    assert "big" in org_of.values() and size["big"] > cfg.one_customer_max_accounts


def test_group_parts_and_alignment_match_reference() -> None:
    """Accounts looked up by name (grouping and shared traffic in other orders), each group's statistics."""
    from distillguard.detection.scoring import _aligned_shared

    rng = np.random.default_rng(5)
    n = 400
    ids = [f"a{i:03d}" for i in rng.permutation(n)]
    cols = {k: rng.random(n) for k in ("cap_other", "cot_share", "single_turn_share", "long_max_tokens_share",
                                      "template_diversity", "hour_entropy", "burstiness", "replayed_share")}
    first = rng.integers(0, 50, n).astype(float)        # ties: the concurrency sort must see the same order
    t = pa.table({"account_id": ids, "exchanges": rng.integers(1, 300, n), "first_ts": first,
                  "last_ts": first + rng.integers(0, 20, n), "output_input_ratio": rng.random(n) * 30, **cols})
    acc = [ids[i] for i in rng.permutation(n)[:300]] + ["not-a-feature-row"]
    grp = rng.integers(-1, 25, len(acc))
    g = Grouping(accounts=acc, group=grp, strength=rng.random(len(acc)) * 3, degree=rng.integers(0, 6, len(acc)) * 1.0,
                 in_block=rng.random(len(acc)) < 0.3, families=rng.integers(1, 4, 25),
                 edges=pa.table({"src": [], "dst": [], "weight": []}))
    orgs = [None if rng.random() < 0.5 else f"o{rng.integers(0, 3)}" for _ in ids]
    sh_ids = [ids[i] for i in rng.permutation(n)[:150]] + ["ghost"]
    shared = pa.table({"account_id": sh_ids, "exchanges": rng.integers(1, 40, len(sh_ids)),
                       "own_exchanges": rng.integers(0, 20, len(sh_ids)), "own_units": rng.integers(0, 20, len(sh_ids)),
                       **{k: rng.random(len(sh_ids)) for k in cols}})
    sc = score_accounts(t, g, orgs=orgs, shared=shared)
    pos = {a: i for i, a in enumerate(acc)}
    gi = np.array([grp[pos[a]] if a in pos else -1 for a in ids])
    assert np.array_equal(sc.accounts["group"].to_numpy(), gi)
    assert np.array_equal(sc.accounts["strength"].to_numpy(), [g.strength[pos[a]] if a in pos else 0.0 for a in ids])
    assert sc.accounts["in_block"].to_pylist() == [bool(g.in_block[pos[a]]) if a in pos else False for a in ids]
    for k in range(int(gi.max()) + 1):
        m = np.flatnonzero(gi == k)
        assert sc.group_parts["accounts"][k] == len(m)
        assert sc.group_parts["concurrency"][k] == _concurrency(first[m], first[m] + t["last_ts"].to_numpy()[m]
                                                               - first[m])
        full = max(min(ScoreConfig().full_tie_degree, len(m) - 1), 1.0)
        assert sc.group_parts["binding"][k] == float(np.clip(np.median(g.strength[[pos[ids[i]] for i in m]]) / full,
                                                             0, 1))
    shpos = {a: i for i, a in enumerate(sh_ids)}
    _, _, n_sh, _, _, own_n, _ = _aligned_shared(ids, shared)
    assert n_sh.tolist() == [float(shared["exchanges"][shpos[a]].as_py()) if a in shpos else 0.0 for a in ids]
    assert own_n.tolist() == [float(shared["own_units"][shpos[a]].as_py()) if a in shpos else 0.0 for a in ids]


def _group_of(rows: list[dict], ids: list[str]) -> Grouping:
    n = len(ids)
    return Grouping(accounts=ids, group=np.zeros(n, np.int64), strength=np.full(n, 2.0), in_block=np.ones(n, bool),
                    families=np.array([2]), edges=pa.table({"src": [], "dst": [], "weight": []}),
                    degree=np.full(n, 5.0))


def test_independent_runs_of_one_suite_are_not_a_campaign() -> None:
    """Researchers each replaying one public benchmark once, in one burst, bind into a group by its text and
    harness, yet no operator divides work between them; the same accounts walking the benchmark between them
    (each text sent once across the group) and coming back day after day are a campaign."""
    ids = [f"r{i}" for i in range(8)]
    run = dict(EXTRACTOR, exchanges=1319, replayed_share=1.0, template_diversity=1.0, peak_per_day=1319)
    sc = score_accounts(_table([run] * 8, ids), _group_of([run] * 8, ids))
    assert sc.group_parts["suite"][0] > 0.9
    assert sc.accounts["score"].to_numpy().max() < threshold_for(sc, 0.001)
    walk = dict(run, replayed_share=0.02, peak_per_day=120)
    sc = score_accounts(_table([walk] * 8, ids), _group_of([walk] * 8, ids))
    assert (sc.accounts["score"].to_numpy() >= threshold_for(sc, 0.001)).all()
    # replaying shared texts day after day (not one run) stays a campaign too
    daily = dict(run, peak_per_day=100)
    sc = score_accounts(_table([daily] * 8, ids), _group_of([daily] * 8, ids))
    assert (sc.accounts["score"].to_numpy() >= threshold_for(sc, 0.001)).all()


def test_operating_point_bands() -> None:
    from distillguard.detection.scoring import operating_point

    ids = [f"a{i}" for i in range(4)]
    t = _table([CHATTER] * 4, ids)
    g = Grouping(accounts=[], group=np.zeros(0, np.int64), strength=np.zeros(0), in_block=np.zeros(0, bool),
                 families=np.zeros(0), edges=pa.table({"src": [], "dst": [], "weight": []}), degree=np.zeros(0))
    p = operating_point(score_accounts(t, g), 0.001)
    assert (p.enforce, p.review, p.watch) == pytest.approx((0.5, 0.4, 0.3))
    v = p.verdicts(np.array([0.95, 0.5, 0.45, 0.31, 0.1]))
    assert v.tolist() == ["enforce", "enforce", "review", "watch", ""]
    assert p.record(np.array([0.95, 0.45, 0.1]))["accounts"] == {"enforce": 1, "review": 1, "watch": 0}


def test_accounts_on_one_operators_card_need_less_extraction_behaviour() -> None:
    """Twenty undeclared accounts paid by one card (a ring) and twenty users of the same framework, each paying
    for itself, bound into one group by its tool schemas, all with the same moderate tool-use behaviour: the
    money proves the ring's coordination, so its accounts are flagged; the framework's users, the same ring
    declaring its organisation, four accounts sharing a card, or the ring with no payment records are not."""
    agentic = dict(cap_other=0.0, cot_share=0.0, single_turn_share=0.3, long_max_tokens_share=0.0,
                   template_diversity=0.3, hour_entropy=0.9, burstiness=0.4, output_input_ratio=1.0, exchanges=120)
    ids = [f"ring{i}" for i in range(20)] + [f"user{i}" for i in range(20)]
    t, g = _table([agentic] * 40, ids), _group_of([agentic] * 40, ids)
    cards = np.array([7] * 20 + list(range(100, 120)))
    sc = score_accounts(t, g, orgs=[None] * 40, cards=cards)
    s, thr = sc.accounts["score"].to_numpy(), threshold_for(sc, 0.001)
    assert (s[:20] >= thr).all() and (s[20:] < thr).all()
    assert sc.group_parts["operator"][0] == 0.5
    declared = score_accounts(t, g, orgs=["org-a"] * 20 + [None] * 20, cards=cards).accounts["score"].to_numpy()
    assert (declared < thr).all()
    family = np.array([7] * 4 + list(range(200, 216)) + list(range(100, 120)))
    assert (score_accounts(t, g, orgs=[None] * 40, cards=family).accounts["score"].to_numpy() < thr).all()
    assert (score_accounts(t, g, orgs=[None] * 40).accounts["score"].to_numpy() < thr).all()


def test_a_rings_accounts_are_judged_on_their_own_part_with_the_rings_evidence() -> None:
    """A front: twenty accounts relaying end users' chat (whole-account behaviour: chat), each slipping three of
    its owner's jobs in under the group's wording (its own part: extraction, three samples — too few to judge
    alone), beside four heavy accounts of the same operation. On the operator's one card, each front account is
    judged on its three jobs with the ring's sixty behind them, and flagged; paid by twenty cards, or on one card
    but with an own part that reads as chat, they are not."""
    ids = [f"heavy{i}" for i in range(4)] + [f"front{i}" for i in range(20)]
    rows = [EXTRACTOR] * 4 + [CHATTER] * 20
    t, g = _table(rows, ids), replace(_group_of(rows, ids), strength=np.full(len(ids), 7.0))
    own_keys = ("cap_other", "cot_share", "single_turn_share", "long_max_tokens_share", "template_diversity",
                "output_input_ratio")

    def shared(front_own: dict) -> pa.Table:
        cols = {k: [float(v)] * 24 for k, v in dict(EXTRACTOR, replayed_share=0.0).items()}
        cols["exchanges"] = [40.0] * 4 + [3.0] * 20
        cols["own_exchanges"] = cols["own_units"] = [40.0] * 4 + [3.0] * 20
        for k in own_keys:
            cols[f"own_{k}"] = [float(EXTRACTOR[k])] * 4 + [float(front_own[k])] * 20
        return pa.table({"account_id": ids, **cols})

    def flagged(front_own: dict, cards: np.ndarray) -> np.ndarray:
        sc = score_accounts(t, g, orgs=[None] * 24, shared=shared(front_own), cards=cards)
        return sc.accounts["score"].to_numpy()[4:] >= threshold_for(sc, 0.001)

    one_card, own_cards = np.full(24, 7), np.arange(100, 124)
    assert flagged(EXTRACTOR, one_card).all()
    assert not flagged(EXTRACTOR, own_cards).any()
    assert not flagged(CHATTER, one_card).any()


def test_a_member_that_barely_sends_its_groups_content_inherits_little() -> None:
    """A campaign of 12 whose shared traffic is its own, and a batch customer bound to it by one shared phrase
    (1 exchange of 670 carries the campaign's content) with the harvesting shape of any batch job: the
    campaign is flagged, the customer keeps its own score; a farm's short-lived account (8 exchanges, all the
    campaign's) inherits in full."""
    ids = [f"c{i}" for i in range(12)] + ["batch", "short"]
    batch = dict(EXTRACTOR, cap_other=0.9, cot_share=0.0, long_max_tokens_share=0.0, exchanges=670)
    rows = [EXTRACTOR] * 12 + [batch, dict(EXTRACTOR, exchanges=8)]
    t, g = _table(rows, ids), replace(_group_of(rows, ids), strength=np.full(len(ids), 7.0))
    shared = _shared(ids, exchanges=40.0)
    n = shared["exchanges"].to_numpy().copy()
    n[12], n[13] = 1.0, 8.0
    shared = shared.set_column(shared.schema.get_field_index("exchanges"), "exchanges", pa.array(n))
    sc = score_accounts(t, g, shared=shared)
    s, thr = sc.accounts["score"].to_numpy(), threshold_for(sc, 0.001)
    assert (s[:12] >= thr).all() and s[13] >= thr
    assert s[12] < thr


def test_a_member_with_a_few_shared_exchanges_inherits_no_less_than_one_with_none() -> None:
    """A campaign of 12 measured on its own shared traffic, and two more of its accounts behaving exactly like
    it: one shares none of the group's own keys (its wording variant is held by too few accounts), the other
    one exchange of 40 (a neighbouring phrase). Both inherit: one stray exchange does not weigh against it."""
    ids = [f"c{i}" for i in range(12)] + ["none", "one"]
    rows = [EXTRACTOR] * 14
    t, g = _table(rows, ids), replace(_group_of(rows, ids), strength=np.full(len(ids), 7.0))
    shared = _shared(ids[:12] + ["one"], exchanges=40.0)
    n = shared["exchanges"].to_numpy().copy()
    n[12] = 1.0
    shared = shared.set_column(shared.schema.get_field_index("exchanges"), "exchanges", pa.array(n))
    sc = score_accounts(t, g, shared=shared)
    s, thr = sc.accounts["score"].to_numpy(), threshold_for(sc, 0.001)
    assert (s >= thr).all() and s[13] >= s[12] - 1e-9


def test_a_few_heavy_users_do_not_speak_for_a_large_group() -> None:
    """A cluster of 120 chatting accounts bound by templates, 4 of which send the group's content with an
    extraction-like shape (power users): the group is judged on all its accounts, nobody is flagged. With 12
    such accounts the measured part speaks for the group (riders do not dilute a campaign) and they are."""
    for n_core, flagged in ((4, False), (12, True)):
        ids = [f"a{i:03d}" for i in range(120)]
        t = _table([CHATTER] * 120, ids)
        g = replace(_group_of([CHATTER] * 120, ids), strength=np.full(120, 7.0))
        sc = score_accounts(t, g, shared=_shared(ids[:n_core]))
        s, thr = sc.accounts["score"].to_numpy(), threshold_for(sc, 0.001)
        assert bool((s[:n_core] >= thr).all()) is flagged and not (s[n_core:] >= thr).any(), (n_core, s[:n_core])


def test_a_member_bound_only_by_a_clients_defaults_inherits_as_far_as_it_behaves_like_the_group() -> None:
    """A campaign of 12 measured on its own content, a developer whose client shares the campaign's sampling
    defaults (bound to it, sending none of its content) and a farm account bound by payment only: the farm
    account behaves as the group does and inherits in full; the developer, a little over half as
    extraction-like as the group, inherits that share — and that again as `own` — and is not flagged."""
    ids = [f"c{i}" for i in range(12)] + ["dev", "farm"]
    dev = dict(EXTRACTOR, cap_other=0.2, cot_share=0.0, single_turn_share=0.35, output_input_ratio=3.0,
               hour_entropy=0.6, burstiness=0.3)
    rows = [EXTRACTOR] * 12 + [dev, EXTRACTOR]
    t, g = _table(rows, ids), replace(_group_of(rows, ids), strength=np.full(len(ids), 7.0))
    sc = score_accounts(t, g, shared=_shared(ids[:12], exchanges=40.0))
    s, thr = sc.accounts["score"].to_numpy(), threshold_for(sc, 0.001)
    ratio = sc.accounts["individual"].to_numpy()[12] / sc.group_parts["behaviour"][0]
    assert (s[:12] >= thr).all() and s[13] >= thr
    assert 0.5 < ratio < 0.65 and s[12] < thr, (ratio, s[12])


def test_a_known_customer_riding_in_a_campaigns_group_by_content_alone_inherits_nothing() -> None:
    """A campaign of 12 and two keys of a lab (one declared organisation) whose benchmark shares the campaign's
    tasks and prompt craft: grouped with it, tied by content alone, the lab's keys keep their own score.
    Tied by payment, network, client or timing (`operator_tied`) they inherit; and neither a group that is
    mostly one organisation's keys nor one holding many small organisations' keys has a customer passing by."""
    ids = [f"c{i}" for i in range(12)] + ["lab-1", "lab-2"]
    rows = [EXTRACTOR] * 14
    orgs = [None] * 12 + ["lab", "lab"]
    t, g = _table(rows, ids), replace(_group_of(rows, ids), strength=np.full(len(ids), 7.0))
    content_only = replace(g, operator_tied=np.zeros(len(ids), bool))

    def scores(grouping: Grouping, org_of: list[str | None]) -> tuple[np.ndarray, float]:
        sc = score_accounts(t, grouping, orgs=org_of)
        return sc.accounts["score"].to_numpy(), threshold_for(sc, 0.001)

    s, thr = scores(content_only, orgs)
    assert (s[:12] >= thr).all() and (s[12:] < thr).all()
    s, thr = scores(replace(g, operator_tied=np.ones(len(ids), bool)), orgs)
    assert (s >= thr).all()
    s, thr = scores(g, orgs)                      # not known (an incremental update): as before
    assert (s >= thr).all()
    s, thr = scores(content_only, ["lab"] * 8 + [None] * 4 + ["lab", "lab"])   # the org is most of the group
    assert (s >= thr).all()
    # a reseller declaring one organisation per product: many small orgs in one group are no passing customer
    s, thr = scores(content_only, [None] * 9 + ["p1", "p2", "p3", "lab", "lab"])
    assert (s >= thr).all()


def test_one_run_of_a_suite_tied_by_content_alone_inherits_nothing() -> None:
    """A campaign of 12 that keeps coming back (its busiest day 10 % of its traffic), and three accounts grouped
    with it by the tasks they share: a researcher's 200-item benchmark pass in one day keeps its own score;
    a farm's short-lived account (30 requests in one day) and a burst tied to the group by payment inherit."""
    ids = [f"c{i}" for i in range(12)] + ["researcher", "short-lived", "paid"]
    burst = dict(EXTRACTOR, peak_per_day=200.0)
    rows = [dict(EXTRACTOR, peak_per_day=20.0)] * 12 + [burst, dict(burst, exchanges=30, peak_per_day=30.0), burst]
    t = _table(rows, ids)
    g = replace(_group_of(rows, ids), strength=np.full(len(ids), 7.0),
                operator_tied=np.array([False] * 14 + [True]))
    sc = score_accounts(t, g, shared=_shared(ids[:12], exchanges=40.0))
    s, thr = sc.accounts["score"].to_numpy(), threshold_for(sc, 0.001)
    assert (s[:12] >= thr).all() and s[12] < thr and s[13] >= thr and s[14] >= thr, s[12:]


def test_a_members_own_part_speaks_for_it_from_enough_samples_not_steps() -> None:
    """Members whose shared traffic reads as chat but whose own part (what no other member sends) reads as
    extraction: judged on that part from `shared_min_exchanges` samples on — 40 distinct tasks — but not when
    its 40 exchanges are the tool steps of 4 tasks (an agent's users: four samples of how each behaves)."""
    ids = [f"m{i}" for i in range(8)]
    t = _table([CHATTER] * 8, ids)
    g = replace(_group_of([CHATTER] * 8, ids), strength=np.full(8, 7.0))
    own = {f"own_{k}": v for k, v in EXTRACTOR.items() if k in ("cap_other", "cot_share", "single_turn_share",
                                                                 "long_max_tokens_share", "template_diversity")}

    def flagged(units: float) -> np.ndarray:
        sh = _shared(ids, **{k: v for k, v in CHATTER.items() if k != "exchanges"}, own_exchanges=40.0,
                     own_units=units, own_output_input_ratio=20.0, **own)
        sc = score_accounts(t, g, shared=sh)
        return sc.accounts["score"].to_numpy() >= threshold_for(sc, 0.001)

    assert flagged(40.0).all()
    assert not flagged(4.0).any()


def test_sustained_extraction_is_flagged_alone_a_burst_or_a_replayed_course_is_not() -> None:
    """Strong extraction behaviour on the account's own texts, day after day, reaches a verdict without a group;
    the same behaviour in a day or two (a benchmark run, even with a few requests on other days), or on texts other
    accounts send too (a course's problem set), stays under the individual cap; and it does not raise the
    population's threshold."""
    ids = ["week", "fortnight", "burst", "course", "chat"]
    # (200 exchanges each; "burst": a benchmark run in one day and a few requests on eight more)
    rows = [dict(EXTRACTOR, active_days=7, peak_per_day=29, replayed_share=0.0),
            dict(EXTRACTOR, active_days=14, peak_per_day=15, replayed_share=0.1),
            dict(EXTRACTOR, active_days=9, peak_per_day=190, replayed_share=0.0),
            dict(EXTRACTOR, active_days=14, peak_per_day=15, replayed_share=1.0),
            dict(CHATTER, active_days=14, peak_per_day=15, replayed_share=0.0)]
    g = Grouping(accounts=[], group=np.zeros(0, np.int64), strength=np.zeros(0), in_block=np.zeros(0, bool),
                 families=np.zeros(0), edges=pa.table({"src": [], "dst": [], "weight": []}), degree=np.zeros(0))
    sc = score_accounts(_table(rows, ids), g)
    s = dict(zip(ids, sc.accounts["score"].to_numpy(), strict=True))
    thr = threshold_for(sc, 0.001)
    assert thr == pytest.approx(ScoreConfig().floor)
    assert s["week"] >= thr and s["fortnight"] >= thr
    assert max(s["burst"], s["course"], s["chat"]) <= ScoreConfig().individual_cap
    reasons = individual_reasons(_table(rows, ids))
    assert reasons[0][0] == "sustained-extraction" and "sustained-extraction" not in reasons[2] + reasons[3]
    # the longer it lasts, the stronger the evidence, up to a week
    days = [3, 4, 5, 6, 7, 10]
    ramp = score_accounts(_table([dict(EXTRACTOR, active_days=d, peak_per_day=200 / d, replayed_share=0.0)
                                  for d in days],
                                 [f"d{d}" for d in days]), g).accounts["score"].to_numpy()
    assert (np.diff(ramp) >= 0).all() and ramp[0] <= ScoreConfig().individual_cap and ramp[-1] == ramp[-2]


def test_evidence_counts_a_single_message_agents_tasks_not_its_steps() -> None:
    """45 steps over 7 tasks are 7 samples of how an account behaves: its harvesting shape is that of 7 distinct
    requests, not of 45 (`task_units`; a table without it counts exchanges)."""
    base = {"account_id": ["agent"], "exchanges": [45.0], "single_turn_share": [1.0], "template_diversity": [1.0],
            "replayed_share": [0.0]}
    steps = individual_parts(pa.table(base))
    tasks = individual_parts(pa.table({**base, "task_units": [7.0]}))
    assert steps["harvest"][0] == pytest.approx(1 - np.exp(-45 / 20))
    assert tasks["harvest"][0] == pytest.approx(1 - np.exp(-7 / 20)) and tasks["evidence"][0] < steps["evidence"][0]


def test_a_member_inherits_as_far_as_its_own_community_in_the_group_behaves_like_a_campaign() -> None:
    """A campaign's twenty accounts and forty heavy users of a browser extension, one group through the pages both
    send: each user behaves enough like the campaign to inherit (.34 against .64), and does while the group is one
    community. Inside it the users are a community of their own, which behaves like no campaign: they keep their
    own scores. A part of the campaign that is a community of its own still inherits in full."""
    ids = [f"c{i}" for i in range(20)] + [f"u{i}" for i in range(40)]
    campaign = dict(EXTRACTOR, cot_share=0.0, long_max_tokens_share=0.0)
    user = dict(CHATTER, cap_other=0.3, single_turn_share=1.0, template_diversity=0.4, exchanges=40)
    parts = np.array([0] * 20 + [1] * 40)

    def flagged(rows: list[dict], community: np.ndarray | None) -> np.ndarray:
        g = replace(_group_of(rows, ids), strength=np.full(60, 7.0), community=community)
        sc = score_accounts(_table(rows, ids), g)
        return sc.accounts["score"].to_numpy() >= threshold_for(sc, 0.001)

    rows = [campaign] * 20 + [user] * 40
    assert flagged(rows, None).all() and flagged(rows, np.zeros(60, np.int64)).all()
    split = flagged(rows, parts)
    assert split[:20].all() and not split[20:].any()
    assert flagged([campaign] * 60, parts).all()
