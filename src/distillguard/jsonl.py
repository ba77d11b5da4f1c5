"""Read JSON Lines logs (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`) as blocks of whole lines.

A block (a few MB of decompressed text) is parsed by pyarrow's JSON reader against a strict schema; a block
that fails anywhere is re-read line by line with orjson so each bad line is reported on its own. Problems of
the stream itself (a line over the size limit, a truncated or corrupt compressed file) come out as
RecordErrors between blocks: everything before them is still ingested.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pj
import zstandard

from .conform import JSON_READ_SCHEMA
from .errors import InputError, RecordError

try:  # ISA-L inflates gzip about twice as fast as zlib; same results
    from isal import isal_zlib as _gzip_zlib
except ImportError:  # pragma: no cover - optional speed-up
    _gzip_zlib = zlib  # type: ignore[misc]

_DECOMPRESS_ERRORS: tuple[type[BaseException], ...] = (zlib.error, getattr(_gzip_zlib, "error", zlib.error),
                                                      zstandard.ZstdError)
BLOCK_BYTES = 8 << 20
READ_BYTES = 1 << 20
SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json", ".ndjson", ".ndjson.gz", ".ndjson.zst")


@dataclass(frozen=True)
class Block:
    """Whole lines of decompressed text, the first being line `first_line` of the file."""

    first_line: int
    data: bytes
    raw_pos: int  # bytes of the file consumed so far (for progress)
    table: pa.Table | None = None  # the columnar parse, when the whole block parsed cleanly


class _Decoder(Protocol):
    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes) -> bytes: ...


def blocks(path: Path, max_line_bytes: int, parse: bool = True) -> Iterator[Block | RecordError]:
    """Blocks of whole lines of `path`, parsed columnar when `parse`; stream problems as RecordErrors."""
    src = str(path)
    line = 1  # number of the first line held in `pending`
    pending = bytearray()
    skipping = False  # inside a line that is over the limit
    too_long = f"line is longer than {max_line_bytes} bytes (--max-line-bytes); skipped"
    for chunk, raw_pos, err in _decompressed(path):
        if err is not None:
            cut = pending.rfind(b"\n")
            if cut >= 0:
                yield _block(line, bytes(pending[:cut + 1]), raw_pos, parse, max_line_bytes)
                line += pending.count(b"\n", 0, cut + 1)
            yield RecordError(src, line, None, f"{err}; the {line - 1} lines before were read")
            return
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk, skipping, line = chunk[cut + 1:], False, line + 1
        pending += chunk
        cut = pending.rfind(b"\n")
        if len(pending) - cut - 1 > max_line_bytes:  # the unfinished last line is already too long
            if cut >= 0:
                yield _block(line, bytes(pending[:cut + 1]), raw_pos, parse, max_line_bytes)
                line += pending.count(b"\n", 0, cut + 1)
            yield RecordError(src, line, None, too_long)
            pending, skipping = bytearray(), True
        elif cut + 1 >= BLOCK_BYTES:
            yield _block(line, bytes(pending[:cut + 1]), raw_pos, parse, max_line_bytes)
            line += pending.count(b"\n", 0, cut + 1)
            del pending[:cut + 1]
    if pending and not skipping:
        yield _block(line, bytes(pending), path.stat().st_size, parse, max_line_bytes)


def parse_lines(block: Block, src: str, max_line_bytes: int) -> Iterator[tuple[int, Any] | RecordError]:
    """(line, parsed JSON) for each non-blank line of a block, or a RecordError for a line that is not JSON."""
    for i, raw in enumerate(block.data.split(b"\n")):
        if not raw.strip():
            continue
        line = block.first_line + i
        if len(raw) > max_line_bytes:
            yield RecordError(src, line, None, f"line is {len(raw)} bytes, over --max-line-bytes "
                              f"{max_line_bytes}; skipped")
            continue
        try:
            yield line, orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            yield RecordError(src, line, None, _json_reason(e))


def prefetch(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Run `items` in a background thread, `depth` ahead (decompression and parsing release the GIL)."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", None))
        except BaseException as e:  # handed to the consumer, which re-raises it
            q.put(("error", e))

    worker = threading.Thread(target=produce, name="distillguard-read", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass


def _block(line: int, data: bytes, raw_pos: int, parse: bool, max_line_bytes: int) -> Block:
    if parse and len(data) > max_line_bytes:  # a line over the limit must be reported: per-line path
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
        parse = int(np.diff(ends, prepend=-1, append=len(data)).max()) <= max_line_bytes + 1
    return Block(line, data, raw_pos, _parse_block(data) if parse else None)


def _parse_block(data: bytes) -> pa.Table | None:
    """The block parsed strictly by pyarrow, or None when any line needs the per-line path."""
    if not _objects_only(data):
        return None
    # `params` is a free-form object: inferred (then canonicalised) when present, else ignore extras.
    behaviour = "infer" if b'"params"' in data else "ignore"
    try:
        return pj.read_json(
            pa.py_buffer(data),
            read_options=pj.ReadOptions(block_size=max(1 << 20, len(data) // 4 + 1)),
            parse_options=pj.ParseOptions(explicit_schema=JSON_READ_SCHEMA, unexpected_field_behavior=behaviour),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, UnicodeDecodeError, OverflowError):
        return None


def _objects_only(data: bytes) -> bool:
    """Whether every non-blank line starts with `{` (pyarrow 26 crashes on a line holding only `null`)."""
    arr = np.frombuffer(data, np.uint8)
    if not len(arr):
        return True
    first = arr[np.flatnonzero(arr[:-1] == 10) + 1]
    return bool(arr[0] in (10, 123)) and bool(np.all((first == 123) | (first == 10)))


def _decompressed(path: Path) -> Iterator[tuple[bytes, int, str | None]]:
    """(decompressed bytes, file bytes read so far, None) chunks; a last (b"", pos, reason) on a bad stream."""
    name = path.name.lower()
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror or e}") from e
    with f:
        if not name.endswith((".gz", ".zst")):
            pos = 0
            while chunk := f.read(READ_BYTES):
                pos += len(chunk)
                yield chunk, pos, None
            return
        gz = name.endswith(".gz")
        kind = "gzip" if gz else "zstd"
        d = _decoder(gz)
        pos, produced, started = 0, 0, False
        while True:
            raw = f.read(READ_BYTES)
            if not raw:
                if started and not d.eof:
                    yield b"", pos, f"{kind} stream ends early (file truncated)"
                return
            pos += len(raw)
            try:
                while raw:
                    if d.eof:  # a further gzip member or zstd frame follows
                        d = _decoder(gz)
                    out = d.decompress(raw)
                    started = True
                    produced += len(out)
                    if out:
                        yield out, pos, None
                    raw = d.unused_data if d.eof else b""
            except _DECOMPRESS_ERRORS as e:
                if not produced:
                    raise InputError(f"{path}: not a readable {kind} file ({e})") from e
                yield b"", pos, f"{kind} stream is corrupt ({e})"
                return


def _decoder(gz: bool) -> _Decoder:
    if gz:
        return _gzip_zlib.decompressobj(31)  # type: ignore[no-any-return]
    return zstandard.ZstdDecompressor().decompressobj()  # type: ignore[return-value]


def _json_reason(e: orjson.JSONDecodeError) -> str:
    msg = str(e)
    if "utf-8" in msg.lower() or "surrogate" in msg.lower():
        return f"invalid UTF-8 or lone surrogate in the line ({msg})"
    return f"malformed JSON ({msg})"
