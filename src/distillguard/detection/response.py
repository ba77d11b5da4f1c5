"""What the default enforcement policy would do about each detected campaign: campaigns.json `response`.

Per campaign: each member account's action under the policy (the most severe of its campaign rule, by the
campaign's confidence and the member's own score, and its score rule), how many accounts and exchanges that
acts on, and the legitimate traffic it would touch. The policy also acts online on accounts outside the
campaign that send its templates: a template counts as the campaign's when at least `learn_min_accounts` of its
members sent it and they are at least `learn_min_share` of its senders (as the gateway learns templates), and an
unflagged account is touched when at least `template_matches` of its exchanges, and `template_share` of all of
them, use such templates. Its exchanges are the legitimate traffic touched.

Reads the detect run's work tables (`dg_assign` with `score`, `dg_features`, `dg_at`, `dg_fp`).
"""

from __future__ import annotations

from collections import Counter

import duckdb

from ..policy import DEFAULT_POLICY_TOML, Action, Policy, parse_policy


def default_policy() -> Policy:
    """The shipped default policy (the one `serve` enforces without --policy)."""
    return parse_policy(DEFAULT_POLICY_TOML, "<default policy>")


def member_action(policy: Policy, confidence: float, score: float) -> Action:
    """The action the policy takes on a campaign member: the most severe rule it meets (allow if none)."""
    rules = [r for r in (policy.campaign_action(confidence, score), policy.account_action(score)) if r is not None]
    return max((r.action for r in rules), default=Action.ALLOW)


def campaign_responses(con: duckdb.DuckDBPyConnection, confidence: dict[str, float],
                       policy: Policy | None = None) -> dict[str, dict[str, object]]:
    """campaign id -> its `response` object (see the module docstring)."""
    if not confidence:
        return {}
    p = policy or default_policy()
    by_action: dict[str, Counter[str]] = {c: Counter() for c in confidence}
    exchanges: Counter[str] = Counter()
    accounts: Counter[str] = Counter()
    for cid, score, n in con.sql("SELECT a.campaign_id, a.score, f.exchanges FROM dg_assign a "
                                 "JOIN dg_features f USING (account_id) WHERE a.campaign_id <> ''").fetchall():
        act = member_action(p, confidence[cid], float(score))
        by_action[cid][act.label] += 1
        if act > Action.ALLOW:
            accounts[cid] += 1
            exchanges[cid] += int(n)
    legit_total = con.sql("SELECT coalesce(sum(f.exchanges), 0) FROM dg_features f JOIN dg_assign a "
                          "USING (account_id) WHERE NOT a.flagged").fetchall()[0][0]
    # (the accounts sending each template are counted for the templates enough campaign members send, and the
    # exchanges per account and template only where a learned template is met: not over every account and template)
    touched = {r[0]: r[1:] for r in con.execute(f"""
        WITH members AS (SELECT f.template_id, a.campaign_id, count(DISTINCT x.account_id) AS members
                         FROM dg_at x JOIN dg_fp f USING (text_hash) JOIN dg_assign a USING (account_id)
                         WHERE a.campaign_id <> '' GROUP BY ALL),
             candidates AS (SELECT DISTINCT template_id FROM members WHERE members >= {int(p.learn_min_accounts)}),
             senders AS (SELECT f.template_id, count(DISTINCT x.account_id) AS senders
                         FROM dg_at x JOIN dg_fp f USING (text_hash)
                         WHERE f.template_id IN (SELECT template_id FROM candidates) GROUP BY 1),
             learned AS (SELECT m.template_id, m.campaign_id FROM members m JOIN senders USING (template_id)
                         WHERE m.members >= {int(p.learn_min_accounts)} AND m.members >= ? * senders),
             hits AS (SELECT x.account_id, l.campaign_id, sum(x.n) AS n FROM dg_at x JOIN dg_fp f USING (text_hash)
                      JOIN learned l USING (template_id) GROUP BY ALL),
             total AS (SELECT account_id, sum(n) AS total FROM dg_at
                       WHERE account_id IN (SELECT account_id FROM hits) GROUP BY 1)
        SELECT h.campaign_id, count(*), sum(t.total) FROM hits h JOIN total t USING (account_id)
        JOIN dg_assign a USING (account_id)
        WHERE NOT a.flagged AND h.n >= {int(p.template_matches)} AND h.n >= ? * t.total GROUP BY 1""",
        [p.learn_min_share, p.template_share]).fetchall()} if p.learn_templates else {}
    out: dict[str, dict[str, object]] = {}
    for cid in confidence:
        acts = by_action[cid]
        worst = max((Action.parse(a, "response") for a in acts), default=Action.ALLOW)
        legit_accounts, legit_exchanges = touched.get(cid, (0, 0))
        out[cid] = {
            "policy": "default",
            "action": worst.label,
            "accounts_by_action": {a.label: acts[a.label] for a in sorted(Action, reverse=True) if acts[a.label]},
            "accounts_actioned": accounts[cid],
            "exchanges_actioned": exchanges[cid],
            "legit_accounts_touched": int(legit_accounts),
            "legit_exchanges_touched": int(legit_exchanges or 0),
            "legit_exchanges_share": round(int(legit_exchanges or 0) / legit_total, 6) if legit_total else 0.0,
        }
    return out
