"""Generation-time watermark with real (tiny, random) transformers models, and the radioactivity test."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from distillguard.watermark import (  # noqa: E402
    Detector,
    FileTokenizer,
    GreenList,
    WatermarkKey,
    load_tokenizer,
    vllm_logits_processor,
)
from distillguard.watermark.keys import file_sha256  # noqa: E402
from distillguard.watermark.radioactivity import closed_test, hf_predictor, open_test  # noqa: E402
from distillguard.watermark.tinylm import generate, tiny_gpt2, train_lm, train_word_tokenizer  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # the machine is shared; one thread is also faster for models this small


@pytest.fixture(scope="module")
def word_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    words = [f"w{i}" for i in range(300)] + [".", ","]
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(words, 50)) for _ in range(40)]
    return train_word_tokenizer(texts, 400, tmp_path_factory.mktemp("tok") / "tokenizer.json")


def test_hf_generate_watermark_is_detected_from_text_alone(word_tokenizer: Path) -> None:
    tok = FileTokenizer(word_tokenizer)
    key = WatermarkKey(secret=bytes(range(32)), tokenizer=str(word_tokenizer),
                       tokenizer_sha256=file_sha256(word_tokenizer))
    model = tiny_gpt2(tok.vocab_size, seed=0)
    prompts = np.random.default_rng(1).integers(1, tok.vocab_size, (4, 6))
    marked = generate(model, prompts, 100, key=key, seed=1)
    plain = generate(model, prompts, 100, seed=1)
    det = Detector(key)  # tokenizer from the key file: no model, no torch needed for this part
    for ids in marked:
        d = det.detect(tok.decode(ids))
        assert d.tokens == 100 and d.p_value < 1e-6 and d.verdict == "watermarked"
    assert all(det.detect(tok.decode(ids)).p_value > 1e-3 for ids in plain)


def test_tokenizer_pinned_by_hash(word_tokenizer: Path, tmp_path: Path) -> None:
    from distillguard.errors import ConfigError

    other = tmp_path / "other.json"
    other.write_text(word_tokenizer.read_text().replace('"w1"', '"w1x"'))
    with pytest.raises(ConfigError, match="SHA-256"):
        load_tokenizer(other, file_sha256(word_tokenizer))


def test_vllm_function_and_hf_processor_add_the_same_bias() -> None:
    from distillguard.watermark.kgw import KGWLogitsProcessor  # type: ignore[attr-defined]

    key = WatermarkKey(secret=bytes(32), delta=2.0, context_width=3)
    prompt, output = [5, 9, 11, 2], [7, 7]
    logits = torch.zeros(500)
    via_vllm = vllm_logits_processor(key)(prompt, output, logits)
    via_hf = KGWLogitsProcessor(key)(torch.tensor([prompt + output]), torch.zeros(1, 500))[0]
    assert torch.equal(via_vllm, via_hf)
    expected = GreenList(key).green_mask([11, 2, 7, 7][-3:], 500)
    assert torch.equal(via_vllm > 0, torch.from_numpy(expected))
    assert np.allclose(vllm_logits_processor(key)(prompt, output, np.zeros(500)), via_vllm.numpy())


@pytest.mark.slow
def test_radioactivity_contaminated_student_vs_innocent_controls() -> None:
    vocab = 32
    key = WatermarkKey(secret=bytes(range(32)), gamma=0.25, delta=3.0, context_width=1)
    teacher = tiny_gpt2(vocab, n_embd=32, n_layer=1, seed=1)
    rng = np.random.default_rng(0)
    prompts = rng.integers(0, vocab, (128, 4))
    marked = generate(teacher, prompts, 96, key=key, seed=1)
    student = copy.deepcopy(teacher)
    train_lm(student, [np.concatenate(x) for x in zip(prompts, marked, strict=True)], 150, seq_len=32, batch=16)
    probe = list(rng.integers(0, vocab, (64, 96)))  # unmarked input: input tuples need no exclusion
    det = Detector(key)
    contaminated = open_test(det, probe, hf_predictor(student), exclude_input=False)
    innocent = open_test(det, probe, hf_predictor(teacher), exclude_input=False)
    assert contaminated.p_value < 1e-6, contaminated
    assert innocent.p_value > 1e-3, innocent
    # 20 control keys on the contaminated student: nothing radioactive under keys it never saw
    controls = [open_test(Detector(WatermarkKey(secret=np.random.default_rng(100 + i).bytes(32),
                                                  context_width=1)),
                          probe, hf_predictor(student), exclude_input=False).p_value for i in range(20)]
    assert min(controls) > 1e-3 and np.mean(controls) > 0.25
    # closed setting on the student's own generations, prompts excluded
    gens = generate(student, rng.integers(0, vocab, (32, 4)), 64, seed=3)
    assert closed_test(det, gens).p_value < closed_test(Detector(WatermarkKey(secret=bytes(32), context_width=1)),
                                                        gens).p_value


def test_cli_radioactivity_closed_and_open(word_tokenizer: Path, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from distillguard.cli import main
    from distillguard.watermark import save_key

    tok = FileTokenizer(word_tokenizer)
    key = WatermarkKey(secret=bytes(range(32)), tokenizer=str(word_tokenizer),
                       tokenizer_sha256=file_sha256(word_tokenizer))
    save_key(key, tmp_path / "k.json")
    model = tiny_gpt2(tok.vocab_size, seed=2)
    model.save_pretrained(tmp_path / "suspect")
    prompts = np.random.default_rng(3).integers(1, tok.vocab_size, (4, 6))
    gens = tmp_path / "gens.jsonl"
    gens.write_text("".join(json.dumps({"text": tok.decode(g), "prompt": tok.decode(p)}) + "\n"
                            for p, g in zip(prompts, generate(model, prompts, 60, key=key), strict=True)))
    runner = CliRunner()
    r = runner.invoke(main, ["watermark", "radioactivity", "--key-file", str(tmp_path / "k.json"), "--json", str(gens)])
    assert r.exit_code == 0, r.output
    closed = json.loads(r.output)
    assert closed["setting"] == "closed" and closed["p_value"] < 1e-6  # its outputs carry the key outright
    probe = tmp_path / "probe.txt"
    probe.write_text(" ".join(f"w{i}" for i in range(0, 300, 3)))
    r = runner.invoke(main, ["watermark", "radioactivity", "--key-file", str(tmp_path / "k.json"), "--model",
                             str(tmp_path / "suspect"), "--probe-unmarked", "--json", str(probe)])
    assert r.exit_code == 0, r.output
    opened = json.loads(r.stdout)
    assert opened["setting"] == "open" and opened["p_value"] > 1e-3  # a random model never saw the key
