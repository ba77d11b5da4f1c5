"""SQL keys of each fingerprinted prompt text, beside the Python fingerprints: wrapper ends and phrases.

`detection.features` runs them once over the texts to fingerprint (`_dg_fpb`); `cache` digests them into the
cache version, so cached keys are recomputed when this SQL changes.
"""

from __future__ import annotations

WRAPPER_CHARS = 40


def norm_sql(text: str) -> str:
    return f"trim(regexp_replace(regexp_replace(lower({text}), '[0-9]+', '0', 'g'), '\\s+', ' ', 'g'))"


# A wrapper key normalises only the END_SLICE characters at its end of the prompt: the same key as
# normalising the whole text whenever that slice normalises to more than WRAPPER_CHARS + 1 characters
# (else the whole text is normalised). `ENDS_SQL` reads `_dg_fpb` and adds `pre_key`, `suf_key`.
END_SLICE = 100
ENDS_SQL = (f"SELECT *, hash(CASE WHEN length(pl) > {WRAPPER_CHARS + 1} THEN left(pl, {WRAPPER_CHARS}) "
             f"ELSE left({norm_sql('text')}, {WRAPPER_CHARS}) END) AS pre_key, "
             f"hash(CASE WHEN length(pr) > {WRAPPER_CHARS + 1} THEN right(pr, {WRAPPER_CHARS}) "
             f"ELSE right({norm_sql('text')}, {WRAPPER_CHARS}) END) AS suf_key "
             f"FROM (SELECT *, {norm_sql(f'left(text, {END_SLICE})')} AS pl, "
             f"{norm_sql(f'right(text, {END_SLICE})')} AS pr FROM _dg_fpb)")

PHRASE_ENDS = 3          # sentences kept from each end of a prompt
PHRASE_MIN_CHARS = 12
SEGMENTS_SQL = f"""
INSERT INTO dg_seg SELECT DISTINCT text_hash, hash(seg) FROM (
  SELECT text_hash, unnest(CASE WHEN len(segs) <= {2 * PHRASE_ENDS} THEN segs
                           ELSE segs[1:{PHRASE_ENDS}] || segs[-{PHRASE_ENDS}:] END) AS seg
  FROM (
    SELECT text_hash, list_filter(list_transform(string_split_regex(
             -- one pass: case-folded, everything but letters and sentence breaks becomes a space
             regexp_replace(lower(CASE WHEN length(text) > 6000 THEN left(text, 4000) || '\n' || right(text, 2000)
                                  ELSE text END), '[^a-z\\n.!?;:]+', ' ', 'g'),
             '[\\n.!?;:]+'), lambda s: trim(s)), lambda s: len(s) >= {PHRASE_MIN_CHARS}) AS segs
    FROM _dg_fpb))
"""
