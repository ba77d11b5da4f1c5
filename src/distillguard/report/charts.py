"""Vega-Lite chart specifications built with Altair, and the Vega JavaScript that renders them offline.

Charts are data: each function returns a Vega-Lite spec (a dict) from plain rows, already aggregated
or sampled by the caller, so a report on a 25,000-account campaign embeds hundreds of points, not
millions. `vega_bundle()` is vega + vega-lite + vega-embed as one script, shipped inside the
`vl-convert-python` wheel, so no page ever reaches a CDN.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import altair as alt

from ..errors import DistillGuardError

Rows = Sequence[dict[str, Any]]
Spec = dict[str, Any]

BASELINE = "legitimate baseline"
CAPABILITY_COLORS = {"reasoning": "#4c78a8", "coding": "#f58518", "tool use": "#54a24b", "other": "#9d9d9d"}
EDGE_COLORS = {
    "template": "#4c78a8",
    "phrases": "#9ecae9",
    "lockstep": "#e45756",
    "payment": "#b279a2",
    "infrastructure": "#f58518",
    "cohort": "#54a24b",
    "client": "#72b7b2",
}


def _spec(chart: alt.TopLevelMixin, **datasets: Rows) -> Spec:
    """The validated spec of `chart`, with its named datasets attached afterwards.

    Altair validates every data row against the Vega-Lite schema, which costs seconds for a network of a
    few hundred points; the rows are plain numbers and strings we built, so they join after validation.
    """
    spec = chart.to_dict()
    # a chart as wide as its box: the legend and axis labels fit inside it, never overflow the column
    if not any(k in spec for k in ("hconcat", "vconcat", "concat")):  # concatenated views size themselves
        spec.setdefault("autosize", {"type": "fit", "contains": "padding"})
    if datasets:
        spec["datasets"] = {name: list(rows) for name, rows in datasets.items()}
    return spec


def timeline(rows: Rows, series_order: Sequence[str], events: Rows = (), height: int = 180) -> Spec:
    """Exchanges per day, one line per series (campaigns and the legitimate baseline, dashed)."""
    domain = list(series_order)
    palette = ["#e45756", "#4c78a8", "#f58518", "#b279a2", "#54a24b", "#72b7b2", "#ff9da6", "#9d755d"]
    colors = [("#7f7f7f" if s == BASELINE else palette[i % len(palette)]) for i, s in enumerate(domain)]
    span = sorted({str(r["day"]) for r in rows})
    days = len(span)
    # the axis spans the data's days (events outside them are left out, never stretch it)
    events = [e for e in events if span[0] <= str(e["day"])[:10] <= span[-1]] if span else []
    # one tick per day (or per few days for long campaigns), never several ticks with the same date label
    ticks = {"interval": "day", "step": max(1, -(-days // 14))}
    domain_x = [_datetime(span[0]), _datetime(span[-1])] if span else None
    base = alt.Chart(alt.NamedData("series")).mark_line(point=days <= 60, strokeWidth=2).encode(
        x=alt.X("day:T", title=None, axis=alt.Axis(format="%Y-%m-%d", labelAngle=-30, tickCount=ticks),
                scale=alt.Scale(domain=domain_x) if domain_x else alt.Undefined),
        y=alt.Y("exchanges:Q", title="exchanges per day", axis=alt.Axis(format="~s")),
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=domain, range=colors),
                        legend=alt.Legend(orient="top")),
        strokeDash=alt.condition(alt.datum.series == BASELINE, alt.value([5, 3]), alt.value([1, 0])),
        tooltip=[alt.Tooltip("day:T", format="%Y-%m-%d"), "series:N", alt.Tooltip("exchanges:Q", format=",")],
    )
    layers: list[alt.Chart] = [base]
    if events:
        layers.append(
            alt.Chart(alt.NamedData("events")).mark_rule(color="#222", strokeDash=[2, 2]).encode(
                x="day:T", tooltip=[alt.Tooltip("day:T", format="%Y-%m-%d"), "action:N", "count:Q"]
            )
        )
    chart = alt.layer(*layers) if len(layers) > 1 else base
    data = {"series": rows, "events": events} if events else {"series": rows}
    return _spec(chart.properties(width="container", height=height), **data)


def _datetime(day: str) -> alt.DateTime:
    """A 'YYYY-MM-DD…' day as a Vega-Lite DateTime (UTC), for a temporal scale's domain."""
    y, m, d = (int(x) for x in day[:10].split("-"))
    return alt.DateTime(year=y, month=m, date=d, utc=True)


def capability_mix(capabilities: Sequence[tuple[str, float]]) -> Spec:
    """Share of the campaign's exchanges per targeted capability, as horizontal bars."""
    rows = [{"capability": k.replace("_", " "), "share": v} for k, v in capabilities]
    names = [str(r["capability"]) for r in rows]
    chart = alt.Chart(alt.NamedData("shares")).mark_bar().encode(
        y=alt.Y("capability:N", title=None, sort=names),
        x=alt.X("share:Q", title="share of exchanges", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color(
            "capability:N",
            legend=None,
            scale=alt.Scale(domain=list(CAPABILITY_COLORS), range=list(CAPABILITY_COLORS.values())),
        ),
        tooltip=["capability:N", alt.Tooltip("share:Q", format=".1%")],
    )
    text = chart.mark_text(align="left", dx=3).encode(text=alt.Text("share:Q", format=".0%"), color=alt.value("#222"))
    chart = alt.layer(chart, text).properties(width="container", height=22 * max(len(rows), 1) + 10)
    return _spec(chart, shares=rows)


def network(nodes: Rows, edges: Rows, title: str = "") -> Spec:
    """The account network: laid-out nodes (x, y, group) joined by edges (x, y, x2, y2, kind)."""
    kinds = sorted({str(e["kind"]) for e in edges})
    edge_colors = [EDGE_COLORS.get(k, "#bbbbbb") for k in kinds]
    no_axis = alt.Axis(labels=False, ticks=False, domain=False, grid=False, title=None)
    edge_layer = alt.Chart(alt.NamedData("edges")).mark_rule(opacity=0.8).encode(
        x=alt.X("x:Q", axis=no_axis),
        y=alt.Y("y:Q", axis=no_axis),
        x2="x2:Q",
        y2="y2:Q",
        color=alt.Color("kind:N", title="link", legend=alt.Legend(orient="right"),
                        scale=alt.Scale(domain=kinds or ["none"], range=edge_colors or ["#bbb"])),
        strokeWidth=alt.StrokeWidth("weight:Q", legend=None, scale=alt.Scale(range=[1.2, 3.5])),
    )
    node_layer = alt.Chart(alt.NamedData("nodes")).mark_circle(size=45, opacity=0.9, stroke="white").encode(
        x=alt.X("x:Q", axis=no_axis),
        y=alt.Y("y:Q", axis=no_axis),
        fill=alt.Fill("group:N", title="account", scale=alt.Scale(
            domain=["this campaign", "other campaign", "unassigned, flagged", "legitimate"],
            range=["#e45756", "#b279a2", "#f58518", "#7f7f7f"])),
        tooltip=["account_id:N", "group:N", alt.Tooltip("score:Q", format=".3f"), "degree:Q"],
    )
    chart = alt.layer(edge_layer, node_layer).resolve_scale(color="independent").properties(
        width="container", height=320, title=title
    )
    return _spec(chart.configure_view(stroke=None), edges=edges, nodes=nodes)


def score_histogram(rows: Rows, threshold: float | None) -> Spec:
    """Accounts per score bin, flagged and not, on a linear scale (said on the axis), the operating point marked."""
    bars = alt.Chart(alt.NamedData("bins")).mark_bar().encode(
        x=alt.X("lo:Q", title="score", bin="binned", scale=alt.Scale(domain=[0, 1])),
        x2="hi:Q",
        y=alt.Y("accounts:Q", title="accounts (linear scale)", scale=alt.Scale(type="linear"),
                axis=alt.Axis(format="~s")),
        color=alt.Color("decision:N", title=None, scale=alt.Scale(domain=["flagged", "not flagged"],
                        range=["#e45756", "#7f7f7f"]), legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("lo:Q", title="from"), alt.Tooltip("hi:Q", title="to"), "decision:N",
                 alt.Tooltip("accounts:Q", format=",")],
    )
    layers: list[alt.Chart] = [bars]
    if threshold is not None:
        layers.append(alt.Chart(alt.NamedData("threshold")).mark_rule(color="#222", strokeDash=[4, 2])
                      .encode(x="t:Q", tooltip=[alt.Tooltip("t:Q", title="operating point", format=".3f")]))
    data = {"bins": rows, "threshold": [{"t": threshold}]} if threshold is not None else {"bins": rows}
    return _spec(alt.layer(*layers).properties(width="container", height=160), **data)


def campaign_sizes(rows: Rows) -> Spec:
    """Campaigns side by side: accounts and exchanges (log scales), one bar per campaign."""
    base = alt.Chart(alt.NamedData("sizes"))
    enc = {"y": alt.Y("campaign:N", title=None, sort=[r["campaign"] for r in rows]),
           "tooltip": ["campaign:N", alt.Tooltip("accounts:Q", format=","), alt.Tooltip("exchanges:Q", format=",")]}
    acc = base.mark_bar(color="#b279a2").encode(x=alt.X("accounts:Q", axis=alt.Axis(format="~s")), **enc)
    exc = base.mark_bar(color="#4c78a8").encode(x=alt.X("exchanges:Q", axis=alt.Axis(format="~s")), **enc)
    height = 18 * max(len(rows), 1) + 10
    chart = alt.hconcat(acc.properties(width=260, height=height), exc.properties(width=260, height=height))
    return _spec(chart, sizes=rows)


def live_rate(name: str = "live") -> Spec:
    """Requests per second over time from the named dataset `name`, which the dashboard page streams into."""
    # points too: the first sample, before there is a line to draw, is visible at once
    chart = alt.Chart(alt.NamedData(name)).mark_line(
        color="#e45756", strokeWidth=2, interpolate="monotone", point=True
    ).encode(
        x=alt.X("t:T", title=None, axis=alt.Axis(format="%H:%M:%S", labelAngle=0)),
        y=alt.Y("rps:Q", title="requests / s"),
        tooltip=[alt.Tooltip("t:T", format="%H:%M:%S"), alt.Tooltip("rps:Q", format=".1f")],
    )
    return _spec(chart.properties(width="container", height=140))


def spec_json(spec: Spec) -> str:
    """A spec as JSON safe to place inside an HTML <script> element (no '<', '>' or '&' characters)."""
    text = json.dumps(spec, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _cache_file(name: str) -> Path | None:
    """A per-user cache file we may trust: in a folder owned by us and writable by nobody else."""
    try:
        folder = Path.home() / ".cache" / "distillguard"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = folder.stat()
    except (OSError, RuntimeError):
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return folder / name


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one classic script defining `window.vegaEmbed` (no CDN).

    Building it starts a JavaScript runtime inside vl-convert (seconds), so it is cached per user.
    """
    try:
        import vl_convert as vlc
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise DistillGuardError("charts need the vl-convert-python package: pip install vl-convert-python") from e
    version = "v" + alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0].replace(".", "_")
    cache = _cache_file(f"vega-embed-{getattr(vlc, '__version__', 'x')}-{version}.js")
    if cache is not None and cache.is_file():
        return cache.read_text(encoding="utf-8")
    try:
        # the stub says `snippet` is required; it is optional, and "" would return an empty bundle
        js = vlc.javascript_bundle(vl_version=version)  # type: ignore[call-arg]
    except ValueError:
        js = vlc.javascript_bundle()  # type: ignore[call-arg]
    # Never let the bundle close the <script> element that holds it.
    js = js.replace("</script", "<\\/script").replace("<!--", "<\\!--")
    if cache is not None:
        try:
            fd, tmp = tempfile.mkstemp(dir=cache.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(js)
            os.replace(tmp, cache)
        except OSError:
            pass  # a cache we cannot write only costs time
    return js
