"""Prompt fingerprints: normalised skeletons, template and wrapper ids, capability and markers.

A distillation campaign sends thousands of prompts built from a few *wrapper templates* around a
varying *payload*: "You are an expert. Solve step by step:\\n\\n<a GSM8K question>\\n\\nReturn JSON".
Fingerprints make those prompts comparable without keeping their text:

- ``normalise(text)``: NFKC, zero-width / bidi / soft-hyphen characters removed, combining accents
  stripped, Cyrillic/Greek/Armenian homoglyphs folded to Latin, control characters and runs of
  whitespace collapsed. An attacker who sprinkles invisible characters or swaps ``а`` (U+0430) for
  ``a`` gets the same fingerprint as the clean prompt.
- ``skeleton(text)``: the normalised text with the data masked — code blocks ``<code>``, quoted
  strings ``<str>``, URLs, e-mails and uuids ``<ref>``, anything holding a digit
  ``<num>``, capitalised words inside a sentence ``<name>`` — then lower-cased, punctuation other
  than sentence breaks dropped, whitespace collapsed. One skeleton *segment* per line / sentence,
  joined with newlines.
- ``template_id``: blake2b-64 of the skeleton. Equal ids = same prompt up to masked data (exact
  template reuse, the MinHash pass below catches small edits).
- ``wrapper`` / ``wrapper_id`` / ``wrapper_segments``: "same template, different payload". Payloads
  are unique to a prompt, wrappers repeat: skeleton segments (lines, sentences) repeated across the
  batch's distinct skeletons are kept, every run of other segments becomes ``<payload>``, and the
  result is hashed (details in :mod:`distillguard.fingerprints.wrappers`). Prefix, suffix or both: no campaign
  knowledge needed. The id hashes content, so separate batches agree wherever the wrapper repeats
  within each; call it on all distinct prompts of a log (or large chunks), and give small online
  batches the segments learnt offline (:func:`wrapper_segments`, ``known_wrapper_segments``).
  ``wrapper_segments`` lists the ids of the kept segments, shared even by rotated wrapper variants.
- ``capability``: reasoning | coding | tool_use | other, from the transparent linear model in
  :mod:`distillguard.fingerprints.capability` (trained by ``bench/train_capability.py``).
- ``cot`` / ``structured``: regexes for chain-of-thought elicitation and structured-output demands.

Prompts longer than 16,000 characters are fingerprinted on their first 12,000 and last 4,000
(wrappers live at the ends; a 10 MB prompt must not cost 10 MB of work per regex pass). Capability
reads the first 2,000 characters.

Everything runs once per *distinct* text and is vectorised with Arrow compute kernels (RE2): about
20k distinct prompts per CPU-second for the whole table (161,576 qwen-2026 prompts: 7.9 CPU-s).
Near-duplicate templates: see :func:`near_duplicate_groups` (MinHash + LSH via rensa, in
:mod:`distillguard.fingerprints.neardup`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.fingerprints.capability import classify_normalised
from distillguard.fingerprints.neardup import near_duplicate_groups
from distillguard.fingerprints.wrappers import find_wrappers, stable_hash64

__all__ = [
    "FINGERPRINT_SCHEMA",
    "FINGERPRINT_VERSION",
    "capability_labels",
    "fingerprint_texts",
    "near_duplicate_groups",
    "normalise",
    "normalise_array",
    "skeleton_array",
    "skeleton",
    "stable_hash64",
    "wrapper_segments",
]

# Bump when fingerprint_texts' output changes for some input: cached fingerprints
# (distillguard.fingerprints.cache) of an older version are then recomputed.
FINGERPRINT_VERSION = "3"

FINGERPRINT_SCHEMA = pa.schema(
    [
        pa.field("template_id", pa.int64(), nullable=False),
        pa.field("skeleton", pa.string(), nullable=False),
        pa.field("capability", pa.string(), nullable=False),
        pa.field("cot", pa.bool_(), nullable=False),
        pa.field("structured", pa.bool_(), nullable=False),
        pa.field("wrapper_id", pa.int64(), nullable=False),
        pa.field("wrapper", pa.string(), nullable=False),
        pa.field("wrapper_segments", pa.list_(pa.int64()), nullable=False),
    ]
)

# Longer prompts keep their head and tail: wrappers live there, and a 10 MB prompt must not cost
# 10 MB of regex work per kernel.
_HEAD_CHARS = 12_000
_TAIL_CHARS = 4_000

# Invisible characters used to break exact matching: zero-width, joiners, bidi controls, soft
# hyphen, word joiner, BOM, Mongolian vowel separator, tag characters, variation selectors, and the
# replacement character that invalid UTF-8 decodes to.
_INVISIBLE = (
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0, 0xFFFD]
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


def _build_table() -> dict[int, str]:
    table = {cp: "" for cp in _INVISIBLE + _COMBINING}
    for pair in _CONFUSABLE_PAIRS.split():
        if len(pair) == 2:
            table[ord(pair[0])] = pair[1]
    table[ord("ү")], table[ord("ї")] = "y", "i"
    # accented Latin, Greek and Cyrillic letters fold to their (Latin look-alike) base letter
    for cp in [*range(0x00C0, 0x0250), *range(0x0370, 0x0530), *range(0x1E00, 0x2000)]:
        base = unicodedata.normalize("NFKD", chr(cp))[:1]
        base = table.get(ord(base), base) if base else base
        if len(base) == 1 and base.isascii() and base.isalpha() and cp not in table:
            table[cp] = base
    return table


_TABLE = _build_table()
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x85\u2028\u2029]")
_SPACES = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r" ?\n[\n ]*")

# (pattern, replacement) applied in order by Arrow's RE2 kernels; each pass costs a scan of every
# text, so alternatives that share a placeholder share a pass.
_MASK = [
    (r"(?s:```.*?```|```.*$)|`[^`\n]+`", " <code> "),
    (r"(?s:\"{3}.*?\"{3}|'{3}.*?'{3})|\"[^\"\n]+\"|(^|[\s(\[{=:,])'[^'\n]+'", r"\1 <str> "),
    (
        r"(?i)\b(?:https?|ftp)://\S+|\bwww\.\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
        r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|\b(?:0x)?[0-9a-f]{12,}\b",
        " <ref> ",
    ),
    (r"[$€£¥]?\w*\d(?:\w|%|[.,:/-]\d)*", " <num> "),
    (r"([a-z,;>] +)[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*", r"\1<name>"),
]
_TIDY = [
    # punctuation and runs of spaces become one space (a lone space is left alone: no rewrite cost);
    # the text is lower-case and folded, so non-ASCII counts as letters (Unicode classes compile slowly)
    (r"[^a-z0-9\x{80}-\x{10FFFF}\n<>.?!:;]{2,}|[^a-z0-9\x{80}-\x{10FFFF}\s<>.?!:;]|[\t\r\f\v]", " "),
    (r"<(num|name|str|code|ref)>(?: <(?:num|name|str|code|ref)>)+", r"<\1>"),
    (r" *([.?!:;])[.?!:; ]*", r"\1 "),
    (r" ?\n[\n .?!:;]*", "\n"),
]


def _to_array(texts: Sequence[str | bytes | None] | pa.Array | pa.ChunkedArray) -> pa.Array:
    """A plain Arrow string array without nulls; invalid UTF-8 and lone surrogates become U+FFFD."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if isinstance(texts, pa.Array):
        if pa.types.is_dictionary(texts.type):
            texts = texts.dictionary_decode()
        if pa.types.is_binary(texts.type) or pa.types.is_large_binary(texts.type):
            texts = texts.to_pylist()
        elif not pa.types.is_string(texts.type):
            return pc.fill_null(texts.cast(pa.string()), "")
        else:
            return pc.fill_null(texts, "")
    try:
        return pc.fill_null(pa.array(list(texts), type=pa.string()), "")
    except (UnicodeEncodeError, pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_clean_text(t) for t in texts], type=pa.string())


def _clean_text(t: object) -> str:
    if t is None:
        return ""
    if isinstance(t, bytes | bytearray | memoryview):
        return bytes(t).decode("utf-8", "replace")
    return str(t).encode("utf-8", "replace").decode("utf-8")


def _fold_unicode(text: str) -> str:
    if len(text) > _HEAD_CHARS + _TAIL_CHARS:
        text = text[:_HEAD_CHARS] + "\n" + text[-_TAIL_CHARS:]
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return _NON_ASCII.sub(lambda m: m.group().translate(_TABLE), text)


def normalise_array(arr: pa.Array) -> pa.Array:
    """Unicode folding of :func:`normalise`, vectorised; whitespace is left to the consumers."""
    lengths = pc.utf8_length(arr).to_numpy(zero_copy_only=False)
    non_ascii = ~pc.string_is_ascii(arr).to_numpy(zero_copy_only=False)
    fix = np.flatnonzero(non_ascii | (lengths > _HEAD_CHARS + _TAIL_CHARS))
    if len(fix):  # only these few go through Python; the rest stays in Arrow buffers
        fixed = pa.array([_fold_unicode(t) for t in arr.take(pa.array(fix)).to_pylist()], type=pa.string())
        where = np.arange(len(arr), dtype=np.int64)
        where[fix] = len(arr) + np.arange(len(fix))
        arr = pa.concat_arrays([arr, fixed]).take(pa.array(where))
    return arr


def skeleton_array(norm: pa.Array) -> pa.Array:
    """Vectorised :func:`skeleton` over texts already passed through :func:`normalise_array`."""
    arr = norm
    for pattern, repl in _MASK:
        arr = pc.replace_substring_regex(arr, pattern, repl)
    arr = pc.utf8_lower(arr)
    for pattern, repl in _TIDY:
        arr = pc.replace_substring_regex(arr, pattern, repl)
    return pc.utf8_trim_whitespace(arr)


def normalise(text: str) -> str:
    """Unicode-normalised text: NFKC, invisibles removed, homoglyphs folded, whitespace collapsed."""
    text = _fold_unicode(_to_array([text])[0].as_py())
    return _NEWLINES.sub("\n", _SPACES.sub(" ", _CONTROL.sub(" ", text))).strip()


def skeleton(text: str) -> str:
    """The prompt's template skeleton: normalised, data masked, lower-cased, punctuation dropped."""
    return skeleton_array(normalise_array(_to_array([text])))[0].as_py()


# Chain-of-thought elicitation: the request asks to see the process of answering, however it is worded. Beside
# a few fixed forms ("step by step", "<think>"), composed from three concepts rather than listed phrases:
# a verb of disclosing (show, trace, lay out, keep, narrate …) followed within a few words by the process it
# discloses (the reasoning, all the working, each step, how you got there …); a manner of proceeding (line by
# line, one step at a time, from first principles); or a demand for no gaps in the argument.
_DISCLOSE = ["show(?:s|ed|n|ing)?", "explain(?:s|ed|ing)?", "walk(?:s|ed|ing)?", "tak(?:e|es|en|ing)|took",
             "talk(?:s|ed|ing)?", "lead(?:s|ing)?|led", "trac(?:e|es|ed|ing)", "lay(?:s|ing)?|laid",
             "spell(?:s|ed|ing)?", "break(?:s|ing)?|broke|broken", "detail(?:s|ed|ing)?", "outlin(?:e|es|ed|ing)",
             "writ(?:e|es|ing|ten)|wrote", "unpack(?:s|ed|ing)?", "justif(?:y|ies|ied|ying)",
             "narrat(?:e|es|ed|ing)", "articulat(?:e|es|ed|ing)", "expos(?:e|es|ed|ing)", "reveal(?:s|ed|ing)?",
             "document(?:s|ed|ing)?", "go(?:es|ing)?|went", "keep(?:s|ing)?|kept", "includ(?:e|es|ed|ing)",
             "giv(?:e|es|en|ing)|gave", "provid(?:e|es|ed|ing)", "display(?:s|ed|ing)?", "present(?:s|ed|ing)?",
             "retain(?:s|ed|ing)?", "preserv(?:e|es|ed|ing)", "lis(?:t|ts|ted|ting)", "number(?:s|ed|ing)?",
             "annotat(?:e|es|ed|ing)", "comment(?:s|ed|ing)? on"]
_PROCESS = ["reasoning", "thinking", "thought process", "thoughts", "logic", "derivation", "rationale",
            "justification", "inferences?", "deductions?", "calculations?", "intermediate \\w+"]
_DISCLOSED = ("(?:(?:(?:your|the|its|my|his|her|their) |all (?:of )?(?:the |your )?|full |complete |whole |each "
              "|every |intermediate )(?:" + "|".join(_PROCESS) + ")"
              "|(?:each|every|all (?:the |of the |your )?|your|intermediate) (?:single )?(?:steps?|stages?)"
              "|(?:your |all (?:of )?(?:the |your )?|full |complete )workings?"   # not "the working hours"
              "|line of (?:reasoning|thought|argument)|chain of (?:thought|reasoning)"
              "|how (?:you|it|they|one) (?:got|get|arrived|arrive|reached|reach|derived|derive|solved|solve|worked"
              "|work)|why each)")
# the fixed forms ...
_COT_FORMS = [
    r"step[ -]by[ -]step",
    r"step-?wise",
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
    r"(?:line|point|stage|step) by (?:line|point|stage|step)",
    r"one (?:\w+ )?(?:step|stage) at a time",
    r"from first principles",
    r"(?:think|reason)(?:s|ing)? (?:aloud|out loud)",
    r"(?:no |without (?:any )?|not? skip(?:ping)? (?:any )?)(?:gaps?|leaps?|jumps?|skipped steps?|steps?) in "
    r"(?:the |your )?(?:argument|reasoning|logic|derivation|proof|working)",
]
# ... the same requests in other languages (a campaign harvesting reasoning writes in whatever language its
# workers or its target data use): "step by step", "chain of thought", "reasoning / thought process",
# "think aloud", "show your reasoning"; multi-word forms only, like the English ones. Written as a reader
# writes them, matched folded as the texts are (homoglyphs: Cyrillic а, о, р ... read as Latin; accents dropped)
_COT_FORMS += [_fold_unicode(form) for form in [
    # Spanish, Portuguese, Catalan, Italian, French
    r"paso a paso", r"passo (?:a|dopo|per) passo", r"pas [àa] pas", r"[ée]tape par [ée]tape",
    r"cadena de (?:pensamiento|razonamiento)", r"cadeia de (?:pensamento|racioc[íi]nio)",
    r"catena di (?:pensiero|ragionamento)", r"cha[îi]ne de (?:pens[ée]e|raisonnement)",
    r"proceso de (?:razonamiento|pensamiento)", r"processo de (?:racioc[íi]nio|pensamento)",
    r"processo di (?:ragionamento|pensiero)", r"processus de (?:raisonnement|r[ée]flexion)",
    r"(?:razonamiento|racioc[íi]nio|ragionamento|raisonnement) (?:completo|detallado|detalhado|dettagliato|"
    r"complet|d[ée]taill[ée])",
    r"en voz alta", r"em voz alta", r"ad alta voce", r"[àa] voix haute",
    # German, Dutch, Scandinavian, Polish, Czech
    r"schritt f[üu]r schritt", r"schrittweise", r"gedankengang", r"denkprozess", r"gedankenkette", r"laut denken",
    r"stap voor stap", r"denkproces", r"steg f[öo]r steg", r"trinn for trinn", r"trin for trin",
    r"krok po kroku", r"tok rozumowania", r"krok za krokem",
    # Russian, Ukrainian, Turkish, Indonesian / Malay, Vietnamese
    r"шаг за шагом", r"пошагов", r"ход (?:рассуждени|мысл)", r"цепочк\w* рассуждени", r"крок за кроком",
    r"ad[ıi]m ad[ıi]m", r"d[üu][şs][üu]nce s[üu]reci", r"ak[ıi]l y[üu]r[üu]tme s[üu]reci",
    r"langkah demi langkah", r"langkah (?:per|demi) langkah", r"proses (?:berpikir|penalaran)",
    r"t[ừu]ng b[ưu][ớo]c", r"qu[áa] tr[ìi]nh suy (?:lu[ậa]n|ngh[ĩi])", r"chu[ỗo]i suy ngh[ĩi]",
    # Chinese, Japanese, Korean
    r"一步一步", r"一步步", r"逐步", r"分步", r"思考过程", r"推理过程", r"思维链", r"思考過程", r"推理過程",
    r"段階的", r"ステップバイステップ", r"順を追って", r"推論(?:の)?過程", r"思考の過程",
    r"단계별", r"단계적으로", r"차근차근", r"추론 과정", r"사고 과정",
    # Arabic, Persian, Hebrew, Hindi, Thai
    r"خطوة بخطوة", r"سلسلة (?:التفكير|الأفكار)", r"گام به گام", r"قدم به قدم", r"שלב אחר שלב",
    r"चरण[ -]दर[ -]चरण", r"कदम[ -]दर[ -]कदम", r"ทีละขั้นตอน",
]]
# ... and the composed one: a verb of disclosing, then within a few words the process it discloses
_COT_DISCLOSING = "\\b(?:" + "|".join(_DISCLOSE) + ")\\b(?:\\W+\\w+){0,5}?\\W+" + _DISCLOSED + "\\b"
_COT = "(?i)" + "|".join([*_COT_FORMS, _COT_DISCLOSING])
# `_COT` is the definition (and part of the cache version); it is matched as its two halves, two RE2 passes that
# together cost about 0.6 of the one (the composed form blows up the automaton of the whole alternation)
_COT_PARTS = ("(?i)" + "|".join(_COT_FORMS), "(?i)" + _COT_DISCLOSING)
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


def capability_labels(texts: list[str] | pa.Array) -> pa.Array:
    """Capability label per raw text (normalised here), with the packaged model.

    >>> capability_labels(["Write a Python function that reverses a linked list."]).to_pylist()
    ['coding']
    """
    arr = texts if isinstance(texts, pa.Array) else pa.array(list(texts), type=pa.string())
    return classify_normalised(pc.utf8_lower(normalise_array(arr)))


# texts per piece of the per-text work (normalise, skeleton, capability, markers): with threads, the workers
# take pieces in turn and stay evenly busy; the wrapper search then needs every skeleton at once
_PIECE = 16_384


def fingerprint_texts(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    *,
    min_wrapper_df: int = 2,
    known_wrapper_segments: Sequence[str] | pa.Array | None = None,
    threads: int = 1,
) -> pa.Table:
    """One fingerprint row per input text (``FINGERPRINT_SCHEMA``); work is done once per distinct text.

    With ``threads`` > 1 pieces of the per-text work run side by side (Arrow and numpy release the GIL);
    the result does not depend on it.
    """
    arr = _to_array(texts)
    enc = pc.dictionary_encode(arr)
    distinct, codes = enc.dictionary, enc.indices
    pieces = [distinct.slice(i, _PIECE) for i in range(0, len(distinct), _PIECE)] or [distinct]
    if threads > 1 and len(pieces) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = list(pool.map(_per_text, pieces))
    else:
        done = [_per_text(p) for p in pieces]
    skels, capability, cot, structured = (pa.concat_arrays([d[k] for d in done]) for k in range(4))
    template_id, wrapper_id, wrapper, segment_ids = _ids(skels, min_wrapper_df, known_wrapper_segments)
    columns = [template_id, skels, capability, cot, structured, wrapper_id, wrapper, segment_ids]
    table = pa.table(columns, schema=FINGERPRINT_SCHEMA)
    # all texts distinct (a batch of a detect run): the codes are 0, 1, 2 ... and the rows already in order
    return table if len(distinct) == len(arr) else table.take(codes)


def _per_text(texts: pa.Array) -> list[pa.Array]:
    """skeleton, capability, cot, structured of each (distinct) text."""
    norm = normalise_array(texts)
    lower = pc.utf8_lower(norm)
    return [
        skeleton_array(norm),
        classify_normalised(lower),
        pc.or_(*(pc.match_substring_regex(lower, part) for part in _COT_PARTS)),
        pc.match_substring_regex(norm, _STRUCTURED),
    ]


def _ids(skels: pa.Array, min_wrapper_df: int, known: Sequence[str] | pa.Array | None) -> list[pa.Array]:
    """template_id, wrapper_id, wrapper, wrapper_segments per skeleton."""
    # wrappers are found among distinct *skeletons*: evasion variants of one prompt share a skeleton
    # and must not make its payload look repeated
    skel_enc = pc.dictionary_encode(skels)
    template_by_skel = stable_hash64(skel_enc.dictionary)
    w = find_wrappers(skel_enc.dictionary, template_by_skel, min_wrapper_df, known)
    sc = skel_enc.indices
    return [
        pa.array(template_by_skel).take(sc),
        pa.array(w.wrapper_id).take(sc),
        w.wrapper.take(sc),
        w.segment_ids.take(sc),
    ]


def wrapper_segments(texts: Sequence[str] | pa.Array | pa.ChunkedArray, *, min_wrapper_df: int = 2) -> pa.Table:
    """The repeated wrapper segments of a batch (``segment_id``, ``segment``, ``skeletons``), most common first.

    Save them from a whole log and pass ``segment`` as ``known_wrapper_segments`` when fingerprinting
    small batches online, so that both get the same wrapper ids.
    """
    arr = _to_array(texts)
    skels = pc.unique(skeleton_array(normalise_array(pc.unique(arr))))
    table = find_wrappers(skels, None, min_wrapper_df).segments
    return table.sort_by([("skeletons", "descending"), ("segment", "ascending")])
