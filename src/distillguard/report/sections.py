"""The report's content, built from `Findings`: one overview and one section per campaign.

Everything here is already aggregated and capped (top templates, top infrastructure values, sampled
network) so the page stays small whatever the size of the campaign.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import charts
from .enforcement import ActionSummary, AnalystAction, BacktestRow, Enforcement
from .findings import Campaign, Evidence, Findings
from .network import NetworkSample, sample_network
from .summary import campaign_sentence, signal_words

TOP_TEMPLATES = 10
MIN_TEMPLATE_WORDS = 4
TOP_INFRA = 8


@dataclass(frozen=True)
class CampaignSection:
    """What the report shows about one campaign."""

    campaign: Campaign
    sentence: str
    anchor: str
    timeline: dict[str, Any] | None
    capability_chart: dict[str, Any] | None
    network_chart: dict[str, Any] | None
    network: NetworkSample | None
    templates: tuple[dict[str, Any], ...]
    infrastructure: tuple[dict[str, Any], ...]
    evidence: tuple[tuple[str, Evidence], ...]  # (analyst words, evidence)
    actions: tuple[ActionSummary, ...]
    analyst: tuple[AnalystAction, ...]
    backtest: tuple[BacktestRow, ...]


def anchor(campaign_id: str) -> str:
    """An HTML id for a campaign section."""
    return "camp-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in campaign_id)


def store_timeline(findings: Findings, store: Path | None) -> pa.Table | None:
    """Exchanges per day per campaign ('' = legitimate) computed from the store, when no timeline.csv."""
    if store is None or not Path(store).exists():
        return None
    try:
        con = duckdb.connect(str(store), read_only=True)
    except duckdb.Error:
        return None
    try:
        acc = findings.accounts.select(["account_id", "campaign_id", "flagged"])
        con.register("acc", acc)
        return con.sql(
            """SELECT series AS campaign_id, day, count(*)::BIGINT AS exchanges FROM (
                 SELECT CASE WHEN coalesce(a.campaign_id, '') <> '' THEN a.campaign_id
                             WHEN coalesce(a.flagged, false) THEN NULL ELSE '' END AS series,
                        strftime(e.ts AT TIME ZONE 'UTC', '%Y-%m-%d') AS day
                 FROM exchanges e LEFT JOIN acc a USING (account_id))
               WHERE series IS NOT NULL GROUP BY ALL ORDER BY day, campaign_id"""
        ).to_arrow_table()
    except duckdb.Error:
        return None
    finally:
        con.close()


def _series(timeline: pa.Table, campaign_id: str) -> list[dict[str, Any]]:
    sel = timeline.filter(pc.equal(timeline["campaign_id"], campaign_id))
    return [{"day": d, "exchanges": int(x or 0)} for d, x in zip(sel["day"].to_pylist(), sel["exchanges"].to_pylist(),
                                                                   strict=True) if d]


def timeline_chart(timeline: pa.Table | None, campaign_ids: list[str],
                   events: tuple[dict[str, Any], ...] = ()) -> dict[str, Any] | None:
    """Exchanges per day of these campaigns beside the legitimate baseline; None without data."""
    if timeline is None or timeline.num_rows == 0:
        return None
    rows: list[dict[str, Any]] = []
    order = []
    for cid in campaign_ids:
        pts = _series(timeline, cid)
        if pts:
            order.append(cid)
            rows += [{**p, "series": cid} for p in pts]
    if not rows:
        return None
    days = {r["day"] for r in rows}
    lo, hi = min(days), max(days)
    base = [p for p in _series(timeline, "") if lo <= p["day"] <= hi]
    if base:
        order.append(charts.BASELINE)
        rows += [{**p, "series": charts.BASELINE} for p in base]
    return charts.timeline(rows, order, events)


def _templates(findings: Findings, campaign_id: str) -> tuple[dict[str, Any], ...]:
    t = findings.templates
    if t is None:
        return ()
    sel = t.filter(pc.equal(t["campaign_id"], campaign_id)).sort_by([("exchanges", "descending")])
    # what characterises the campaign: templates several of its accounts share and that say something
    # ("continue", "hi" or one account's own prompt say nothing about it)
    rows = [r for r in sel.to_pylist() if (r["accounts"] or 0) >= 2 and specific_template(r["example"] or "")]
    return tuple(
        {**r, "example": (r["example"] or "")[:200], "hash": template_hash(r["template_id"])}
        for r in rows[:TOP_TEMPLATES]
    )


def specific_template(example: str) -> bool:
    """Whether a template says something: at least MIN_TEMPLATE_WORDS words besides masks (<NUM>, …)."""
    words = re.findall(r"[^\W\d_]{2,}", re.sub(r"<[^<>]{1,20}>", " ", example))
    return len(words) >= MIN_TEMPLATE_WORDS


def template_hash(template_id: str) -> str:
    """A template id (a signed 64-bit hash as detect writes it) as 16 hex digits; other ids as they are."""
    try:
        return f"{int(template_id) & 0xFFFF_FFFF_FFFF_FFFF:016x}"
    except ValueError:
        return template_id


def _infrastructure(findings: Findings, campaign_id: str) -> tuple[dict[str, Any], ...]:
    t = findings.infrastructure
    if t is None:
        return ()
    sel = t.filter(pc.equal(t["campaign_id"], campaign_id))
    out: list[dict[str, Any]] = []
    for kind in sorted(set(sel["kind"].to_pylist())):
        part = sel.filter(pc.equal(sel["kind"], kind))
        part = part.sort_by([("accounts", "descending"), ("exchanges", "descending")])
        rows = part.slice(0, TOP_INFRA).to_pylist()
        for r in rows:
            r["more"] = 0
        if part.num_rows > TOP_INFRA:
            rows[-1]["more"] = part.num_rows - TOP_INFRA
        out += rows
    return tuple(out)


def campaign_section(findings: Findings, campaign: Campaign, timeline: pa.Table | None,
                     enforcement: Enforcement | None = None, edges: pa.Table | None = None) -> CampaignSection:
    """Everything shown for one campaign (`edges`: the report's `network.campaign_edges`, else computed here)."""
    enf = enforcement or Enforcement.empty()
    cid = campaign.campaign_id
    net = sample_network(findings, cid, edges=edges)
    shown = f"{net.shown_members:,} of {net.members:,} accounts shown" if net else ""
    return CampaignSection(
        campaign=campaign,
        sentence=campaign_sentence(campaign),
        anchor=anchor(cid),
        timeline=timeline_chart(timeline, [cid], enf.daily.get(cid, ())),
        capability_chart=charts.capability_mix(campaign.capabilities) if campaign.capabilities else None,
        network_chart=charts.network(net.nodes, net.edges, shown) if net and net.nodes else None,
        network=net,
        templates=_templates(findings, cid),
        infrastructure=_infrastructure(findings, cid),
        evidence=tuple((signal_words(e.signal), e) for e in campaign.evidence),
        actions=enf.actions.get(cid, ()),
        analyst=enf.analyst.get(cid, ()),
        backtest=enf.backtest.get(cid, ()),
    )


def score_rows(findings: Findings, bins: int = 50) -> list[dict[str, Any]]:
    """Accounts per score bin, split into flagged and not flagged."""
    scores = findings.accounts["score"].to_numpy(zero_copy_only=False)
    flagged = findings.accounts["flagged"].to_numpy(zero_copy_only=False)
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for label, mask in (("flagged", flagged), ("not flagged", ~flagged)):
        hist, _ = np.histogram(np.clip(scores[mask], 0, 1), bins=edges)
        rows += [{"lo": round(float(edges[i]), 3), "hi": round(float(edges[i + 1]), 3), "decision": label,
                  "accounts": int(n)} for i, n in enumerate(hist) if n]
    return rows
