"""Campaign prompt wrappers from our own store: what a campaign repeats around its varying payloads.

`templates.csv` lists a campaign's most frequent exact templates, but a campaign that wraps thousands of
different benchmark items in a few wrappers ("You are an expert tutor. <payload> Number each step.")
has few repeated exact templates. With the store at hand, the exporter fingerprints every distinct
prompt (`distillguard.fingerprints`: `wrapper_id`, `wrapper`), and shares the wrappers that at least
`min_accounts` of a campaign's accounts used and that no account outside any campaign used: a wrapper
our own legitimate users send is never shared. Templates too short to be specific are never shared.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Sequence

import duckdb
import pyarrow as pa

from ..schema import PROMPT_SQL
from ..store import Store
from . import signatures
from .findings import CampaignFinding, TemplateFinding

TOP_WRAPPERS = 20
MISS_BATCH = 20_000  # texts fingerprinted at once (those detect's cache does not hold)


def with_store_wrappers(findings: Sequence[CampaignFinding], store: Store, min_accounts: int,
                        top: int = TOP_WRAPPERS) -> list[CampaignFinding]:
    """The campaigns with their store-derived wrappers added and legitimately used templates removed."""
    try:
        from ..fingerprints.texts import fingerprint_texts
    except ImportError:  # fingerprints not part of this build: share templates.csv as it is
        return list(findings)
    members = [(a, c.campaign_id) for c in findings for a in c.account_ids]
    if not members or not _has_exchanges(store):
        return list(findings)
    from ..fingerprints.cache import duckdb_memory

    con = store.con
    with duckdb_memory(con, 0.5):  # the joins below spill rather than hold the whole log's columns in memory
        return _with_wrappers(findings, con, fingerprint_texts, members, min_accounts, top)


def _with_wrappers(findings: Sequence[CampaignFinding], con: duckdb.DuckDBPyConnection,
                   fingerprint_texts: Callable[..., pa.Table], members: list[tuple[str, str]], min_accounts: int,
                   top: int) -> list[CampaignFinding]:
    _fingerprints(con, fingerprint_texts)
    con.register("_dg_members", pa.table({"account_id": [m[0] for m in members],
                                          "campaign_id": [m[1] for m in members]}))
    try:
        rows = con.sql(f"""
            WITH u AS (SELECT m.campaign_id, x.account_id, f.template_id, f.wrapper_id, f.wrapper
                       FROM exchanges x JOIN _dg_fp f ON f.text_hash = hash({PROMPT_SQL})
                       LEFT JOIN _dg_members m USING (account_id)),
            outside_w AS (SELECT DISTINCT wrapper_id FROM u WHERE campaign_id IS NULL),
            outside_t AS (SELECT DISTINCT template_id FROM u WHERE campaign_id IS NULL)
            SELECT 'w' AS what, campaign_id, wrapper_id, any_value(wrapper), count(DISTINCT account_id), count(*)
            FROM u WHERE campaign_id IS NOT NULL AND wrapper_id NOT IN (SELECT wrapper_id FROM outside_w)
            GROUP BY ALL
            UNION ALL SELECT 't', NULL, template_id, NULL, 0, 0 FROM outside_t""").fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS _dg_fp")
        con.unregister("_dg_members")
    legit_templates = {r[2] for r in rows if r[0] == "t"}
    wrappers: dict[str, list[TemplateFinding]] = {}
    for what, campaign, wid, wrapper, accounts, exchanges in rows:
        if what == "w" and accounts >= min_accounts and "<payload>" in (wrapper or "") \
                and signatures.specific(wrapper):
            wrappers.setdefault(campaign, []).append(TemplateFinding(int(wid), int(exchanges), int(accounts),
                                                                     str(wrapper)))
    out = []
    for c in findings:
        own = [t for t in c.templates if t.template_id not in legit_templates]
        extra = sorted(wrappers.get(c.campaign_id, []), key=lambda t: (-t.accounts, -t.exchanges, t.template_id))
        seen = {t.template_id for t in own}
        own += [t for t in extra if t.template_id not in seen][:top]
        out.append(dataclasses.replace(c, templates=tuple(own)))
    return out


def _fingerprints(con: duckdb.DuckDBPyConnection, fingerprint_texts: Callable[..., pa.Table]) -> None:
    """`_dg_fp(text_hash, template_id, wrapper_id, wrapper)` for every distinct prompt of the store.

    detect keeps each text's fingerprint in the store's cache (`fingerprints.cache`): those are read
    from there (the same wrapper ids detect used), and only the texts it never fingerprinted (e.g. beyond its
    per-account sample) are fingerprinted here; fingerprinting the whole log again took minutes and GBs.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE _dg_fp (text_hash UBIGINT, template_id BIGINT, wrapper_id BIGINT, "
                "wrapper VARCHAR)")
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}
    if {"fingerprint_cache", "fingerprint_cache_wrappers"} <= have:
        from ..fingerprints.cache import fingerprint_version

        con.execute("INSERT INTO _dg_fp SELECT c.text_hash, c.template_id, c.wrapper_id, w.wrapper "
                    "FROM fingerprint_cache c LEFT JOIN fingerprint_cache_wrappers w "
                    "ON w.version = c.version AND w.wrapper_id = c.wrapper_id WHERE c.version = ?",
                    [fingerprint_version()])
    con.execute(f"CREATE OR REPLACE TEMP TABLE _dg_fp_miss AS SELECT hash(t) AS text_hash, any_value(t) AS text "
                f"FROM (SELECT {PROMPT_SQL} AS t FROM exchanges) WHERE t <> '' "
                "AND hash(t) NOT IN (SELECT text_hash FROM _dg_fp) GROUP BY ALL")
    n = con.execute("SELECT count(*) FROM _dg_fp_miss").fetchall()[0][0]
    parts = max(1, -(-n // MISS_BATCH))  # in batches by hash, as detect fingerprints: bounded memory
    try:
        for b in range(parts if n else 0):
            batch = con.sql(f"SELECT text_hash, text FROM _dg_fp_miss WHERE text_hash % {parts} = {b}"
                            ).to_arrow_table()
            fp = fingerprint_texts(batch.column("text"))
            con.register("_dg_fp_new", pa.table({"text_hash": batch.column("text_hash"),
                                                 "template_id": fp.column("template_id"),
                                                 "wrapper_id": fp.column("wrapper_id"),
                                                 "wrapper": fp.column("wrapper")}))
            try:
                con.execute("INSERT INTO _dg_fp SELECT * FROM _dg_fp_new")
            finally:
                con.unregister("_dg_fp_new")
    finally:
        con.execute("DROP TABLE IF EXISTS _dg_fp_miss")


def _has_exchanges(store: Store) -> bool:
    return bool(store.con.execute("SELECT count(*) > 0 FROM (SELECT 1 FROM exchanges LIMIT 1)").fetchall()[0][0])


def without_legit_infrastructure(findings: Sequence[CampaignFinding], store: Store) -> list[CampaignFinding]:
    """The campaigns without the addresses, ranges and user agents that accounts outside them also used."""
    members = sorted({a for c in findings for a in c.account_ids})
    if not members or not _has_exchanges(store):
        return list(findings)
    con = store.con
    con.register("_dg_members", pa.table({"account_id": members}))
    try:
        rows = con.sql("""
            SELECT DISTINCT 'ip' AS kind, ip AS value FROM exchanges
            WHERE ip <> '' AND account_id NOT IN (SELECT account_id FROM _dg_members)
            UNION ALL SELECT DISTINCT 'user_agent', user_agent FROM exchanges
            WHERE user_agent IS NOT NULL AND account_id NOT IN (SELECT account_id FROM _dg_members)""").fetchall()
    finally:
        con.unregister("_dg_members")
    legit_uas = {v for k, v in rows if k == "user_agent"}
    legit_ips = set()
    for k, v in rows:
        if k == "ip":
            try:
                legit_ips.add(ipaddress.ip_address(v))
            except ValueError:
                continue

    def used_by_legit(kind: str, value: str) -> bool:
        if kind == "user_agent":
            return value in legit_uas
        try:
            net = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            return False
        if net.num_addresses == 1:
            return net.network_address in legit_ips
        key = (net.version, net.prefixlen)
        if key not in supernets:  # each legit address's enclosing range of this size, computed once
            supernets[key] = {ipaddress.ip_network(f"{ip}/{net.prefixlen}", strict=False)
                              for ip in legit_ips if ip.version == net.version}
        return net in supernets[key]

    supernets: dict[tuple[int, int], set[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {}

    return [dataclasses.replace(c, infrastructure=tuple(
        r for r in c.infrastructure if r.kind == "payment" or not used_by_legit(r.kind, r.value)))
        for c in findings]
