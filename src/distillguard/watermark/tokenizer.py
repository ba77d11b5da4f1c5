"""Tokenizers the detector can use without model weights.

Detection re-tokenizes text with the tokenizer the model generated with, so it needs only that
tokenizer, never the weights. Two kinds are supported:

- ``bytes``: built in, pure Python: token ids are the UTF-8 bytes of the text (vocabulary 256). For
  byte-level models and for tests; needs nothing installed.
- a path to a Hugging Face ``tokenizer.json`` (BPE, WordPiece, WordLevel, Unigram): the deployment's
  own model tokenizer, loaded from local disk with the ``tokenizers`` package (no torch, no download).
  A key file pins the file's SHA-256, so a different tokenizer is refused instead of silently giving
  meaningless p-values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ConfigError
from .keys import WatermarkKey, file_sha256


class Tokenizer(Protocol):
    """What the watermark needs from a tokenizer."""

    vocab_size: int

    def encode(self, text: str) -> np.ndarray:
        """Token ids of `text` as int64."""
        ...

    def decode(self, ids: list[int] | np.ndarray) -> str:
        """Text of token ids."""
        ...


class ByteTokenizer:
    """UTF-8 bytes as tokens (vocabulary 256).

    >>> ByteTokenizer().encode("hé").tolist()
    [104, 195, 169]
    """

    vocab_size = 256

    def encode(self, text: str) -> np.ndarray:
        """Token ids of `text`."""
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)

    def decode(self, ids: list[int] | np.ndarray) -> str:
        """Text of token ids (invalid UTF-8 sequences become U+FFFD)."""
        return bytes(int(i) & 0xFF for i in ids).decode("utf-8", errors="replace")


class FileTokenizer:
    """A Hugging Face `tokenizer.json` read from local disk with the `tokenizers` package."""

    def __init__(self, path: str | Path) -> None:
        try:
            from tokenizers import Tokenizer as _HFTokenizer
        except ImportError:
            raise ConfigError(f"tokenizer {path}: the 'tokenizers' package is needed to read tokenizer.json "
                              "files; `pip install 'distillguard[watermark]'` or use the 'bytes' tokenizer") from None
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"tokenizer {self.path}: file not found; pass --tokenizer PATH to the local "
                              "tokenizer.json of the model that generated the text")
        try:
            self._tok = _HFTokenizer.from_file(str(self.path))
        except Exception as e:  # the Rust library raises plain Exception subclasses
            raise ConfigError(f"tokenizer {self.path}: not a valid tokenizer.json ({e})") from None
        self.vocab_size = int(self._tok.get_vocab_size(with_added_tokens=True))

    def encode(self, text: str) -> np.ndarray:
        """Token ids of `text` (no special tokens added)."""
        return np.asarray(self._tok.encode(text, add_special_tokens=False).ids, dtype=np.int64)

    def decode(self, ids: list[int] | np.ndarray) -> str:
        """Text of token ids (special tokens kept, so ids survive a decode/encode round trip)."""
        return str(self._tok.decode([int(i) for i in ids], skip_special_tokens=False))


def load_tokenizer(spec: str | Path, expected_sha256: str | None = None) -> Tokenizer:
    """The tokenizer named by `spec` ('bytes' or a tokenizer.json path), checked against a pinned hash."""
    if str(spec) == "bytes":
        return ByteTokenizer()
    tok = FileTokenizer(spec)
    if expected_sha256 and file_sha256(tok.path) != expected_sha256:
        raise ConfigError(f"tokenizer {tok.path}: SHA-256 differs from the one pinned in the key file; "
                          "detection must use the exact tokenizer the model generated with")
    return tok


def key_tokenizer(key: WatermarkKey, override: str | Path | None = None) -> Tokenizer:
    """The tokenizer a key was made for, or `override` (still checked against the pinned hash)."""
    return load_tokenizer(override if override is not None else key.tokenizer, key.tokenizer_sha256)
