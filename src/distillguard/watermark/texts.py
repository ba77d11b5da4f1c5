"""Reading texts to test: JSONL records with a `text` field (optional `prompt`, `id`) or plain text files."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..errors import InputError, RecordError


@dataclass(frozen=True)
class TextRecord:
    """One text to test, with where it came from."""

    source: str  # FILE or FILE:LINE
    text: str
    prompt: str | None = None


def _open_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror}); check the path") from None
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start}); convert it first") from None


def read_texts(path: str | Path) -> Iterator[TextRecord]:
    """Texts of one file: JSONL (`.jsonl`, `.jsonl.gz`, or any file whose first line is a JSON object)
    yields one record per line; anything else is one plain text."""
    p = Path(path)
    content = _open_text(p)
    is_jsonl = ".jsonl" in p.name or content.lstrip().startswith("{")
    if not is_jsonl:
        yield TextRecord(str(p), content)
        return
    for n, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise RecordError(str(p), n, None, f"not valid JSON ({e}); one JSON object per line") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            raise RecordError(str(p), n, "text", "missing or not a string; each line needs a 'text' field")
        prompt = rec.get("prompt")
        yield TextRecord(f"{p}:{n}", rec["text"], prompt if isinstance(prompt, str) else None)
