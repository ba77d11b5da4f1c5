"""Post-hoc lexical watermark: meaning-preserving rewriting and its exact test."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.watermark import WatermarkKey, save_key
from distillguard.watermark.lexical import LexicalWatermark, find_slots

TEXT = """It is clear that we do not know what it is. I am sure it isn't John's fault... You are welcome
to email me toward the end. There is time; that's fine.
- first item
- second item
```python
s = "don't touch it is code"
```
Use `it is` inline. They are done, and I will say it's been fun."""


def _canon(text: str) -> list[str]:
    return [s.canon for s in find_slots(text) if s.kind != "apostrophe"]


def test_rewrite_changes_only_variants_and_is_idempotent() -> None:
    wm = LexicalWatermark(WatermarkKey(secret=bytes(range(32))))
    out = wm.apply(TEXT)
    assert out != TEXT and wm.apply(out) == out
    assert _canon(out) == _canon(TEXT)
    assert '"don\'t touch it is code"' in out and "`it is`" in out  # code untouched
    assert "it's been" in out.replace("\u2019", "'")  # "'s" = "has" is never expanded to "is"
    d = wm.detect(out, min_tokens=5)
    assert d.green == d.tokens_scored >= 12


def _gpteacher(corpora: Path, n: int) -> list[str]:
    with gzip.open(corpora / "gpteacher_gpt4_distilled" / "roleplay_simple_deduped.jsonl.gz", "rt") as f:
        return [json.loads(line)["response"] for _, line in zip(range(n), f, strict=False)]


def test_power_pooled_and_validity_on_real_text(corpora: Path) -> None:
    texts = _gpteacher(corpora, 400)
    wm = LexicalWatermark(WatermarkKey(secret=bytes(32)))
    other = LexicalWatermark(WatermarkKey(secret=bytes(31) + b"x"))
    marked = [wm.apply(t) for t in texts[:50]]
    assert wm.detect_pooled(marked).p_value < 1e-20
    assert other.detect_pooled(marked).p_value > 1e-3
    p = np.array([wm.detect(t).p_value for t in texts])  # unmarked answers
    assert (p <= 0.05).mean() <= 0.06 and (p <= 0.5).mean() > 0.2


def test_cli_rewrite_then_detect_lexical(tmp_path: Path) -> None:
    save_key(WatermarkKey.generate(), tmp_path / "k.json")
    src = tmp_path / "a.txt"
    src.write_text(TEXT * 3)
    runner = CliRunner()
    r = runner.invoke(main, ["watermark", "rewrite", "--key-file", str(tmp_path / "k.json"), str(src)])
    assert r.exit_code == 0, r.output
    (tmp_path / "marked.jsonl").write_text(r.output)
    r = runner.invoke(main, ["watermark", "detect", "--lexical", "--json", "--key-file", str(tmp_path / "k.json"),
                             str(tmp_path / "marked.jsonl"), str(src)])
    assert r.exit_code == 0, r.output
    marked, plain = json.loads(r.output)
    assert marked["verdict"] == "watermarked" and plain["p_value"] > marked["p_value"]
