"""Prompt fingerprints: normalisation, masking, stable ids, wrappers, near-duplicates, labels, markers."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.errors import ConfigError, UsageError
from distillguard.fingerprints.capability import CLASSES, CapabilityModel, load_model
from distillguard.fingerprints.neardup import minhash_signatures
from distillguard.fingerprints.texts import (
    FINGERPRINT_SCHEMA,
    capability_labels,
    fingerprint_texts,
    near_duplicate_groups,
    normalise,
    skeleton,
    stable_hash64,
    wrapper_segments,
)

WRAP = (
    "You are an expert tutor. Solve the following problem step by step, showing all reasoning:\n\n{q}\n\n"
    "Return the final answer as a JSON object."
)
QUESTIONS = [
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether?",
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
    "Betty is saving money for a new wallet which costs $100. Her parents give her $15. How much more does she need?",
    "A train leaves the station at 3 pm travelling at 60 km/h. When does it reach a town 150 km away?",
]


def test_normalise_removes_invisibles_and_folds_homoglyphs() -> None:
    assert normalise("he\u200bl\u200dlo\ufeff w\u2060orld") == "hello world"
    assert normalise("Ѕоlvе thе рrоblеm") == "Solve the problem"  # Cyrillic look-alikes
    assert normalise("ΑΒΕ καί") == "ABE kai"  # Greek capitals fold, accent stripped
    assert normalise("ｆｕｌｌ　ｗｉｄｔｈ") == "full width"  # NFKC
    assert normalise("cafe\u0301  \t x\r\ny\x00z") == "cafe x\ny z"  # combining mark, controls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I have 3 apples and 4.5 pears, 1,000 in total", "i have <num> apples and <num> pears <num> in total"),
        ("see https://example.com/x?a=1 or www.foo.org now", "see <ref> or <ref> now"),
        ("mail bob.smith@corp.example.com today", "mail <ref> today"),
        ("id 123e4567-e89b-12d3-a456-426614174000 ok", "id <ref> ok"),
        ('translate "good morning, friend" to French', "translate <str> to <name>"),
        ("then Alice Brown met Bob", "then <name> met <name>"),
        ("fix this:\n```python\nprint('x')\n```\nthanks", "fix this:\n<code>\nthanks"),
        ("token abc123def and 0xdeadbeef", "token <num> and <num>"),
        ("hash deadbeefcafebabe here", "hash <ref> here"),
        ("Wow!!!   Really???  ...yes", "wow! really? yes"),
    ],
)
def test_skeleton_masks_data(text: str, expected: str) -> None:
    assert skeleton(text) == expected


def test_fingerprint_table_schema_and_one_row_per_text() -> None:
    texts = [WRAP.format(q=q) for q in QUESTIONS] + ["hello", "hello", ""]
    table = fingerprint_texts(texts)
    assert table.schema.equals(FINGERPRINT_SCHEMA)
    assert table.num_rows == len(texts)
    ids = table["template_id"].to_pylist()
    assert ids[4] == ids[5] and ids[4] != ids[6]
    assert len(set(ids[:4])) == 4  # different payloads, different exact templates
    assert fingerprint_texts(pa.array(texts)).equals(table)  # Arrow input, same answer
    assert fingerprint_texts([]).num_rows == 0


def test_template_id_is_stable_across_processes() -> None:
    text = WRAP.format(q=QUESTIONS[0])
    here = fingerprint_texts([text])["template_id"][0].as_py()
    code = f"import distillguard.fingerprints as f; print(f.fingerprint_texts([{text!r}])['template_id'][0])"
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"}
    )
    assert int(there.stdout) == here
    assert stable_hash64(["abc"])[0] == stable_hash64(pa.array(["abc"]))[0]


def test_evasion_with_invisibles_and_confusables_keeps_template_and_wrapper() -> None:
    clean = [WRAP.format(q=q) for q in QUESTIONS]
    evasive = [
        t.replace("expert", "exp\u200bert").replace("Solve", "Ѕоlvе").replace("reasoning", "rеasоning\u2063")
        .replace("JSON", "ＪＳＯＮ").replace(" the ", " the\u00ad ")
        for t in clean
    ]  # fmt: skip
    table = fingerprint_texts(clean + evasive)
    ids = table["template_id"].to_pylist()
    assert ids[:4] == ids[4:]
    assert table["skeleton"].to_pylist()[:4] == table["skeleton"].to_pylist()[4:]


def test_wrapper_id_groups_same_template_with_different_payloads() -> None:
    other_wrap = (
        "Please act as a senior engineer and review the task below carefully.\n\n{q}\n\nAnswer in one paragraph."
    )
    items = ["apples", "pears", "marbles", "stamps", "books", "coins", "shells", "cards", "tickets", "cookies"]
    verbs = ["buys", "finds", "sells", "loses"]
    payloads = [f"A shop {v} {i} every morning, how many {i} does it {v} in a week?" for v in verbs for i in items]
    texts = [WRAP.format(q=q) for q in payloads] + [other_wrap.format(q=q) for q in payloads] + payloads[:4]
    table = fingerprint_texts(texts)
    w = table["wrapper_id"].to_pylist()
    n = len(payloads)
    assert len(set(w[:n])) == 1 and len(set(w[n : 2 * n])) == 1 and w[0] != w[n]
    assert table["wrapper"][0].as_py() == (
        "you are an expert tutor\nsolve the following problem step by step showing all reasoning\n<payload>\n"
        "return the final answer as a json object"
    )
    assert len(set(w[2 * n :])) == 4  # bare payloads (each seen behind the two wrappers too) share no wrapper
    assert w[2 * n :] == table["template_id"].to_pylist()[2 * n :]


def test_near_duplicate_groups() -> None:
    base = skeleton(WRAP.format(q="<q>"))
    edited = base.replace("expert tutor", "experienced tutor").replace("all reasoning", "all your reasoning")
    unrelated = [
        skeleton("Write a haiku about autumn leaves falling in the quiet forest at dusk."),
        skeleton("What is the capital of Australia and why was it chosen over Sydney?"),
        skeleton("Translate the following paragraph into German and keep the tone formal."),
    ]
    groups = near_duplicate_groups([base, edited, *unrelated, base])
    assert groups.dtype == np.int64
    assert groups.tolist() == [0, 0, 2, 3, 4, 0]
    assert near_duplicate_groups([]).tolist() == []
    with pytest.raises(UsageError):
        near_duplicate_groups(["a"], threshold=1.5)


def test_near_duplicate_groups_take_signatures_computed_ahead() -> None:
    """Signatures computed ahead (detect: on a thread, for the new wrappers) give the same groups, whichever
    strings they cover, and are taken from `known` (a wrong signature there would change the groups)."""
    base = skeleton(WRAP.format(q="<q>"))
    edited = base.replace("expert tutor", "experienced tutor").replace("all reasoning", "all your reasoning")
    texts = [base, "hello there friend", edited, "write a poem about the sea", base]
    plain = near_duplicate_groups(texts)
    for covered in ([], [edited], [base, "not in the input"], texts[:4]):
        known = pa.array(covered, pa.string())
        assert near_duplicate_groups(texts, known=(known, minhash_signatures(known))).tolist() == plain.tolist()
    known = pa.array([edited], pa.string())
    unlike = minhash_signatures(pa.array(["something else entirely, nothing alike"]))
    assert near_duplicate_groups(texts, known=(known, unlike)).tolist() != plain.tolist()


@pytest.mark.parametrize(
    ("text", "label"),
    [
        (
            "Janet has 3 apples and buys 5 more. She gives 2 to her brother. How many apples does she have left?",
            "reasoning",
        ),
        ("Write a Python function that returns the n-th Fibonacci number using memoization.", "coding"),
        ('def add(a, b):\n    """Return the sum of a and b.\n    >>> add(1, 2)\n    3\n    """\n', "coding"),
        (
            "toolformer: enabled\ntoolformer access: weather\nweather(querywithlocation)\nGet the forecast for Paris",
            "tool_use",
        ),
        ("I want you to act as a travel guide. I will tell you my location and you suggest places to visit.", "other"),
        ("Write a heartfelt birthday message for my grandmother who is turning ninety.", "other"),
    ],
)
def test_capability_labels(text: str, label: str) -> None:
    assert capability_labels([text]).to_pylist() == [label]
    assert fingerprint_texts([text])["capability"][0].as_py() == label


@pytest.mark.parametrize(
    ("text", "cot", "structured"),
    [
        ("Solve this step by step.", True, False),
        ("Think carefully and show your work before answering.", True, False),
        ("Explain your reasoning, then give the answer.", True, False),
        ("<think> first", True, False),
        ("Use chain-of-thought.", True, False),
        ("Respond in JSON with keys name and age.", False, True),
        ("Return a YAML document.", False, True),
        ("Output format: a markdown table", False, True),
        ("Present the result as a table.", False, True),
        ("Reply in the following format:\nAnswer: ...", False, True),
        ("Tell me a joke about cats.", False, False),
        ("What's the weather like in Rome in May?", False, False),
    ],
)
def test_markers(text: str, cot: bool, structured: bool) -> None:
    row = fingerprint_texts([text]).to_pylist()[0]
    assert (row["cot"], row["structured"]) == (cot, structured)


# Chain-of-thought elicitation worded in ways no fixed phrase covers: a verb of disclosing followed by the
# process it discloses, a manner of proceeding, or no gaps in the argument. Ordinary requests that merely
# mention steps, logic or working (a recipe, a code review, a job) are not.
@pytest.mark.parametrize(
    ("text", "cot"),
    [
        ("Could you lay bare the whole derivation, please?", True),
        ("Please spell out all of the intermediate calculations for this integral.", True),
        ("Answer, and document every inference you make along the way.", True),
        ("Keep all the working visible when you solve this.", True),
        ("Narrate your thought process as you go through the proof.", True),
        ("Go over it one small step at a time.", True),
        ("Prove it from first principles.", True),
        ("Derive the result, leaving no gaps in the argument.", True),
        ("Present how you arrived at the final figure.", True),
        ("Review this pull request line by line.", True),
        ("List the steps to bake sourdough bread.", False),
        ("What is the logic behind the offside rule?", False),
        ("Show me the working hours of the Louvre.", False),
        ("Take the train to Milan and tell me the fare.", False),
        ("Explain how photosynthesis works.", False),
    ],
)
def test_chain_of_thought_by_concept(text: str, cot: bool) -> None:
    assert fingerprint_texts([text])["cot"][0].as_py() is cot


# The same requests in other languages: a campaign harvesting reasoning writes in its workers' or its data's
# language. Ordinary text in those languages that mentions steps, chains or processes is not one.
@pytest.mark.parametrize(
    ("text", "cot"),
    [
        ("Resuelve este problema paso a paso y justifica cada operación.", True),
        ("Explique o seu processo de raciocínio antes da resposta final.", True),
        ("Décris ton raisonnement détaillé, étape par étape.", True),
        ("Zeig mir deinen ganzen Gedankengang, bevor du antwortest.", True),
        ("Реши эту задачу шаг за шагом и покажи ход рассуждений.", True),
        ("Что такое цепь поставок?", False),
        ("Bu soruyu adım adım çöz.", True),
        ("请写出完整的推理过程，再给出答案。", True),
        ("答えの前に、思考過程をすべて書いてください。", True),
        ("풀이를 단계별로 자세히 보여 주세요.", True),
        ("Jelaskan langkah demi langkah bagaimana hasilnya didapat.", True),
        ("¿Cuáles son los pasos para renovar el pasaporte?", False),
        ("La cadena de suministro se interrumpió en marzo.", False),
        ("Der Schrittzähler zeigt heute 8000 Schritte.", False),
        ("明天的天气怎么样？", False),
        ("Quel est le processus de recrutement chez vous ?", False),
    ],
)
def test_chain_of_thought_in_other_languages(text: str, cot: bool) -> None:
    assert fingerprint_texts([text])["cot"][0].as_py() is cot


COT_WORDS = ["show", "lay", "out", "all", "the", "your", "working", "reasoning", "step", "by", "each", "how", "you",
             "got", "there", "no", "gaps", "in", "argument", "think", "cot", "Keep", "intermediate", "calculations",
             ".", ",", "\n", "x"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(COT_WORDS), max_size=30).map(" ".join))
def test_chain_of_thought_halves_match_as_the_whole_pattern(text: str) -> None:
    from distillguard.fingerprints import texts

    arr = pa.array([text, text.lower()])
    whole = pa.compute.match_substring_regex(arr, texts._COT)
    halves = pa.compute.or_(*(pa.compute.match_substring_regex(arr, p) for p in texts._COT_PARTS))
    assert whole.equals(halves)


def test_packaged_model_loads_and_is_small(tmp_path) -> None:
    ref = resources.files("distillguard") / "data" / "capability_model.json"
    raw = ref.read_bytes()
    assert len(raw) < 2_000_000
    model = load_model()
    assert model.classes == CLASSES
    assert model.coef.shape == (len(model.vocab), len(CLASSES))
    assert all(len(t.split()) <= 2 for t in model.vocab.to_pylist()[:1000])  # n-grams, not corpus text
    assert any(term == "def" for term, _ in model.top_terms("coding", 200))
    again = CapabilityModel.from_json(json.loads(raw))
    np.testing.assert_allclose(again.coef, model.coef)
    bad = tmp_path / "bad.json"
    bad.write_text('{"classes": ["a"]}')
    with pytest.raises(ConfigError, match="bad.json"):
        load_model(bad)


def test_hostile_inputs() -> None:
    huge = "Solve step by step. " + "x" * 10_000_000 + " Return JSON."
    texts = [huge, "a\x00b", "\ud800 lone surrogate", "🙂" * 1000, None, "Ｊａｎｅ", b"bad \xff\xfe utf-8"]
    table = fingerprint_texts(texts)
    assert table.num_rows == len(texts)
    assert table["skeleton"][6].as_py() == "bad utf <num>"
    for arrow in (pa.array(["x", "y"]).dictionary_encode(), pa.array(["x", "y"], pa.large_string())):
        assert fingerprint_texts(arrow)["skeleton"].to_pylist() == ["x", "y"]
    assert fingerprint_texts(pa.array([b"caf\xe9"], pa.binary()))["skeleton"][0].as_py() == "caf"
    assert len(table["skeleton"][0].as_py()) < 20_000
    assert table["cot"][0].as_py() and table["structured"][0].as_py()


@pytest.mark.parametrize("dense", [True, False])
def test_model_id_lookup_matches_string_ngrams(dense: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from distillguard.fingerprints import capability
    from distillguard.fingerprints.capability import ngram_terms
    from distillguard.fingerprints.texts import normalise_array

    texts = [WRAP.format(q=q) for q in QUESTIONS] + ["def f(x):\n    return x ** 2  # square", "", "héllo wörld"]
    # digits inside words and beside punctuation (folded per token at inference), more than MAX_TOKENS tokens
    texts += ["v2 costs $3.50 (x10) or 1,000/yr at 4pm_utc: 0x1f 007", "step 1 2 3 " * 120]
    lower = pa.compute.utf8_lower(normalise_array(pa.array(texts)))
    if not dense:  # the lookup a vocabulary too large for the dense bigram table takes
        monkeypatch.setattr(capability, "_DENSE_BIGRAMS_MAX", 0)
    model = load_model()
    doc, terms = ngram_terms(lower)
    feat = pa.compute.fill_null(pa.compute.index_in(terms, value_set=model.vocab), -1).to_numpy(zero_copy_only=False)
    pairs = {(int(d), int(f)) for d, f in zip(doc, feat, strict=True) if f >= 0}
    keys = model._feature_keys(lower)
    assert (np.diff(keys) > 0).all()  # sorted and distinct: the order scores() sums them in
    assert pairs == {divmod(int(k), len(model.vocab)) for k in keys}


def _campaign(wrap: str, n: int) -> list[str]:
    items = ["apples", "pears", "marbles", "stamps", "books", "coins", "shells", "cards", "tickets", "cookies"]
    verbs = ["buys", "finds", "sells", "loses", "paints", "counts"]
    return [
        wrap.format(q=f"A shop {v} {i} each day, how many {i} does it {v} per week?") for v in verbs for i in items
    ][:n]


def test_known_wrapper_segments_give_small_batches_the_batch_wrapper_id() -> None:
    log = _campaign(WRAP, 40) + QUESTIONS
    segs = wrapper_segments(log)
    assert segs.column_names == ["segment_id", "segment", "skeletons"]
    assert "solve the following problem step by step showing all reasoning" in segs["segment"].to_pylist()
    assert all(s.count(" ") >= 2 for s in segs["segment"].to_pylist())  # >= 3 tokens
    full = fingerprint_texts(log)
    one = fingerprint_texts(log[:1])  # alone, nothing repeats: wrapper = skeleton
    assert one["wrapper_id"][0] == one["template_id"][0] != full["wrapper_id"][0]
    online = fingerprint_texts(log[:1], known_wrapper_segments=segs["segment"])
    assert online["wrapper_id"][0] == full["wrapper_id"][0]
    assert online["wrapper_segments"][0].as_py() == full["wrapper_segments"][0].as_py()
    assert len(full["wrapper_segments"][0].as_py()) == 3


def test_rotated_wrappers_share_segment_ids() -> None:
    openers = ["You are an expert tutor.", "Please answer the question below.", "Here is a problem for you."]
    asks = ["Think step by step.", "Show every step of your reasoning.", "Explain how you get there."]
    texts = []
    for i, text in enumerate(_campaign("{q}", 60)):
        texts.append(f"{openers[i % 3]}\n\n{text}\n\n{asks[(i // 3) % 3]}")
    table = fingerprint_texts(texts)
    assert len(set(table["wrapper_id"].to_pylist())) == 9  # 3 openers x 3 asks
    first = [s[0] for s in table["wrapper_segments"].to_pylist()]
    assert len(set(first)) == 3  # each opener is one shared segment across its prompts


INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\ufe0f", "\U000e0041"]
HOMOGLYPHS = str.maketrans("aeopcxyiABEKMHOPCTXS", "аеорсхуіАВЕКМНОРСТХЅ")
ASCII_TEXT = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("\n\t"), min_size=1, max_size=200
)


@settings(max_examples=60, deadline=None)
@given(ASCII_TEXT, st.lists(st.tuples(st.integers(0, 200), st.sampled_from(INVISIBLES)), max_size=8), st.booleans())
def test_invisibles_and_homoglyphs_never_change_the_skeleton(text: str, inserts: list, swap: bool) -> None:
    evasive = text.translate(HOMOGLYPHS) if swap else text
    for pos, ch in sorted(inserts, reverse=True):
        evasive = evasive[:pos] + ch + evasive[pos:]
    assert skeleton(evasive) == skeleton(text)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=5))
def test_any_unicode_fingerprints_without_error(texts: list[str]) -> None:
    table = fingerprint_texts(texts)
    assert table.num_rows == len(texts)
    assert set(table["capability"].to_pylist()) <= set(CLASSES)
    assert skeleton(texts[0]) == table["skeleton"][0].as_py()


def test_near_duplicate_groups_do_not_chain() -> None:
    # each step changes two more words: neighbours are near-duplicates, the ends are not
    words = "please solve the following problem carefully and explain each step before the final answer".split()
    chain = []
    for k in range(0, 12, 2):
        w = list(words)
        for j in range(k):
            w[j] = f"x{j}"
        chain.append(" ".join(w))
    groups = near_duplicate_groups(chain, threshold=0.6)
    sig = minhash_signatures(chain)
    for i, g in enumerate(groups):
        assert (sig[i] == sig[g]).mean() >= 0.5  # every member is close to its group's leader
    assert groups[0] != groups[-1]


def test_threaded_and_serial_fingerprints_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    from distillguard.fingerprints import texts as fpmod

    texts = [WRAP.format(q=q) for q in QUESTIONS] + ["print('hi')", "Use the weather tool for Paris."]
    whole = fingerprint_texts(texts, threads=1)
    monkeypatch.setattr(fpmod, "_PIECE", 3)  # several pieces of per-text work, taken by two threads
    assert fingerprint_texts(texts, threads=2).equals(whole)
    assert fingerprint_texts(texts, threads=1).equals(whole)
    assert fingerprint_texts(texts + texts[:4], threads=2).equals(pa.concat_tables([whole, whole.slice(0, 4)]))


def test_near_duplicates_are_found_across_the_hashing_chunks() -> None:
    """Signatures are hashed 50,000 skeletons at a time; a wrapper and its one-word edit 50,001 apart (in two
    chunks) are grouped as they are side by side: a token is identified by its text, not by its place in a
    chunk's dictionary."""
    base = "you are an expert tutor solve the following problem and show all of your work carefully please"
    edit = base.replace("carefully", "thoroughly")
    filler = [f"unrelated prompt number {i} about topic {i * 7} with words {i % 97} and {i % 89}"
              for i in range(50_000)]
    apart = near_duplicate_groups([base, *filler, edit])
    together = near_duplicate_groups([base, edit, *filler])
    assert apart[0] == apart[-1] and together[0] == together[1]
