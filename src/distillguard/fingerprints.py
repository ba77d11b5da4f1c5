"""Prompt fingerprints: normalised skeletons, template and wrapper ids, capability and markers.

A distillation campaign sends thousands of prompts built from a few *wrapper templates* around a
varying *payload*: "You are an expert. Solve step by step:\\n\\n<a GSM8K question>\\n\\nReturn JSON".
Fingerprints make those prompts comparable without keeping their text:

- ``normalise(text)``: NFKC, zero-width / bidi / soft-hyphen characters removed, combining accents
  stripped, Cyrillic/Greek/Armenian homoglyphs folded to Latin, control characters and runs of
  whitespace collapsed. An attacker who sprinkles invisible characters or swaps ``а`` (U+0430) for
  ``a`` gets the same fingerprint as the clean prompt.
- ``skeleton(text)``: the normalised text with the data masked — code blocks ``<code>``, quoted
  strings ``<str>``, URLs ``<url>``, e-mails ``<email>``, uuids ``<id>``, anything holding a digit
  ``<num>``, capitalised words inside a sentence ``<name>`` — then lower-cased, punctuation other
  than sentence breaks dropped, whitespace collapsed. One skeleton *segment* per line / sentence,
  joined with newlines.
- ``template_id``: blake2b-64 of the skeleton. Equal ids = same prompt up to masked data (exact
  template reuse, the MinHash pass below catches small edits).
- ``wrapper_id``: identifies "same template, different payload". A payload is unique to one prompt;
  a wrapper is repeated. So, over the batch of distinct texts given to :func:`fingerprint_texts`,
  each skeleton segment of at least ``_MIN_SEGMENT_TOKENS`` tokens seen in at least
  ``min_wrapper_df`` distinct skeletons, and in at least a tenth as many as the text's most repeated
  segment (a benchmark question may repeat behind a few wrappers; a wrapper repeats across its
  whole campaign), is kept, every run of other segments becomes one ``<payload>``,
  and the result is the ``wrapper`` string, hashed to ``wrapper_id``. This works whether the wrapper
  is a prefix, a suffix or both, and needs no knowledge of the campaign. The id is a hash of content,
  so batches processed separately agree wherever the wrapper is repeated within each batch. A text
  without a usable repeated segment, or without a payload, gets ``wrapper = skeleton`` and
  ``wrapper_id = template_id``.
  Call it once on all distinct prompts of a log (or on large chunks) for the best estimate.
- ``capability``: reasoning | coding | tool_use | other, from the transparent linear model in
  :mod:`distillguard.capability` (trained by ``bench/train_capability.py``).
- ``cot`` / ``structured``: regexes for chain-of-thought elicitation and structured-output demands.

Everything runs once per *distinct* text and is vectorised with Arrow compute kernels (RE2), so
millions of distinct prompts take seconds, not hours. Near-duplicate templates: see
:func:`near_duplicate_groups` (MinHash + LSH via rensa, in :mod:`distillguard.neardup`).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.capability import classify_normalised
from distillguard.neardup import near_duplicate_groups

__all__ = [
    "FINGERPRINT_SCHEMA",
    "fingerprint_texts",
    "near_duplicate_groups",
    "normalise",
    "normalise_array",
    "skeleton",
    "stable_hash64",
]

FINGERPRINT_SCHEMA = pa.schema(
    [
        pa.field("template_id", pa.int64(), nullable=False),
        pa.field("skeleton", pa.string(), nullable=False),
        pa.field("capability", pa.string(), nullable=False),
        pa.field("cot", pa.bool_(), nullable=False),
        pa.field("structured", pa.bool_(), nullable=False),
        pa.field("wrapper_id", pa.int64(), nullable=False),
        pa.field("wrapper", pa.string(), nullable=False),
    ]
)

# Longer prompts keep their head and tail: wrappers live there, and a 10 MB prompt must not cost
# 10 MB of regex work per kernel.
_HEAD_CHARS = 12_000
_TAIL_CHARS = 4_000
_MIN_SEGMENT_TOKENS = 3
_MIN_WRAPPER_TOKENS = 4
_WRAPPER_DF_RATIO = 0.1

# Invisible characters used to break exact matching: zero-width, joiners, bidi controls, soft
# hyphen, word joiner, BOM, Mongolian vowel separator, tag characters, variation selectors.
_INVISIBLE = (
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0]
    + list(range(0x200B, 0x2010))
    + list(range(0x202A, 0x202F))
    + list(range(0x2060, 0x2070))
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0000, 0xE0080))
)
_COMBINING = (
    list(range(0x0300, 0x0370))
    + list(range(0x1AB0, 0x1B00))
    + list(range(0x1DC0, 0x1E00))
    + list(range(0x20D0, 0x2100))
    + list(range(0xFE20, 0xFE30))
)
# Common homoglyphs of Latin letters (Unicode confusables.txt, the letters attackers actually use).
_CONFUSABLE_PAIRS = (
    "аa еe оo рp сc уy хx ѕs іi јj ԁd һh ӏl ԛq ԝw ɡg ıi ɩi ʏy ℓl ѵv ѡw ү y ҳx ԍg ӕæ ѐe ёe ї i "
    "АA ВB ЕE КK МM НH ОO РP СC ТT ХX УY ІI ЈJ ЅS ԌG ԚQ ԜW ҮY Ӏl "
    "ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX οo αa νv ιi κk ρp υu χx ϲc ϳj ϵe "
    "օo սu ցg հh ոn ռn ԁd ‘' ’' ‚' ‛' “\" ”\" „\" ‟\" ′' ″\" ‐- ‑- ‒- –- —- ―- −- ⁄/ ∕/ ∗* ․. …. "
)


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {cp: None for cp in _INVISIBLE + _COMBINING}
    for pair in _CONFUSABLE_PAIRS.split():
        if len(pair) == 2:
            table[ord(pair[0])] = pair[1]
    table[ord("ү")] = "y"
    table[ord("ї")] = "i"
    return table


_TABLE = _build_table()

# (pattern, replacement) applied in order by Arrow's RE2 kernels.
_CLEAN = [
    (r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85]", " "),
    (r"\r\n?|[\x{2028}\x{2029}]", "\n"),
    (r"[ \t\x{a0}\x{3000}]+", " "),
    (r" ?\n[\n ]*", "\n"),
]
_MASK = [
    (r"(?s)```.*?```", "\n<code>\n"),
    (r"(?s)```.*$", "\n<code>"),
    (r"(?s)\"\"\".*?\"\"\"|'''.*?'''", " <str> "),
    (r"`[^`\n]{1,200}`", " <code> "),
    (r"(?i)\b(?:https?|ftp)://\S+|\bwww\.\S+", " <url> "),
    (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", " <email> "),
    (r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", " <id> "),
    (r"\"[^\"\n]{1,200}\"", " <str> "),
    (r"(^|[\s(\[{=:,])'[^'\n]{1,200}'", "\\1 <str> "),
    (r"[$€£¥]?\w*\d(?:\w|%|[.,:/-]\d)*", " <num> "),
    (r"([a-z,;>] +)[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*", "\\1<name>"),
]
_PLACEHOLDERS = ("num", "name", "str", "code", "url", "email", "id")
_SENTENCE_SPLIT = r"[.?!:;](?:\s|$)|\n"


def stable_hash64(values: pa.Array | Sequence[str]) -> np.ndarray:
    """blake2b-64 of each string as int64: identical across processes, machines and versions."""
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values.to_pylist() if isinstance(values, pa.Array) else values):
        out[i] = int.from_bytes(hashlib.blake2b(v.encode("utf-8"), digest_size=8).digest(), "little", signed=True)
    return out


def _to_array(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if isinstance(texts, pa.Array):
        if pa.types.is_large_string(texts.type):
            texts = texts.cast(pa.string())
        return pc.fill_null(texts, "")
    try:
        return pc.fill_null(pa.array(list(texts), type=pa.string()), "")
    except (UnicodeEncodeError, pa.ArrowInvalid):
        # lone surrogates and other unencodable code points become U+FFFD
        clean = ["" if t is None else str(t).encode("utf-8", "replace").decode("utf-8") for t in texts]
        return pa.array(clean, type=pa.string())


def _fold_unicode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_TABLE)
    return unicodedata.normalize("NFKD", text).translate(_TABLE) if not text.isascii() else text


def normalise_array(arr: pa.Array) -> pa.Array:
    """Vectorised :func:`normalise` over an Arrow string array."""
    lengths = pc.utf8_length(arr).to_numpy(zero_copy_only=False)
    non_ascii = ~pc.string_is_ascii(arr).to_numpy(zero_copy_only=False)
    fix = np.flatnonzero(non_ascii | (lengths > _HEAD_CHARS + _TAIL_CHARS))
    if len(fix):
        values = arr.to_pylist()
        for i in fix:
            t = values[i]
            if len(t) > _HEAD_CHARS + _TAIL_CHARS:
                t = t[:_HEAD_CHARS] + "\n" + t[-_TAIL_CHARS:]
            values[i] = unicodedata.normalize("NFC", _fold_unicode(t)) if not t.isascii() else t
        arr = pa.array(values, type=pa.string())
    for pattern, repl in _CLEAN:
        arr = pc.replace_substring_regex(arr, pattern, repl)
    return pc.utf8_trim_whitespace(arr)


def _skeleton_array(norm: pa.Array) -> pa.Array:
    arr = norm
    for pattern, repl in _MASK:
        arr = pc.replace_substring_regex(arr, pattern, repl)
    arr = pc.utf8_lower(arr)
    arr = pc.replace_substring_regex(arr, r"[^\pL\pN\s<>.?!:;]+|_+", " ")
    for p in _PLACEHOLDERS:
        arr = pc.replace_substring_regex(arr, rf"<{p}>(?:[ ,]*<{p}>)+", f"<{p}>")
    arr = pc.replace_substring_regex(arr, r"[ ]*([.?!:;])[.?!:; ]*", "\\1 ")
    arr = pc.replace_substring_regex(arr, r"[ \t]+", " ")
    arr = pc.replace_substring_regex(arr, r" ?\n[\n .?!:;]*", "\n")
    return pc.utf8_trim_whitespace(arr)


def normalise(text: str) -> str:
    """Unicode-normalised text: NFKC, invisibles removed, homoglyphs folded, whitespace collapsed."""
    return normalise_array(_to_array([text]))[0].as_py()


def skeleton(text: str) -> str:
    """The prompt's template skeleton: normalised, data masked, lower-cased, punctuation dropped."""
    return _skeleton_array(normalise_array(_to_array([text])))[0].as_py()


def _wrappers(skels: pa.Array, template_ids: np.ndarray, min_df: int) -> tuple[pa.Array, np.ndarray]:
    """Skeletons with unrepeated segments replaced by ``<payload>``, and their ids."""
    n = len(skels)
    lists = pc.split_pattern_regex(skels, _SENTENCE_SPLIT)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
    nonempty = pc.greater(pc.utf8_length(flat), 0)
    flat, doc = flat.filter(nonempty), doc[nonempty.to_numpy(zero_copy_only=False)]
    enc = pc.dictionary_encode(flat)
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ntok = pc.list_value_length(pc.utf8_split_whitespace(enc.dictionary)).to_numpy(zero_copy_only=False)
    pairs = np.unique(codes * n + doc) if len(codes) else np.empty(0, np.int64)
    df = np.bincount(pairs // n, minlength=len(enc.dictionary))
    seg_df = np.where(ntok[codes] >= _MIN_SEGMENT_TOKENS, df[codes], 0)
    top = np.zeros(n, dtype=np.int64)
    np.maximum.at(top, doc, seg_df)
    # a payload may repeat a little (one benchmark question behind several wrappers), a wrapper
    # repeats across its whole campaign: keep segments within _WRAPPER_DF_RATIO of the text's most
    # repeated one
    keep = (seg_df >= min_df) & (seg_df >= _WRAPPER_DF_RATIO * top[doc])
    prev_same = np.zeros(len(codes), dtype=bool)
    prev_same[1:] = (doc[1:] == doc[:-1]) & ~keep[:-1]
    emit = keep | ~prev_same  # drop a payload segment that follows another payload segment
    seg = pc.if_else(pa.array(keep), flat, pa.scalar("<payload>"))
    seg = seg.filter(pa.array(emit))
    new_offsets = np.concatenate([[0], np.cumsum(np.bincount(doc[emit], minlength=n))]).astype(np.int32)
    wrapper = pc.binary_join(pa.ListArray.from_arrays(pa.array(new_offsets), seg), "\n")
    kept_tokens = np.bincount(doc[keep], weights=ntok[codes[keep]], minlength=n)
    has_payload = np.bincount(doc[~keep], minlength=n) > 0
    usable = (kept_tokens >= _MIN_WRAPPER_TOKENS) & has_payload  # all kept: the wrapper is the skeleton
    wrapper = pc.if_else(pa.array(usable), wrapper, skels)
    wrapper_ids = template_ids.copy()
    idx = np.flatnonzero(usable)
    if len(idx):
        wrapper_ids[idx] = stable_hash64(wrapper.take(pa.array(idx)))
    return wrapper, wrapper_ids


_COT = "(?i)" + "|".join(
    [
        r"step[ -]by[ -]step",
        r"step-wise",
        r"show(?:ing)? (?:all |each |every )?(?:your |the |all )?(?:work|reasoning|steps|thinking|thought process)",
        r"explain (?:your|the) (?:reasoning|thinking|thought process|steps)",
        r"think (?:carefully|it through|through|aloud|out loud|hard)",
        r"<think>",
        r"chain[ -]of[ -]thought",
        r"\bcot\b",
        r"reason(?:ing)? (?:step|carefully|through)",
        r"let'?s think",
        r"walk (?:me )?through (?:your|the) (?:reasoning|solution|logic)",
        r"(?:detailed|full|complete) (?:reasoning|derivation|explanation)",
        r"before (?:giving|answering|you answer)",
        r"intermediate steps",
        r"justify (?:your|each) (?:answer|step)",
        r"reasoning trace",
    ]
)
_STRUCTURED = "(?i)" + "|".join(
    [
        r"\bjson\b",
        r"\byaml\b",
        r"\bxml\b",
        r"\bcsv\b",
        r"```",
        r"as a (?:markdown )?table",
        r"in (?:a |the )?(?:following|this|given) format",
        r"\bformat\s*:",
        r"output format",
        r"response format",
        r"respond (?:only )?with (?:a |an )?(?:list|object|dict|array)",
        r"key[- ]value",
        r"schema",
        r"bullet(?:ed)? list",
        r"numbered list",
        r"exactly (?:one|\d+) (?:word|line|sentence)s?",
        r"(?:answer|output|reply|respond)\s*(?:only )?(?:with|in)\s*(?:the )?(?:form|format)",
        r"final answer\s*:",
        r"####",
    ]
)


def fingerprint_texts(texts: Sequence[str] | pa.Array | pa.ChunkedArray, *, min_wrapper_df: int = 2) -> pa.Table:
    """One fingerprint row per input text (``FINGERPRINT_SCHEMA``); work is done once per distinct text."""
    arr = _to_array(texts)
    enc = pc.dictionary_encode(arr)
    distinct, codes = enc.dictionary, enc.indices
    norm = normalise_array(distinct)
    skels = _skeleton_array(norm)
    # wrappers are found among distinct *skeletons*: evasion variants of one prompt share a skeleton
    # and must not make its payload look repeated
    skel_enc = pc.dictionary_encode(skels)
    skel_codes = skel_enc.indices
    template_by_skel = stable_hash64(skel_enc.dictionary)
    wrapper_by_skel, wrapper_id_by_skel = _wrappers(skel_enc.dictionary, template_by_skel, max(2, min_wrapper_df))
    sc = skel_codes.to_numpy(zero_copy_only=False)
    template_ids, wrapper_ids, wrapper = template_by_skel[sc], wrapper_id_by_skel[sc], wrapper_by_skel.take(skel_codes)
    lower = pc.utf8_lower(norm)
    cot = pc.match_substring_regex(lower, _COT)
    structured = pc.match_substring_regex(norm, _STRUCTURED)
    capability = classify_normalised(lower)
    table = pa.table(
        [pa.array(template_ids), skels, capability, cot, structured, pa.array(wrapper_ids), wrapper],
        schema=FINGERPRINT_SCHEMA,
    )
    return table.take(codes)
