"""Prompt fingerprints: normalised skeletons, template and wrapper ids, capability and markers.

`texts` holds `fingerprint_texts` (re-exported here); `capability` the capability classifier, `wrappers` the
wrapper finder, `neardup` the MinHash near-duplicate grouping; `cache` the store's cache of fingerprints per
distinct text (read by detection and intel) and `text_keys` the SQL keys computed beside them.
"""

from __future__ import annotations

from .texts import (
    FINGERPRINT_SCHEMA,
    FINGERPRINT_VERSION,
    capability_labels,
    fingerprint_texts,
    near_duplicate_groups,
    normalise,
    normalise_array,
    skeleton,
    skeleton_array,
    stable_hash64,
    wrapper_segments,
)

__all__ = [
    "FINGERPRINT_SCHEMA",
    "FINGERPRINT_VERSION",
    "capability_labels",
    "fingerprint_texts",
    "near_duplicate_groups",
    "normalise",
    "normalise_array",
    "skeleton",
    "skeleton_array",
    "stable_hash64",
    "wrapper_segments",
]
