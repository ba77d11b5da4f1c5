"""Leak tracing across many account keys with family-wise error control."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.watermark import ByteTokenizer, GreenList, WatermarkKey, account_key, save_key
from distillguard.watermark.trace import holm_adjust, trace_keys


def _marked_text(key: WatermarkKey, n: int, seed: int) -> str:
    rng, g = np.random.default_rng(seed), GreenList(key)
    ids = list(rng.integers(32, 127, key.context_width))
    for _ in range(n):
        logits = g.bias(ids, 127)[32:].astype(np.float64)
        p = np.exp(logits)
        ids.append(32 + int(rng.choice(95, p=p / p.sum())))
    return ByteTokenizer().decode(ids)


def test_holm_matches_the_definition() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    assert np.allclose(holm_adjust(p), [0.03, 0.06, 0.06, 0.02])


def test_leak_is_traced_to_the_right_account_only() -> None:
    master = WatermarkKey(secret=bytes(range(32)), deployment="prod")
    accounts = [f"acct-{i}" for i in range(300)]
    leak = [_marked_text(account_key(master, "acct-17"), 60, s) for s in range(5)]
    leak += ["Plain human text that nobody watermarked, written by hand. " * 3]
    table = trace_keys(leak, master, accounts, ByteTokenizer(), alpha=1e-3).to_pylist()
    assert table[0]["account"] == "acct-17" and table[0]["significant"]
    assert table[0]["p_adjusted"] < 1e-6
    assert not any(r["significant"] for r in table[1:])
    assert len(table) == 301


def test_clean_dataset_names_no_account() -> None:
    master = WatermarkKey(secret=bytes(range(32)))
    texts = [_marked_text(WatermarkKey(secret=bytes(32)), 80, s) for s in range(3)]  # someone else's key
    table = trace_keys(texts, master, [f"a{i}" for i in range(200)], ByteTokenizer(), alpha=0.05)
    assert not any(table.column("significant").to_pylist())


def test_cli_trace(tmp_path: Path) -> None:
    # a fixed key: with a fresh one each run, an innocent account is named in about alpha (1e-3) of the runs, by design
    master = WatermarkKey(secret=bytes(range(32)), deployment="prod")
    save_key(master, tmp_path / "k.json")
    (tmp_path / "accounts.txt").write_text("\n".join(f"acct-{i}" for i in range(50)) + "\n")
    leak = tmp_path / "leak.jsonl"
    leak.write_text("".join(json.dumps({"text": _marked_text(account_key(master, "acct-3"), 80, s)}) + "\n"
                            for s in range(3)))
    r = CliRunner().invoke(main, ["watermark", "trace", "--key-file", str(tmp_path / "k.json"),
                                  "--accounts", str(tmp_path / "accounts.txt"), "--json", str(leak)])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [x["account"] for x in rows if x["significant"]] == ["acct-3"]


@pytest.mark.parametrize("bad", ["", "\n\n"])
def test_cli_trace_needs_accounts(tmp_path: Path, bad: str) -> None:
    save_key(WatermarkKey.generate(), tmp_path / "k.json")
    (tmp_path / "a.txt").write_text(bad)
    (tmp_path / "t.txt").write_text("some text")
    r = CliRunner().invoke(main, ["watermark", "trace", "--key-file", str(tmp_path / "k.json"),
                                  "--accounts", str(tmp_path / "a.txt"), str(tmp_path / "t.txt")])
    assert r.exit_code == 2 and "no account ids" in r.output


def test_lexical_leak_is_traced_to_the_right_account() -> None:
    from distillguard.watermark.lexical import LexicalWatermark
    from distillguard.watermark.trace import trace_lexical

    master = WatermarkKey(secret=bytes(range(32)))
    base = ("It is true that we do not know. I am sure they are right, and you are too. What is it? "
            "There is a way: I will go toward the hills and we will see what's there. ")
    texts = [f"Answer {i}: " + base.replace("hills", f"hill {i}") for i in range(12)]
    marked = [LexicalWatermark(account_key(master, "acct-7")).apply(t) for t in texts]
    table = trace_lexical(marked, master, [f"acct-{i}" for i in range(100)], alpha=1e-3).to_pylist()
    assert [r["account"] for r in table if r["significant"]] == ["acct-7"]
