"""MinHash signatures of prompt templates, shared for near-duplicate matching (dg-minhash-v1).

A signature never carries text: it is the MinHash (rensa `RMinHash`, 64 permutations, seed 42) of the
word 3-shingles of a prompt's first 32 words after normalisation (NFKC, lower case, URLs, e-mails,
quoted strings and digit runs masked). Both sides compute it the same way: the exporter over a
campaign's example prompt, the importer over every distinct prompt in its own log, so a partner's
campaign is recognised even when numbers, names and quoted data change between requests.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rensa import RMinHash

ALGORITHM = "dg-minhash-v1"
NUM_PERM = 64
SEED = 42
MAX_WORDS = 32
SHINGLE = 3
BANDS = 16  # 16 bands x 4 rows: pairs at Jaccard 0.6 collide in some band with probability > 0.9
DEFAULT_THRESHOLD = 0.6
MIN_WORDS = 6  # "continue", "go on", "<payload>": too generic to say anything about a campaign

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_MASKS = (
    (re.compile(r"https?://\S+|www\.\S+"), " <url> "),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), " <email> "),
    (re.compile(r"```.*?```", re.S), " <code> "),
    (re.compile(r"\"[^\"\n]{1,200}\"|'[^'\n]{1,200}'|“[^”\n]{1,200}”"), " <quoted> "),
    (re.compile(r"\d+(?:[.,]\d+)*"), " <num> "),
)
_WORD = re.compile(r"<\w+>|\w+|[^\w\s]")


def normalise(text: str) -> list[str]:
    """The first MAX_WORDS tokens of `text` after NFKC, lower-casing and masking of variable data."""
    t = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH).lower()
    for pattern, mask in _MASKS:
        t = pattern.sub(mask, t)
    return _WORD.findall(t)[:MAX_WORDS]


def specific(text: str) -> bool:
    """Whether a template text is specific enough to share: at least MIN_WORDS words besides masks."""
    return sum(1 for w in normalise(text) if w.isalnum()) >= MIN_WORDS


def shingles(text: str) -> list[str]:
    """Word SHINGLE-grams of the normalised text (the whole text when it is shorter)."""
    words = normalise(text)
    if len(words) <= SHINGLE:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)]


def signatures(texts: Sequence[str]) -> np.ndarray:
    """One dg-minhash-v1 signature (uint32[NUM_PERM]) per text, as a matrix; empty texts give all-max rows."""
    if not texts:
        return np.zeros((0, NUM_PERM), np.uint32)
    rows = RMinHash.digests_from_token_sets([shingles(t) for t in texts], NUM_PERM, SEED)
    return np.asarray(rows, dtype=np.uint32).reshape(len(texts), NUM_PERM)


def signature(text: str) -> list[int]:
    """The dg-minhash-v1 signature of one text, as plain ints (the form shared in STIX and MISP)."""
    return [int(v) for v in signatures([text])[0]]


@dataclass(frozen=True)
class SignatureMatch:
    """A query text (by row) whose signature is near a reference signature (by row)."""

    query: int
    reference: int
    similarity: float


class SignatureIndex:
    """LSH index over reference signatures (a partner's templates), queried with our prompts' signatures.

    >>> idx = SignatureIndex(signatures(["Solve step by step: what is 2 + 2?"]))
    >>> [m.reference for m in idx.query(signatures(["Solve step by step: what is 17 + 5?"]))]
    [0]
    """

    def __init__(self, references: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.references = np.asarray(references, dtype=np.uint32).reshape(-1, NUM_PERM)
        self.threshold = threshold
        self._buckets: list[dict[bytes, list[int]]] = [{} for _ in range(BANDS)]
        for row, sig in enumerate(self.references):
            for band, key in enumerate(_band_keys(sig)):
                self._buckets[band].setdefault(key, []).append(row)

    def query(self, sigs: np.ndarray) -> list[SignatureMatch]:
        """Every (query, reference) pair whose estimated Jaccard similarity reaches the threshold."""
        out: list[SignatureMatch] = []
        empty = np.iinfo(np.uint32).max
        for q, sig in enumerate(np.asarray(sigs, dtype=np.uint32).reshape(-1, NUM_PERM)):
            if sig[0] == empty and (sig == empty).all():
                continue
            candidates = _candidates(self._buckets, _band_keys(sig))
            for ref in sorted(candidates):
                sim = float(np.mean(self.references[ref] == sig))
                if sim >= self.threshold:
                    out.append(SignatureMatch(q, ref, sim))
        return out


def _band_keys(sig: np.ndarray) -> list[bytes]:
    rows = NUM_PERM // BANDS
    return [sig[b * rows : (b + 1) * rows].tobytes() for b in range(BANDS)]


def _candidates(buckets: list[dict[bytes, list[int]]], keys: Iterable[bytes]) -> set[int]:
    found: set[int] = set()
    for band, key in enumerate(keys):
        found.update(buckets[band].get(key, ()))
    return found
