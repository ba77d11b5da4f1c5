"""The capability model on text it was not fitted on: new wordings, and corpora left out of its training."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from distillguard.errors import ConfigError
from distillguard.fingerprints.capability import CLASSES, CUES, CapabilityModel, cue_matrix, load_model
from distillguard.fingerprints.texts import capability_labels, normalise_array

BENCH = Path(__file__).resolve().parents[1] / "bench"

# Requests written for this test, in wordings of no training corpus: what each asks for decides its label.
FRESH = [
    ("Compute the definite integral of 3x^2 + 2x from 0 to 4 and simplify.", "reasoning"),
    ("A tank holds 240 liters and drains 15 liters per hour. After how many hours is it a quarter full?", "reasoning"),
    ("Implement a thread-safe LRU cache in Go with Get and Put methods; include unit tests.", "coding"),
    ("Fix this:\n```js\nconst xs = [1, 2, 3];\nxs.map(x => x * 2)\n```\nit returns undefined in my reducer", "coding"),
    ("Check the latest price of Bitcoin and convert it to euros using the exchange rate API.", "tool_use"),
    ("Find flights from Lisbon to Oslo next Friday and book me the cheapest hotel near the airport.", "tool_use"),
    ("Write a short bedtime story about a shy dragon who learns to sing.", "other"),
    ("Can you recommend a few good habits for sleeping better during exam season?", "other"),
]


def test_fresh_wordings_get_the_label_of_what_they_ask_for() -> None:
    got = capability_labels([t for t, _ in FRESH]).to_pylist()
    right = [g == label for g, (_, label) in zip(got, FRESH, strict=True)]
    # the n-gram-only model of before scored 4 of 8 here (both tool requests and the integral went to other)
    assert sum(right) >= 7, list(zip(got, FRESH, strict=True))


# Requests that define a tool or ask for a call (function-calling data synthesis, tool-offering prompts), and
# requests for a derivation, written for this test: the model of before read the tool ones as other or coding
TOOL_REQUESTS = [
    'Here is a tool schema: {"name": "get_weather", "description": "Current weather for a city", "parameters": '
    '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}\nWrite 5 user requests '
    "that would need this tool and, for each, the exact call with its arguments as JSON.",
    "Create a JSON schema for a function that books a table at a restaurant, with parameters for the date, time "
    "and party size.",
    "Given the functions below, reply only with the function call JSON that answers the user.\n"
    '{"name": "convert_currency", "parameters": {"type": "object", "properties": {"amount": {"type": "number"}, '
    '"from": {"type": "string"}, "to": {"type": "string"}}}}\nUser: how much is 100 euros in yen?',
    "You can call these APIs: search_flights(origin, destination, date), book_flight(flight_id). Plan the steps "
    "and the calls needed to book me the cheapest flight from Paris to Rome next Friday.",
    "Which API should be called, and with which arguments, to get the 5-day forecast for Berlin?",
]
DERIVATIONS = [
    "Prove that the square root of 2 is irrational.",
    "Show that for every integer n, n^3 - n is divisible by 6.",
    "Derive the formula for the sum of a geometric series.",
]


def test_requests_that_define_a_tool_or_ask_for_a_call_are_tool_use() -> None:
    got = capability_labels(TOOL_REQUESTS).to_pylist()
    assert got == ["tool_use"] * len(TOOL_REQUESTS), got  # before: other, other, coding, other, tool_use


def test_requests_for_a_derivation_are_reasoning() -> None:
    got = capability_labels(DERIVATIONS).to_pylist()
    assert got == ["reasoning"] * len(DERIVATIONS), got  # before: the derivation was other


def test_fingerprint_cache_version_follows_the_cue_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cue's pattern changed without a new model file must not reuse labels cached under the old one."""
    from distillguard.fingerprints import cache, capability

    before = cache.fingerprint_version()
    monkeypatch.setitem(capability.CUES, "json", capability.CUES["json"] + "|\\bjsonl\\b")
    assert cache.fingerprint_version() != before


def test_cues_and_model_format() -> None:
    lower = pc.utf8_lower(normalise_array(pa.array(["solve x^2 = 4", "def f():\n    return 1", "hello"])))
    m = cue_matrix(lower, ("equation", "code", "question"))
    assert m.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    model = load_model()
    assert set(model.cues) <= set(CUES) and model.cue_coef.shape == (len(model.cues), len(CLASSES))
    again = CapabilityModel.from_json(json.loads(json.dumps(model.to_json())))
    np.testing.assert_allclose(again.cue_coef, model.cue_coef, atol=1e-4)
    p = model.probabilities(lower)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert (p.argmax(axis=1) == model.scores(lower).argmax(axis=1)).all()
    bad = model.to_json() | {"cues": ["no_such_cue"], "cue_coef": [0.0] * len(CLASSES)}
    with pytest.raises(ConfigError, match="unknown capability cues"):
        CapabilityModel.from_json(bad, "bad.json")


def _bench():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("capability_transfer", BENCH / "capability_transfer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_leave_one_corpus_out_on_a_small_sample(corpora: Path) -> None:
    """The bench runs end to end on 40 prompts a corpus, and a model fitted without a corpus still labels
    most of it (the full table is in docs/detection.md)."""
    bench = _bench()
    import train_capability as tc

    rows = tc.load_corpora(corpora, cap=40)
    res = bench.loco(rows)
    names = [r["corpus"] for r in res["per_corpus"]]
    assert names == sorted({c for _, _, c in rows}) and len(names) >= 10
    assert res["in_accuracy"] >= 0.83  # 121 prompts: .843 here (the full split: .956)
    # fitted on the other corpora only: the n-gram-only design scored .653 here, the cue design of before .693,
    # with the tool cues, the tools rule and n-grams at half their weight .752
    assert res["cross_accuracy"] >= 0.72, res["per_corpus"]
    by = {r["corpus"]: r["accuracy"] for r in res["per_corpus"]}
    assert by["gsm8k"] >= 0.8 and by["humaneval"] >= 0.8, by
    # ToolFormer's described tools, learnt without ToolFormer (from Glaive's tool definitions): .7 here, 0 before
    assert by["gpteacher_toolformer"] >= 0.5 and by["glaive_function_calling_tools"] == 1.0, by


def test_bench_refuses_a_missing_folder(tmp_path: Path, capsys) -> None:
    assert _bench().main(["--data", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err
