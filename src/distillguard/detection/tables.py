"""The DuckDB work tables detection's stages hand each other, each declared once: name, writer, readers, columns.

A table here crosses modules (written in one, read in another; the fingerprint cache in `fingerprints.cache`
reads and fills some of them). `tests/test_layering.py` fails when a `dg_*` name appears in two modules
without being declared here. Tables that live inside one module stay private to it (`dgn_*`, `dgd_t_*`, ...);
the incremental snapshot's persistent `dgd_*` tables belong to `incremental` and `feature_state`.

The SQL of the stages still spells the names it reads (a CTE or f-string per stage); new code should take
them from here (`tables.X.name`, or `{tables.X}` in an f-string).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkTable:
    """One work table: its name, the function that writes it, who reads it, its columns (DuckDB types)."""

    name: str
    writer: str
    readers: tuple[str, ...]
    columns: str

    def __str__(self) -> str:
        return self.name


X = WorkTable(
    "dg_x", "features.prepare (slim_select)",
    ("features", "links", "shared_traffic", "output", "feature_state", "incremental", "spark", "fingerprints.cache"),
    "account_id INTEGER, ts_s DOUBLE, text_hash UBIGINT, sys_hash UBIGINT, sys_words INTEGER, user_turns INTEGER, "
    "multi_turn BOOLEAN, max_tokens DOUBLE, temperature DOUBLE, client_fp UBIGINT, ip_h UBIGINT, ua_h UBIGINT, "
    "prompt_tokens BIGINT, completion_tokens BIGINT, model_h UBIGINT, has_tools BOOLEAN, params_key UBIGINT, "
    "params_set INTEGER, rid BIGINT")
AT = WorkTable(
    "dg_at", "features.prepare",
    ("features", "links", "shared_traffic", "output", "response", "feature_state", "incremental", "spark"),
    "account_id INTEGER, text_hash UBIGINT, n BIGINT")
NAMES = WorkTable(
    "dg_names", "account_ids (numbered)",
    ("features", "links", "feature_state", "incremental", "spark"),
    "account_id INTEGER, name VARCHAR")
ACC = WorkTable(
    "dg_acc", "features.prepare", ("links", "output", "spark"),
    "account_id INTEGER, created_at TIMESTAMPTZ, email_domain VARCHAR, payment_fingerprint VARCHAR, "
    "signup_ip VARCHAR, country VARCHAR, verified BOOLEAN, tier VARCHAR")
SAMPLE = WorkTable(
    "dg_sample", "features.prepare (sample_sql)", ("fingerprints.cache", "incremental"),
    "text_hash UBIGINT")
NEED = WorkTable(
    "dg_need", "fingerprints.cache", ("features",),
    "text_hash UBIGINT")
MISS = WorkTable(
    "dg_miss", "fingerprints.cache", ("features", "incremental"),
    "text_hash UBIGINT, text VARCHAR, batch UBIGINT")
FP_RAW = WorkTable(
    "dg_fp_raw", "features (fingerprint batches) / fingerprints.cache (cached rows)", ("features", "incremental"),
    "text_hash UBIGINT, template_id BIGINT, wrapper_id BIGINT, capability VARCHAR, cot BOOLEAN, "
    "structured BOOLEAN, pre_key UBIGINT, suf_key UBIGINT")
SK = WorkTable(
    "dg_sk", "features (fingerprint batches)", ("fingerprints.cache", "features", "incremental"),
    "template_id BIGINT, skeleton VARCHAR")
WR = WorkTable(
    "dg_wr", "features (fingerprint batches)", ("fingerprints.cache", "features", "incremental"),
    "wrapper_id BIGINT, wrapper VARCHAR")
ENDS = WorkTable(
    "dg_ends", "fingerprints.text_keys.insert_keys (called by features.fingerprint_sample)", ("features",),
    "text_hash UBIGINT, pre_key UBIGINT, suf_key UBIGINT")
SEG = WorkTable(
    "dg_seg", "features / fingerprints.text_keys.insert_keys (SEGMENTS_SQL and its byte-level twin) / "
    "fingerprints.cache", ("features", "incremental"),
    "text_hash UBIGINT, phrase UBIGINT")
FP = WorkTable(
    "dg_fp", "features.prepare",
    ("features", "links", "shared_traffic", "output", "response", "feature_state", "incremental", "spark"),
    "text_hash UBIGINT, template_id BIGINT, wrapper_id BIGINT, capability VARCHAR, cot BOOLEAN, "
    "structured BOOLEAN, pre_key UBIGINT, suf_key UBIGINT, near_group BIGINT")
TASK = WorkTable(
    "dg_task", "features.prepare (TASK_SQL)", ("features", "shared_traffic", "spark"),
    "account_id INTEGER, pre_key UBIGINT, n BIGINT")
PHRASE = WorkTable(
    "dg_phrase", "features.prepare", ("links", "shared_traffic", "incremental", "spark"),
    "text_hash UBIGINT, phrase UBIGINT")
SYSSEG = WorkTable(
    "dg_sysseg", "features.prepare (system_sentences_sql)", ("links", "spark"),
    "sys_hash UBIGINT, phrase UBIGINT, pw DOUBLE")
PROV = WorkTable(
    "dg_prov", "provenance.prepare", ("links", "spark"),
    "a INTEGER, b INTEGER, n BIGINT")
SKELETONS = WorkTable(
    "dg_skeletons", "features.prepare", ("output",),
    "template_id BIGINT, skeleton VARCHAR")
FEATURES = WorkTable(
    "dg_features", "features.account_features",
    ("links", "shared_traffic", "output", "response", "run", "spark"),
    "account_id INTEGER, exchanges BIGINT, ... one column per account feature (features.FEATURES_SQL)")
LINKS = WorkTable(
    "dg_links", "links.build_links", ("run", "output", "spark"),
    "src INTEGER, dst INTEGER, kind VARCHAR, weight DOUBLE")
OWN = WorkTable(
    "dg_own", "shared_traffic.shared_traffic_features (keep_own, asked by run)", ("incremental",),
    "grp BIGINT, key: each candidate group's own content keys")
ASSIGN = WorkTable(
    "dg_assign", "output.write_outputs", ("output", "response"),
    "account_id INTEGER, name VARCHAR, campaign_id VARCHAR, flagged BOOLEAN, score DOUBLE")

ALL = (X, AT, NAMES, ACC, SAMPLE, NEED, MISS, FP_RAW, SK, WR, ENDS, SEG, FP, TASK, PHRASE, SYSSEG, PROV, SKELETONS,
       FEATURES, LINKS, OWN, ASSIGN)
# what the relational stages read when they run on Spark, and what comes back
SHIPPED = (X, AT, FP, TASK, PHRASE, SYSSEG, PROV, ACC, NAMES)
RESULTS = (FEATURES, LINKS)
