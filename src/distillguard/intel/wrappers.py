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
from collections.abc import Sequence

import pyarrow as pa

from ..store import Store
from . import signatures
from .findings import CampaignFinding, TemplateFinding
from .matching import TEXT_SQL

TOP_WRAPPERS = 20


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
    con = store.con
    texts = con.sql(f"SELECT md5(t) AS h, any_value(t) AS text FROM (SELECT {TEXT_SQL} AS t FROM exchanges x) "
                    "WHERE t <> '' GROUP BY h").to_arrow_table()
    fp = fingerprint_texts(texts.column("text"))
    con.register("_dg_fp", pa.table({"h": texts.column("h"), "template_id": fp.column("template_id"),
                                     "wrapper_id": fp.column("wrapper_id"), "wrapper": fp.column("wrapper")}))
    con.register("_dg_members", pa.table({"account_id": [m[0] for m in members],
                                          "campaign_id": [m[1] for m in members]}))
    try:
        rows = con.sql(f"""
            WITH u AS (SELECT m.campaign_id, x.account_id, f.template_id, f.wrapper_id, f.wrapper
                       FROM exchanges x JOIN _dg_fp f ON f.h = md5({TEXT_SQL})
                       LEFT JOIN _dg_members m USING (account_id)),
            outside_w AS (SELECT DISTINCT wrapper_id FROM u WHERE campaign_id IS NULL),
            outside_t AS (SELECT DISTINCT template_id FROM u WHERE campaign_id IS NULL)
            SELECT 'w' AS what, campaign_id, wrapper_id, any_value(wrapper), count(DISTINCT account_id), count(*)
            FROM u WHERE campaign_id IS NOT NULL AND wrapper_id NOT IN (SELECT wrapper_id FROM outside_w)
            GROUP BY ALL
            UNION ALL SELECT 't', NULL, template_id, NULL, 0, 0 FROM outside_t""").fetchall()
    finally:
        con.unregister("_dg_fp")
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
