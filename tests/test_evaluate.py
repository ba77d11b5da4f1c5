"""evaluate's metrics against scikit-learn on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, f1_score, precision_score, recall_score, roc_auc_score

from distillguard.evaluate import adjusted_rand, evaluate, format_table, roc_auc


def _fixed(seed: int, n: int = 300) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[float, bool, str]]]:
    rng = np.random.default_rng(seed)
    labels, det = {}, {}
    for i in range(n):
        camp = rng.choice(["", "", "", "A", "B", "C"])
        actor = f"campaign:{camp}" if camp else rng.choice(["legit:casual", "legit:batch"])
        score = float(np.round(rng.random() * 0.6 + (0.4 if camp else 0.0), 2))  # ties on purpose
        flagged = score >= 0.55
        pred = (camp if rng.random() < 0.9 else "X") if flagged and camp else ("Y" if flagged else "")
        labels[f"a{i}"] = (camp, actor)
        det[f"a{i}"] = (score, flagged, pred)
    return labels, det


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_account_metrics_match_sklearn(seed: int) -> None:
    labels, det = _fixed(seed)
    ids = sorted(labels)
    y = np.array([bool(labels[a][0]) for a in ids])
    f = np.array([det[a][1] for a in ids])
    s = np.array([det[a][0] for a in ids])
    ev = evaluate(labels, det)
    assert ev.precision == pytest.approx(precision_score(y, f))
    assert ev.recall == pytest.approx(recall_score(y, f))
    assert ev.f1 == pytest.approx(f1_score(y, f))
    assert ev.roc_auc == pytest.approx(roc_auc_score(y, s))
    assert ev.fpr == pytest.approx(((~y) & f).sum() / (~y).sum())
    flagged = [a for a in ids if det[a][1]]
    t = [labels[a][0] or f"legit:{a}" for a in flagged]
    p = [det[a][2] or f"single:{a}" for a in flagged]
    assert ev.ari == pytest.approx(adjusted_rand_score(t, p))
    assert {a.actor for a in ev.actors} >= {"legit:casual", "campaign:A"}
    assert "ROC AUC" in format_table(ev)


def test_roc_and_ari_edge_cases() -> None:
    assert np.isnan(roc_auc(np.array([True, True]), np.array([0.1, 0.2])))
    assert roc_auc(np.array([False, True]), np.array([0.1, 0.9])) == 1.0
    assert adjusted_rand(["a", "a", "b"], ["x", "x", "y"]) == pytest.approx(1.0)
    assert adjusted_rand(["a", "b", "c", "d"], ["x", "x", "y", "y"]) == pytest.approx(
        adjusted_rand_score(["a", "b", "c", "d"], ["x", "x", "y", "y"]))


def test_per_actor_breakdown() -> None:
    labels = {"c1": ("K", "campaign:L1"), "c2": ("K", "campaign:L1"), "l1": ("", "legit:nat"), "l2": ("", "legit:nat")}
    det = {"c1": (0.9, True, "dg-1"), "c2": (0.2, False, ""), "l1": (0.8, True, "dg-1"), "l2": (0.1, False, "")}
    ev = evaluate(labels, det)
    rows = {a.actor: a for a in ev.actors}
    assert rows["campaign:L1"].flagged == 1 and rows["campaign:L1"].campaign
    assert rows["legit:nat"].rate == 0.5 and not rows["legit:nat"].campaign
    assert ev.precision == 0.5 and ev.recall == 0.5 and ev.purity == 0.5
