"""Post-hoc lexical watermark for black-box upstreams (the provider runs only the gateway).

The gateway rewrites *slots* in an answer to a keyed choice between meaning-preserving variants:

- contractions that read the same either way ("do not" / "don't", "it is" / "it's" before a word
  other than been/got, which would make "'s" mean "has"),
- spelling variants ("toward" / "towards", "afterward" / "afterwards", "per cent" / "percent"),
- punctuation and formatting: apostrophe style (' / ’), ellipsis ("..." / "…"), Markdown bullet
  markers ("- " / "* ", which render identically).

The choice at each slot is one keyed bit of (the previous `CONTEXT` canonical words, the slot kind,
the slot's canonical form). Canonical words are lower-cased with variants folded together, so the
rewriting never changes a context. Fenced and inline code is left alone.

Test: under the null (text not rewritten with this key) each *distinct* (context, slot) tuple matches
its keyed bit with probability exactly 1/2, so matches among n distinct tuples are Binomial(n, 1/2).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .detect import Detection, ScoredTuples
from .keys import WatermarkKey

CONTEXT = 2
_HAS = frozenset({"been", "got", "gotten", "had"})  # after "'s" these make it mean "has", not "is"

# (first variant, second variant, what must follow: "" anything, "word" a word, "is" a word that keeps
# "'s" meaning "is"). Variants are whole words, matched case-insensitively with either apostrophe.
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("do not", "don't", ""), ("does not", "doesn't", ""), ("did not", "didn't", ""),
    ("is not", "isn't", ""), ("are not", "aren't", ""), ("was not", "wasn't", ""),
    ("were not", "weren't", ""), ("cannot", "can't", ""), ("will not", "won't", ""),
    ("would not", "wouldn't", ""), ("should not", "shouldn't", ""), ("could not", "couldn't", ""),
    ("have not", "haven't", ""), ("has not", "hasn't", ""),
    ("it is", "it's", "is"), ("that is", "that's", "is"), ("there is", "there's", "is"),
    ("what is", "what's", "is"), ("i am", "i'm", "word"), ("you are", "you're", "word"),
    ("we are", "we're", "word"), ("they are", "they're", "word"), ("i will", "i'll", "word"),
    ("you will", "you'll", "word"), ("we will", "we'll", "word"), ("they will", "they'll", "word"),
    ("toward", "towards", ""), ("afterward", "afterwards", ""), ("per cent", "percent", ""),
    ("...", "\u2026", ""),
)
APOSTROPHES = ("'", "\u2019")
BULLETS = ("-", "*")
_FORMS = {tuple(f.split(" ")): (i, v) for i, p in enumerate(PAIRS) for v, f in enumerate(p[:2]) if f[0].isalpha()}
_ELLIPSIS = len(PAIRS) - 1
_CODE_RE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]*`", re.DOTALL)
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)*")
_ELLIPSIS_RE = re.compile(r"\.\.\.|\u2026")
_BULLET_RE = re.compile(r"(?m)^([ \t]*)([-*])(?= \S)")


@dataclass(frozen=True)
class Slot:
    """A place where the text can take one of two variants."""

    start: int
    end: int
    kind: str  # "pair:N", "apostrophe" or "bullet"
    canon: str  # canonical form (same for both variants)
    variant: int  # which variant the text has now
    context: tuple[str, ...]


def _canon_word(w: str) -> str:
    return w.lower().replace("\u2019", "'")


def _tokens(text: str) -> list[tuple[int, int, str, str, int]]:
    """(start, end, kind, canonical form, variant) of words and slots, in order, outside code."""
    blocked = bytearray(len(text) + 1)  # inside code
    for m in _CODE_RE.finditer(text):
        blocked[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    spans: list[tuple[int, int, str, str, int]] = []
    for m in _BULLET_RE.finditer(text):
        if not blocked[m.start(2)]:
            spans.append((m.start(2), m.end(2), "bullet", "-", BULLETS.index(m.group(2))))
    for m in _ELLIPSIS_RE.finditer(text):
        if not blocked[m.start()]:
            spans.append((m.start(), m.end(), f"pair:{_ELLIPSIS}", PAIRS[_ELLIPSIS][0], int(m.group() != "...")))
    words = [(m.start(), m.end(), _canon_word(m.group())) for m in _WORD_RE.finditer(text) if not blocked[m.start()]]

    def joined(j: int) -> bool:  # word j+1 follows word j after whitespace only
        return j + 1 < len(words) and text[words[j][1]:words[j + 1][0]].isspace()

    i = 0
    while i < len(words):
        for n in (2, 1):
            if n == 2 and not joined(i):
                continue
            form = tuple(w for _, _, w in words[i:i + n])
            hit = _FORMS.get(form) if len(form) == n else None
            if hit is None:
                continue
            need, last = PAIRS[hit[0]][2], i + n - 1
            nxt = words[last + 1][2] if joined(last) else None
            if need and (nxt is None or not nxt[0].isalpha() or (need == "is" and nxt in _HAS)):
                continue
            spans.append((words[i][0], words[last][1], f"pair:{hit[0]}", PAIRS[hit[0]][0], hit[1]))
            i += n
            break
        else:
            spans.append((*words[i][:2], "word", words[i][2], 0))
            i += 1
    spans.sort()
    return spans


def find_slots(text: str) -> list[Slot]:
    """Every slot of a text with its canonical context (apostrophe slots inside words and contractions)."""
    slots: list[Slot] = []
    history: list[str] = []
    for start, end, kind, canon, variant in _tokens(text):
        ctx = tuple(history[-CONTEXT:])
        if kind != "word":
            slots.append(Slot(start, end, kind, canon, variant, ctx))
        surface = text[start:end]
        for j, ch in enumerate(surface):
            if ch in APOSTROPHES:
                word = canon if kind == "word" else _canon_word(surface)
                slots.append(Slot(start + j, start + j + 1, "apostrophe", word, APOSTROPHES.index(ch), ctx))
        if kind != "bullet":
            history.append(canon if kind == "word" else f"<{canon}>")
    return slots


class LexicalWatermark:
    """Keyed rewriting and its exact test.

    >>> wm = LexicalWatermark(WatermarkKey(secret=bytes(32)))
    >>> wm.detect(wm.apply("It is late and we do not know what it is.")).verdict
    'too_short'
    """

    def __init__(self, key: WatermarkKey) -> None:
        self.key = key
        self._secret = key.subkey("lexical").to_bytes(8, "little") + key.secret

    def _digest(self, slot: Slot) -> int:
        data = "\x1f".join((*slot.context, slot.kind, slot.canon)).encode()
        return int.from_bytes(hashlib.blake2b(data, key=self._secret[:64], digest_size=8).digest(), "little")

    def choice(self, slot: Slot) -> int:
        """The keyed variant (0 or 1) of a slot."""
        return self._digest(slot) >> 63

    def _rewrite_pairs(self, text: str) -> str:
        out, pos = [], 0
        for s in find_slots(text):
            if s.kind != "apostrophe":
                out.append(text[pos:s.start])
                out.append(self._variant(s, text[s.start:s.end], self.choice(s)))
                pos = s.end
        out.append(text[pos:])
        return "".join(out)

    def apply(self, text: str) -> str:
        """Rewrite every slot to its keyed variant."""
        rewritten = text
        for _ in range(4):  # a rewrite can expose an overlapping slot ("it isn't" -> "it is not")
            text, rewritten = rewritten, self._rewrite_pairs(rewritten)
            if rewritten == text:
                break
        chars = list(rewritten)
        for s in find_slots(rewritten):  # apostrophes last: the pair choices may have created some
            if s.kind == "apostrophe":
                chars[s.start] = APOSTROPHES[self.choice(s)]
        return "".join(chars)

    @staticmethod
    def _variant(slot: Slot, surface: str, choice: int) -> str:
        if slot.kind == "bullet":
            return BULLETS[choice]
        new = PAIRS[int(slot.kind.split(":")[1])][choice]
        if slot.canon == "...":
            return new
        if "'" in new and "\u2019" in surface:
            new = new.replace("'", "\u2019")
        if surface[:1].isupper():
            new = new.upper() if surface.isupper() and len(surface) > 1 else new[:1].upper() + new[1:]
        return new

    def tuples(self, text: str) -> ScoredTuples:
        """Scored tuples of a text: digest and whether the text has the keyed variant (duplicates kept)."""
        return self.slot_tuples(find_slots(text))

    def slot_tuples(self, slots: Sequence[Slot]) -> ScoredTuples:
        """Scored tuples of slots already found (leak tracing finds them once for all keys)."""
        digests = np.array([self._digest(s) for s in slots], dtype=np.uint64)
        match = np.array([s.variant == int(d >> np.uint64(63)) for s, d in zip(slots, digests, strict=True)],
                         dtype=bool)
        return ScoredTuples(digests, match)

    def detect(self, text: str, alpha: float = 1e-3, min_tokens: int = 8) -> Detection:
        """Exact Binomial(n, 1/2) test over the distinct slots of one text."""
        return self.tuples(text).select(dedup=True).test(0.5, len(_WORD_RE.findall(text)), alpha, min_tokens)

    def detect_pooled(self, texts: Sequence[str], alpha: float = 1e-3, min_tokens: int = 8) -> Detection:
        """One exact test over the distinct slots of all texts."""
        pooled = ScoredTuples.concat(self.tuples(t) for t in texts).select(dedup=True)
        return pooled.test(0.5, sum(len(_WORD_RE.findall(t)) for t in texts), alpha, min_tokens)
