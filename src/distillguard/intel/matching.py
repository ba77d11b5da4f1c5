"""Our traffic against partners' indicators: which accounts match, and how much that says.

Addresses and user agents are joined in SQL; CIDR ranges are checked once per distinct address; prompt
templates once per distinct prompt text: its skeleton (`distillguard.fingerprints`) is hashed and compared
with shared template hashes (exact) and its dg-minhash-v1 signature with shared signatures (LSH). The
matches land in the store's `intel_matches` table, are reported back as STIX sightings on the next export,
and become a `partner-indicator` score per account (noisy-or over matched indicators, each weighted by
its kind and its source's confidence).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa

from ..schema import prompt_sql
from ..store import Store
from . import signatures, vocab
from .importer import PartnerIndicator, active_indicators, ensure_tables
from .stix import PartnerSighting

TEXT_SQL = prompt_sql("x.prompt", "x.messages")  # the prompt-text rule (schema.py)
BATCH = 20_000
REASON = "partner-indicator"
FULL_AT = 3  # matched exchanges for an indicator to count fully

MATCH_SCHEMA = pa.schema([
    ("indicator_id", pa.string()), ("kind", pa.string()), ("value", pa.string()), ("source", pa.string()),
    ("confidence", pa.float64()), ("similarity", pa.float64()), ("account_id", pa.string()),
    ("exchanges", pa.int64()), ("first_seen", pa.timestamp("us", tz="UTC")),
    ("last_seen", pa.timestamp("us", tz="UTC")),
])
EVIDENCE_SCHEMA = pa.schema([
    ("account_id", pa.string()), ("partner_score", pa.float64()), ("indicators", pa.int64()),
    ("kinds", pa.string()), ("sources", pa.string()),
])
_HIT_SCHEMA = pa.schema([("key", pa.string()), ("indicator_id", pa.string()), ("kind", pa.string()),
                         ("value", pa.string()), ("source", pa.string()), ("confidence", pa.float64()),
                         ("similarity", pa.float64())])


def match_indicators(store: Store, now: datetime, threshold: float = signatures.DEFAULT_THRESHOLD) -> pa.Table:
    """Match the store's exchanges against active partner indicators; replace `intel_matches`; return them."""
    ensure_tables(store)
    inds = active_indicators(store, now)
    by_kind: dict[str, list[PartnerIndicator]] = {k: [] for k in vocab.KINDS}
    for i in inds:
        by_kind.setdefault(i.kind, []).append(i)
    parts = []
    if by_kind["ip"]:
        parts.append(_join(store, [_hit(_canonical_ip(i.value), i) for i in by_kind["ip"]], "x.ip", "x.ip <> ''"))
    if by_kind["user_agent"]:
        parts.append(_join(store, [_hit(i.value, i) for i in by_kind["user_agent"]], "x.user_agent", "true"))
    if by_kind["cidr"]:
        parts.append(_join(store, _cidr_hits(store, by_kind["cidr"]), "x.ip", "x.ip <> ''"))
    if by_kind["template_hash"] or by_kind["minhash"]:
        hits = _text_hits(store, by_kind["template_hash"], by_kind["minhash"], threshold)
        parts.append(_join(store, hits, f"md5({TEXT_SQL})", "true"))
    table = pa.concat_tables(parts) if parts else MATCH_SCHEMA.empty_table()
    con = store.con
    con.execute("DELETE FROM intel_matches")
    if table.num_rows:
        con.register("_dg_matches", table)
        try:
            con.execute("INSERT INTO intel_matches SELECT *, ?::TIMESTAMPTZ FROM _dg_matches", [now])
        finally:
            con.unregister("_dg_matches")
    return table.sort_by([("account_id", "ascending"), ("indicator_id", "ascending"), ("kind", "ascending")])


def account_evidence(matches: pa.Table) -> pa.Table:
    """Per matched account: partner score = 1 - prod(1 - weight) over the distinct indicators it matched.

    weight = kind weight x source confidence x similarity x min(1, matched exchanges / FULL_AT): one
    matching prompt can be a coincidence (a benchmark question a real user also asks), a campaign's
    account sends its wrappers again and again.
    """
    # one indicator shared twice (STIX and MISP, hash and MinHash of one template) counts once
    best: dict[str, dict[tuple[str, str], float]] = {}
    kinds: dict[str, set[str]] = {}
    sources: dict[str, set[str]] = {}
    for r in matches.to_pylist():
        w = (vocab.KIND_WEIGHT.get(r["kind"], 0.0) * r["confidence"] * r["similarity"]
             * min(1.0, r["exchanges"] / FULL_AT))
        acct = best.setdefault(r["account_id"], {})
        key = (r["source"], r["value"])
        acct[key] = max(acct.get(key, 0.0), w)
        kinds.setdefault(r["account_id"], set()).add(r["kind"])
        sources.setdefault(r["account_id"], set()).add(r["source"])
    rows = sorted(best)
    return pa.table({
        "account_id": rows,
        "partner_score": [round(1.0 - float(np.prod([1.0 - w for w in best[a].values()])), 6) for a in rows],
        "indicators": [len(best[a]) for a in rows],
        "kinds": [";".join(sorted(kinds[a])) for a in rows],
        "sources": [";".join(sorted(sources[a])) for a in rows],
    }, schema=EVIDENCE_SCHEMA)


def partner_sightings(store: Store) -> list[PartnerSighting]:
    """The stored matches, one sighting per partner indicator (accounts, exchanges, first and last seen)."""
    ensure_tables(store)
    rows = store.con.execute("""
        SELECT indicator_id, count(*), sum(exchanges), min(first_seen), max(last_seen) FROM (
          SELECT indicator_id, account_id, max(exchanges) AS exchanges, min(first_seen) AS first_seen,
                 max(last_seen) AS last_seen FROM intel_matches GROUP BY ALL)
        GROUP BY indicator_id ORDER BY indicator_id""").fetchall()
    return [PartnerSighting(r[0], int(r[1]), int(r[2]), r[3], r[4]) for r in rows]


def _hit(key: str, i: PartnerIndicator, similarity: float = 1.0) -> dict[str, object]:
    return {"key": key, "indicator_id": i.indicator_id, "kind": i.kind, "value": i.value, "source": i.source,
            "confidence": i.confidence, "similarity": similarity}


def _join(store: Store, hits: Sequence[dict[str, object]], key_sql: str, where: str) -> pa.Table:
    if not hits:
        return MATCH_SCHEMA.empty_table()
    best: dict[tuple[object, ...], dict[str, object]] = {}  # one row per key and indicator, or counts double
    for h in hits:
        k = (h["key"], h["indicator_id"], h["kind"], h["value"])
        if k not in best or float(h["similarity"]) > float(best[k]["similarity"]):  # type: ignore[arg-type]
            best[k] = h
    store.con.register("_dg_hits", pa.Table.from_pylist(list(best.values()), schema=_HIT_SCHEMA))
    try:
        return store.con.sql(f"""
            SELECT h.indicator_id, h.kind, h.value, h.source, h.confidence, max(h.similarity) AS similarity,
                   x.account_id, count(*)::BIGINT AS exchanges, min(x.ts) AS first_seen, max(x.ts) AS last_seen
            FROM exchanges x JOIN _dg_hits h ON h.key = {key_sql}
            WHERE {where} GROUP BY ALL""").to_arrow_table().cast(MATCH_SCHEMA)
    finally:
        store.con.unregister("_dg_hits")


def _canonical_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return value


def _cidr_hits(store: Store, cidrs: list[PartnerIndicator]) -> list[dict[str, object]]:
    nets = []
    for i in cidrs:
        try:
            nets.append((ipaddress.ip_network(i.value.strip(), strict=False), i))
        except ValueError:
            continue
    hits = []
    for (ip_text,) in store.con.execute("SELECT DISTINCT ip FROM exchanges WHERE ip <> ''").fetchall():
        try:
            ip = ipaddress.ip_address(ip_text)
        except ValueError:
            continue
        hits.extend(_hit(ip_text, i) for net, i in nets if ip.version == net.version and ip in net)
    return hits


def _text_hits(store: Store, hashes: list[PartnerIndicator], minhashes: list[PartnerIndicator],
               threshold: float) -> list[dict[str, object]]:
    by_hash: dict[str, list[PartnerIndicator]] = {}
    for i in hashes:
        by_hash.setdefault(i.value.lower(), []).append(i)
    index = SignatureIndexOver(minhashes, threshold) if minhashes else None
    hits: list[dict[str, object]] = []
    cur = store.con.cursor()  # streams distinct texts while the main connection stays free
    try:
        reader = cur.sql(f"SELECT md5(t) AS key, any_value(t) AS text FROM (SELECT {TEXT_SQL} AS t "
                             "FROM exchanges x) WHERE t <> '' GROUP BY key").to_arrow_reader(BATCH)
        for batch in reader:
            keys = batch.column(0).to_pylist()
            forms, ids = _template_forms(batch.column(1))
            if by_hash:
                for n, row_ids in enumerate(ids):
                    for h in row_ids:
                        hits.extend(_hit(keys[n], i) for i in by_hash.get(h, ()))
            if index is not None:
                for form in forms:
                    for m in index.index.query(signatures.signatures(form)):
                        hits.append(_hit(keys[m.query], index.indicators[m.reference], m.similarity))
    finally:
        cur.close()
    return hits


class SignatureIndexOver:
    """An LSH index over partner minhash indicators (rows of the index are these indicators)."""

    def __init__(self, indicators: list[PartnerIndicator], threshold: float) -> None:
        self.indicators = [i for i in indicators if i.minhash and len(i.minhash) == signatures.NUM_PERM]
        refs = np.array([i.minhash for i in self.indicators], dtype=np.uint32).reshape(-1, signatures.NUM_PERM)
        self.index = signatures.SignatureIndex(refs, threshold)


def _template_forms(texts: pa.Array) -> tuple[list[list[str]], list[tuple[str, ...]]]:
    """Texts to sign (skeletons, and wrappers where they differ) and template hashes (hex) of distinct texts."""
    try:
        from ..fingerprints.texts import fingerprint_texts
    except ImportError:  # fingerprints not part of this build: compare raw texts, no exact hashes
        return [[str(t) for t in texts.to_pylist()]], [() for _ in range(len(texts))]
    fp = fingerprint_texts(texts)
    tids = fp.column("template_id").to_pylist()
    wids = fp.column("wrapper_id").to_pylist()
    ids = [tuple(dict.fromkeys((vocab.template_hash_hex(t), vocab.template_hash_hex(w))))
           for t, w in zip(tids, wids, strict=True)]
    skeletons, wrappers = fp.column("skeleton").to_pylist(), fp.column("wrapper").to_pylist()
    # a wrapper equal to its skeleton would only repeat the skeleton's matches; sign it as empty instead
    return [skeletons, [w if w != s else "" for w, s in zip(wrappers, skeletons, strict=True)]], ids
