"""Writing a detection output folder (SCHEMA.md §4 plus the extras other stages read).

Every file is first written under a hidden temporary name in the same folder and fsynced; only when all of
them are complete are they renamed over the previous ones (`os.replace`, atomic per file), contract files
last. A crash or kill while writing leaves the previous complete files in place (and at worst a stray
`.<name>.*.tmp`, removed on the next run); a reader such as the gateway never sees a truncated file.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..schema import CAPABILITIES
from ..store import durable, sql_literal
from . import account_ids
from .campaigns import CampaignConfig
from .features import CAPABILITY_SQL
from .response import campaign_responses
from .scoring import OperatingPoint, Scores
from .shared_traffic import wilson_interval
from .sorted_unique import unique

TOP_TEMPLATES = 5
TOP_INFRA = 5
COMMIT_LAST = ("campaigns.json", "accounts.csv")  # renamed last: a reader keyed on them sees the new extras


class Staging:
    """Files written under temporary names in one folder, then renamed into place together by `commit`."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self._tag = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._files: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        """The temporary path to write `name` to."""
        tmp = self.out / f".{name}.{self._tag}.tmp"
        self._files[name] = tmp
        return tmp

    def commit(self) -> None:
        """Flush every file to disk, then rename each over its final name (contract files last)."""
        names = [n for n in self._files if n not in COMMIT_LAST] + [n for n in COMMIT_LAST if n in self._files]
        for name in names:
            durable(self._files[name])
        for name in names:
            os.replace(self._files.pop(name), self.out / name)
        durable(self.out)

    def abort(self) -> None:
        """Remove the temporary files written so far."""
        for tmp in self._files.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._files.clear()


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Staging]:
    """Stage files in `out`; commit them if the block completes, remove them if it raises."""
    for stale in out.glob(".*.tmp"):  # left by a run that was killed (its process is gone)
        m = _TMP_NAME.match(stale.name)
        if m and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                stale.unlink()
    stage = Staging(out)
    try:
        yield stage
    except BaseException:
        stage.abort()
        raise
    stage.commit()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write one file so that readers see either the old or the new content, never a part."""
    with staged(Path(path).parent) as s:
        s.path(Path(path).name).write_bytes(data)


_TMP_NAME = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def write_outputs(con: duckdb.DuckDBPyConnection, out: Path, features: pa.Table, scores: Scores,
                  point: OperatingPoint, reasons: list[list[str]], config: CampaignConfig,
                  campaign: np.ndarray) -> tuple[int, int]:
    """Write every file of the output folder; return (flagged accounts, campaigns).

    `campaign` is the campaign index of each flagged account (-1 for none), aligned with `scores.accounts`.
    """
    t = scores.accounts
    score = t["score"].to_numpy()
    flagged = score >= point.enforce
    group = np.where(flagged, campaign, -1)
    exch = features["exchanges"].to_numpy()
    order = sorted(unique(group[group >= 0]), key=lambda g: (-exch[group == g].sum(), g))
    names = {int(g): f"dg-{i + 1:04d}" for i, g in enumerate(order)}
    cid = [names.get(int(g), "") if g >= 0 else "" for g in group]
    confidence = {names[int(g)]: float(np.median(score[group == g])) for g in order}
    # `account_id` as the detect tables key accounts (distillguard.detection.account_ids), `name` the account id
    assign = pa.table({"account_id": account_ids.to_numbers(con, t["account_id"]), "name": t["account_id"],
                       "campaign_id": cid, "flagged": flagged, "score": score})
    con.register("_dg_assign", assign)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE dg_assign AS SELECT * FROM _dg_assign")
    finally:
        con.unregister("_dg_assign")
    link_reasons = _link_reasons(con, config)
    with staged(out) as stage:
        n_campaigns = _write_files(con, stage, features, scores, point, cid, reasons, link_reasons, confidence)
    return int(flagged.sum()), n_campaigns


def _write_files(con: duckdb.DuckDBPyConnection, stage: Staging, features: pa.Table, scores: Scores,
                 point: OperatingPoint, cid: list[str], reasons: list[list[str]], link_reasons: dict[str, list[str]],
                 confidence: dict[str, float]) -> int:
    t = scores.accounts
    score = t["score"].to_numpy()
    ids = t["account_id"].to_pylist()
    in_block = t["in_block"].to_numpy()
    write_accounts_csv(stage.path("accounts.csv"), ids, score, point, cid, in_block, reasons, link_reasons)
    write_operating_point(stage.path(OPERATING_POINT), point, score)
    pq.write_table(features, stage.path("features.parquet"))
    links = con.sql("SELECT src, dst, kind, weight FROM dg_links ORDER BY src, dst, kind").to_arrow_table()
    pq.write_table(account_ids.to_names(con, links, ("src", "dst")), stage.path("links.parquet"))
    campaigns = _campaigns(con, confidence, link_reasons, _judged(features, cid))
    responses = campaign_responses(con, confidence)  # what the default policy would do, and whom it touches
    for c in campaigns:
        c["response"] = responses[str(c["campaign_id"])]
    stage.path("campaigns.json").write_bytes(orjson.dumps(campaigns, option=orjson.OPT_INDENT_2))
    # the example skeleton (one per template in dg_skeletons) is joined to the kept rows only, not to every
    # (account, text) row of the campaigns before grouping
    _copy_csv(con, "SELECT t.campaign_id, t.template_id, t.exchanges, t.accounts, k.skeleton AS example FROM ("
              "SELECT a.campaign_id, f.template_id, sum(x.n) AS exchanges, count(DISTINCT x.account_id) AS accounts,"
              " row_number() OVER (PARTITION BY a.campaign_id ORDER BY sum(x.n) DESC, f.template_id) AS rn "
              "FROM dg_at x JOIN dg_fp f USING (text_hash) JOIN dg_assign a USING (account_id) "
              "WHERE a.campaign_id <> '' GROUP BY a.campaign_id, f.template_id) t "
              f"LEFT JOIN dg_skeletons k USING (template_id) WHERE t.rn <= {TOP_TEMPLATES} "
              # (ties: one order)
              "ORDER BY t.campaign_id, t.exchanges DESC, t.template_id", stage.path("templates.csv"))
    _copy_csv(con, _INFRA_SQL, stage.path("infrastructure.csv"))
    # grouped by the UTC date (the store's time zone) as whole days since the epoch (no timestamp per exchange),
    # made a date and formatted once per campaign and day
    _copy_csv(con, "SELECT campaign_id, strftime(DATE '1970-01-01' + day::INTEGER, '%Y-%m-%d') AS day, exchanges FROM ("
              "SELECT a.campaign_id, floor(x.ts_s / 86400) AS day, count(*) AS exchanges "
              "FROM dg_x x JOIN dg_assign a USING (account_id) GROUP BY ALL) ORDER BY campaign_id, day",
              stage.path("timeline.csv"))
    return len(campaigns)


def write_accounts_csv(path: Path, ids: list[str], score: np.ndarray, point: OperatingPoint, cid: list[str],
                       in_block: np.ndarray, reasons: list[list[str]], link_reasons: dict[str, list[str]]) -> None:
    """`accounts.csv` (SCHEMA.md §4, plus a trailing `verdict` column: the account's band, `enforce` exactly
    when `flagged`): a campaign member's link kinds first, then its individual reasons."""
    verdict = point.verdicts(score)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["account_id", "score", "flagged", "campaign_id", "reasons", "verdict"])
        for i, a in enumerate(ids):
            r = list(link_reasons.get(a, [])) if cid[i] else []
            if cid[i] and in_block[i]:
                r.append("dense-block")
            r += [x for x in reasons[i] if x not in r]
            w.writerow([a, f"{score[i]:.6f}", "true" if score[i] >= point.enforce else "false", cid[i], ";".join(r),
                        verdict[i]])


OPERATING_POINT = "operating_point.json"


def write_operating_point(path: Path, point: OperatingPoint, score: np.ndarray) -> None:
    """`operating_point.json`: the fpr target, the three bands' thresholds and how many accounts each holds."""
    path.write_bytes(orjson.dumps(point.record(score), option=orjson.OPT_INDENT_2))


# the distinct (account, address, agent) of the campaigns' exchanges are grouped by the slim table's hashes of
# them (`ip_h`, `ua_h`: NULL for an empty address or agent, as '' and a missing agent are one value here), and
# the strings read from one exchange of each: no grouping by strings over every campaign exchange
_INFRA_SQL = f"""
WITH r AS (SELECT x.account_id, any_value(a.campaign_id) AS campaign_id, count(*) AS n, min(x.rid) AS rid
           FROM dg_x x JOIN dg_assign a USING (account_id) WHERE a.campaign_id <> ''
           GROUP BY x.account_id, x.ip_h, x.ua_h),
c AS (SELECT r.campaign_id, r.account_id, e.ip, coalesce(e.user_agent, '') AS user_agent, r.n
      FROM (SELECT rowid AS rid, ip, user_agent FROM exchanges WHERE rowid IN (SELECT rid FROM r)) e
      JOIN r USING (rid)),
v AS (  -- one row per distinct (account, address, agent) of a campaign: the regexes run once per such row
  SELECT campaign_id, 'ip' AS kind, ip AS value, account_id, n FROM c WHERE ip <> ''
  UNION ALL SELECT campaign_id, 'cidr', regexp_extract(ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24', account_id, n
    FROM c WHERE regexp_matches(ip, '^\\d+\\.\\d+\\.\\d+\\.\\d+$')
  UNION ALL SELECT campaign_id, 'user_agent', user_agent, account_id, n FROM c WHERE user_agent <> ''
),
agg AS (
  SELECT campaign_id, kind, value, count(DISTINCT account_id) AS accounts, sum(n) AS exchanges FROM v GROUP BY ALL
  UNION ALL
  SELECT a.campaign_id, 'payment', p.payment_fingerprint, count(*), 0 FROM dg_assign a
  JOIN dg_acc p USING (account_id) WHERE a.campaign_id <> '' AND coalesce(p.payment_fingerprint, '') <> ''
  GROUP BY ALL
)
SELECT campaign_id, kind, value, accounts, exchanges FROM (
  SELECT *, row_number() OVER (PARTITION BY campaign_id, kind ORDER BY accounts DESC, exchanges DESC, value) AS rn
  FROM agg WHERE accounts >= 2) WHERE rn <= {TOP_INFRA}
ORDER BY campaign_id, kind, accounts DESC, exchanges DESC, value
"""


def _copy_csv(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    con.execute(f"COPY ({sql}) TO {sql_literal(path)} (HEADER, DELIMITER ',')")


def _link_reasons(con: duckdb.DuckDBPyConnection, config: CampaignConfig) -> dict[str, list[str]]:
    """Per account: the link kinds binding it to its own campaign, strongest (kind-weighted) first (the sums
    rounded as the link weights are: a parallel sum's last bits must not reorder two kinds of equal weight)."""
    kw = pa.table({"kind": list(config.kind_weights), "kw": list(config.kind_weights.values())})
    con.register("_dg_kw", kw)
    try:
        rows = con.sql("""
            WITH l AS (SELECT src AS account_id, dst AS other, kind, weight FROM dg_links
                       UNION ALL SELECT dst, src, kind, weight FROM dg_links)
            SELECT a.name, l.kind, round(sum(l.weight * k.kw), 9) AS w FROM l
            JOIN dg_assign a ON a.account_id = l.account_id
            JOIN dg_assign b ON b.account_id = l.other AND b.campaign_id = a.campaign_id
            JOIN _dg_kw k ON k.kind = l.kind
            WHERE a.campaign_id <> '' GROUP BY ALL ORDER BY a.name, w DESC, l.kind""").fetchall()
    finally:
        con.unregister("_dg_kw")
    out: dict[str, list[str]] = {}
    for account, kind, _ in rows:
        out.setdefault(account, []).append(kind)
    return out


def _judged(features: pa.Table, cid: list[str]) -> dict[str, tuple[float, float]]:
    """Per campaign: (exchanges carrying a group's own content, all exchanges) of its accounts."""
    if "shared_exchanges" not in features.column_names:
        return {}
    k = np.nan_to_num(features["shared_exchanges"].to_numpy(zero_copy_only=False).astype(float))
    n = features["exchanges"].to_numpy(zero_copy_only=False).astype(float)
    out: dict[str, tuple[float, float]] = {}
    for c, ki, ni in zip(cid, k, n, strict=True):
        if c:
            a, b = out.get(c, (0.0, 0.0))
            out[c] = (a + ki, b + ni)
    return out


def _campaigns(con: duckdb.DuckDBPyConnection, confidence: dict[str, float],
               link_reasons: dict[str, list[str]], judged: dict[str, tuple[float, float]]
               ) -> list[dict[str, object]]:
    if not confidence:
        return []
    # size and time span over all of each account's exchanges (features); content shares over the
    # fingerprinted texts (dg_at ⋈ dg_fp), each weighted by its number of exchanges
    size = {r[0]: r[1:] for r in con.sql("""
        SELECT a.campaign_id, count(*), sum(f.exchanges), min(f.first_ts), max(f.last_ts)
        FROM dg_features f JOIN dg_assign a USING (account_id) WHERE a.campaign_id <> '' GROUP BY 1""").fetchall()}
    content = {r[0]: r[1:] for r in con.sql("""
        SELECT a.campaign_id, sum(CASE WHEN f.cot THEN t.n ELSE 0 END)::DOUBLE / sum(t.n),
               sum(CASE WHEN f.structured THEN t.n ELSE 0 END)::DOUBLE / sum(t.n), count(DISTINCT f.template_id)
        FROM dg_at t JOIN dg_fp f USING (text_hash) JOIN dg_assign a USING (account_id)
        WHERE a.campaign_id <> '' GROUP BY 1""").fetchall()}
    stats = {c: size[c] + content.get(c, (0.0, 0.0, 0)) for c in size}
    caps: dict[str, dict[str, float]] = {}
    for c, cap, n in con.sql(f"""
        SELECT a.campaign_id, coalesce({CAPABILITY_SQL}, 'other'), count(*) FROM dg_x x JOIN dg_fp f USING (text_hash)
        JOIN dg_assign a USING (account_id) WHERE a.campaign_id <> '' GROUP BY ALL""").fetchall():
        caps.setdefault(c, {})[cap if cap in CAPABILITIES else "other"] = float(n)
    kinds: dict[str, dict[str, int]] = {}
    members = dict(con.sql("SELECT name, campaign_id FROM dg_assign WHERE campaign_id <> ''").fetchall())
    for a, ks in link_reasons.items():
        for k in ks:
            kinds.setdefault(members[a], {}).setdefault(k, 0)
            kinds[members[a]][k] += 1
    out = []
    for name in sorted(confidence):
        n_acc, n_ex, first, last, cot, structured, n_tpl = stats[name]
        total = sum(caps[name].values())
        capabilities = {k: round(v / total, 4) for k, v in sorted(caps[name].items())}
        evidence = [{"signal": k, "detail": f"{v} of {n_acc} accounts bound by {k} links"}
                    for k, v in sorted(kinds.get(name, {}).items(), key=lambda kv: -kv[1])]
        if cot >= 0.2:
            evidence.append({"signal": "cot-elicitation", "detail": f"{cot:.0%} of exchanges ask for the reasoning"})
        ext = 1.0 - capabilities.get("other", 0.0)
        evidence.append({"signal": "extraction-targets",
                         "detail": f"{ext:.0%} of exchanges target reasoning, coding or tool use"})
        k, n = judged.get(name, (0.0, 0.0))
        if k > 0:   # what the accounts' behaviour as members was measured on (cover traffic left aside)
            (lo,), (hi,) = wilson_interval(np.array([k]), np.array([n]))
            evidence.append({"signal": "judged-traffic",
                             "detail": f"{k / n:.0%} of exchanges (95 % interval {lo:.0%}–{hi:.0%}) carry the "
                                       "campaign's own content; behaviour was judged on them"})
        evidence.append({"signal": "coordination",
                         "detail": f"{n_acc} accounts sent {n_ex} exchanges over {n_tpl} distinct templates"})
        out.append({
            "campaign_id": name, "accounts": int(n_acc), "exchanges": int(n_ex),
            "first_seen": iso_time(first), "last_seen": iso_time(last), "capabilities": capabilities,
            "evidence": evidence, "confidence": round(confidence[name], 4),
        })
    return out


def iso_time(epoch: float) -> str:
    """An epoch second as the ISO-8601 UTC time of campaigns.json."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(epoch), UTC).isoformat().replace("+00:00", "Z")


def write_plain_report(out: Path) -> None:
    """A plain built-in `report.html` from the folder's campaigns.json and accounts.csv (no dependencies)."""
    import html
    import json

    campaigns = json.loads((out / "campaigns.json").read_text())
    with open(out / "accounts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    flagged = [r for r in rows if r["flagged"] == "true"]
    items = "".join(
        f"<tr><td>{html.escape(c['campaign_id'])}</td><td>{c['accounts']}</td><td>{c['exchanges']}</td>"
        f"<td>{html.escape(c['first_seen'])} – {html.escape(c['last_seen'])}</td>"
        f"<td>{c['confidence']:.2f}</td><td>{html.escape('; '.join(e['signal'] for e in c['evidence']))}</td></tr>"
        for c in campaigns)
    body = (f"<h1>DistillGuard detection report</h1><p>{len(rows)} accounts, {len(flagged)} flagged, "
            f"{len(campaigns)} campaigns.</p><table border=1><tr><th>campaign</th><th>accounts</th>"
            f"<th>exchanges</th><th>seen</th><th>confidence</th><th>evidence</th></tr>{items}</table>")
    atomic_write_bytes(out / "report.html", (f"<!doctype html><html><head><meta charset='utf-8'>"
                                             f"<title>DistillGuard report</title></head><body>{body}</body></html>"
                                             ).encode())
