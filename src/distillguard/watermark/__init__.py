"""Provenance: watermark our outputs, detect the mark, trace leaks to accounts, test suspect models.

- `keys`: key files per deployment, per-account keys derived from them.
- `kgw`: generation-time green-list watermark (HF `KGWLogitsProcessor`, `vllm_logits_processor`).
- `detect`: exact binomial detection with value-based n-gram de-duplication and prompt exclusion.
- `lexical`: post-hoc keyed lexical watermark for black-box upstreams, with its own exact test.
- `trace`: which deployment or account keys a leaked dataset carries (family-wise error control).
- `radioactivity`: was a suspect model trained on watermarked text (closed and open settings)?
"""

from __future__ import annotations

from .detect import Detection, DetectOptions, Detector, binomial_p_value
from .keys import WatermarkKey, account_key, load_key, save_key
from .kgw import GreenList, vllm_logits_processor
from .tokenizer import ByteTokenizer, FileTokenizer, load_tokenizer

__all__ = [
    "ByteTokenizer",
    "Detection",
    "DetectOptions",
    "Detector",
    "FileTokenizer",
    "GreenList",
    "WatermarkKey",
    "account_key",
    "binomial_p_value",
    "load_key",
    "load_tokenizer",
    "save_key",
    "vllm_logits_processor",
]
