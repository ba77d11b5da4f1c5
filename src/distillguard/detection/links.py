"""Links between accounts (DESIGN.md step 5): weighted edges with a kind, computed in SQL.

Never all pairs: every edge comes from a shared *key* (a template, a wrapper, an address, a payment
instrument, a signup cohort, a lockstep band). Inside a key with few accounts every pair is linked; a
key with many accounts links each account only to `ring` pseudo-random neighbours, which keeps the key's
accounts connected for community detection at O(accounts) edges instead of O(accounts²).

Weights
- content keys (templates, near-duplicate templates, wrappers, system prompts): the smaller of the two
  accounts' shares of traffic on the key, so a greeting sent once by thousands of casual users weighs
  almost nothing while a wrapper that carries most of two accounts' traffic weighs almost 1 — times the
  key's distinct texts per holder (at most 1): a wrapper carries payloads, a text many accounts send
  verbatim is popular content;
- operator keys (a payment instrument): never down-weighted nor dropped as popular — one card paying for
  2,000 accounts is one payer, and a discount would make a campaign weaker as it grows;
- instructions (a system prompt of `instructions_min_words` words or more) weigh like content keys;
- standing sentences (`shared-prompt-sentences`: the sentences of system prompts, or of the head of an account's
  every message, that recur recombined in others'): the smaller share, weighted by how much of each prompt is
  such sentences; a pair takes its strongest sentence, never dropped as popular;
- infrastructure / client / cohort / short system-prompt keys: down-weighted by the key's popularity
  (1 / (1 + ln n)), and dropped entirely above `popular_share` of all accounts (NAT, corporate egress,
  official clients);
- reused completions (`provenance`): one account's completions sent back verbatim by another, weighted by
  their number and by the share of each side's traffic they are;
- lockstep: SynchroTrap-style Jaccard over (time bucket, wrapper) tuples, estimated from per-account
  MinHash signatures, with candidate pairs from LSH bands over those signatures.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from . import account_ids, provenance
from .account_ids import NAMES

LINK_SCHEMA = pa.schema([("src", pa.string()), ("dst", pa.string()), ("kind", pa.string()),
                         ("weight", pa.float64())])


@dataclass(frozen=True)
class LinkConfig:
    """Knobs of the link stage."""

    full_pairs_max: int = 24        # keys with at most this many accounts link all their pairs
    ring: int = 4                   # otherwise each account links to this many neighbours on each side
    popular_share: float = 0.02     # infrastructure keys held by more than this share of accounts: ignored
    popular_min: int = 50           # ... but never ignore a key held by fewer accounts than this
    params_min_keys: int = 3        # a sampling-parameter set names at least this many parameters ...
    params_min_share: float = 0.5   # ... carries at least this share of the account's traffic ...
    params_popular_share: float = 0.05  # ... and is held by at most this share of all accounts
    min_key_share: float = 0.05     # an account's content key must carry at least this share of its traffic
    min_key_reuse: float = 1.5      # content keys: exchanges per holding account, at least
    min_phrase_reuse: float = 1.5   # ... and the same for repeated phrases
    # two accounts sharing payloads (`shared-payloads`) on less than this share of their traffic share a few
    # popular tasks by chance: no link (with its kind weight, 4, a twenty-fifth of the traffic makes an edge)
    payload_min_weight: float = 0.015
    constant_share: float = 0.5     # a sentence in this share of an account's messages is a standing one
    instructions_min_words: int = 16  # a system prompt this long is instructions (content), shorter a persona
    lockstep_bucket_s: int = 3600
    lockstep_hashes: int = 32
    lockstep_band_rows: int = 4
    lockstep_min_tuples: int = 8
    cohort_bucket_s: int = 6 * 3600
    phrase_min: int = 8             # accounts with fewer distinct repeated phrases get no phrase links
    phrase_band_rows: int = 2       # small bands: candidates down to Jaccard ≈ 0.1
    phrase_hashes: int = 64
    phrase_overlap: float = 20.0
    # ... and needs the phrases both accounts hold to carry this much of each one's traffic (phrase uses per
    # fingerprinted exchange): unrelated users share a few popular openers and closers now and then, an
    # operator's accounts wrap their traffic in its bank (0: no such requirement)
    phrase_mass: float = 0.5


# The account × text rows whose text is fingerprinted (`dg_at ⋈ dg_fp`), with `n_acc`: how many of the
# account's exchanges that is (the denominator of its content-key shares); and each account's uses of each
# recurring phrase (`dg_aph`: the phrase links and the standing sentences read it); and each account's
# fingerprinted exchanges under each system prompt (`dg_asys`: the three system-prompt kinds read it, so the
# exchanges are scanned once for them). Built by `build_links`.
KEY_TABLES = (
    ("dg_nacc", "SELECT a.account_id, sum(a.n) AS n_acc FROM dg_at a JOIN dg_fp f USING (text_hash) "
                "GROUP BY a.account_id"),
    ("dg_atf", "SELECT a.account_id, a.text_hash, a.n, c.n_acc, f.template_id, f.near_group, f.wrapper_id, "
               "f.pre_key, f.suf_key FROM dg_at a JOIN dg_fp f USING (text_hash) JOIN dg_nacc c USING (account_id)"),
    ("dg_aph", "SELECT account_id, phrase, sum(n) AS uses FROM dg_at JOIN dg_phrase USING (text_hash) "
               "GROUP BY account_id, phrase"),
    ("dg_asys", "SELECT x.account_id, x.sys_hash, x.sys_words, count(*) AS uses FROM dg_x x JOIN dg_fp USING "
                "(text_hash) WHERE x.sys_hash <> hash('') GROUP BY x.account_id, x.sys_hash, x.sys_words"),
)


def _reused(keys: str, min_reuse: float, once: bool = False) -> str:
    """The rows (account_id, key, share) of `keys` (which also gives `uses`: the account's exchanges on the key)
    whose holders use the key at least `min_reuse` times each on average (0: every row) — or, `once`, less."""
    if min_reuse <= 0:
        return f"SELECT account_id, key, share FROM ({keys})"
    return ("SELECT account_id, key, share FROM (SELECT *, sum(uses) OVER (PARTITION BY key) / count(*) OVER "
            f"(PARTITION BY key) AS reuse FROM ({keys})) WHERE reuse {'<' if once else '>='} {min_reuse}")


def _reuse_filter(min_reuse: float, once: bool = False) -> str:
    """`_reused`'s condition on a `reuse` column (`_keyed_rows`)."""
    return "TRUE" if min_reuse <= 0 else f"reuse {'<' if once else '>='} {min_reuse}"


def _keyed_rows(column: str) -> str:
    """The rows (account_id, key, share, reuse, texts) of `dg_kk_<column>` whose key is a value of the column in
    `dg_fp`: `reuse`, the key's exchanges per holding account, and `texts`, its distinct texts per holder.

    Every holder of a key passes `_reuse_filter` or none does, so the holders counted here are those of the
    filtered rows."""
    return ("SELECT u.account_id, u.key, u.share, u.reuse, t.texts / u.holders AS texts FROM (SELECT account_id, key, "
            "share, sum(uses) OVER (PARTITION BY key) / count(*) OVER (PARTITION BY key) AS reuse, "
            f"count(*) OVER (PARTITION BY key) AS holders FROM dg_kk_{column}) u JOIN (SELECT {column} AS key, "
            f"count(*)::DOUBLE AS texts FROM dg_fp GROUP BY {column}) t USING (key)")


# kind -> (SQL producing account_id, key, share; weighting family)
def _key_sources(cfg: LinkConfig) -> dict[str, tuple[str, str]]:
    def rows(column: str) -> str:
        return f"SELECT * FROM dg_kr_{column}" if column in _SHARED_COLUMNS else _keyed_rows(column)

    # a content key that its holders use about once each is a payload they sent (a benchmark question, a
    # homework problem), not a wrapper anyone reuses: accounts sending one public dataset's items once each are
    # not bound by them, however many items they share. A wrapper is reused, so even an account that sent it
    # once (a short-lived account of a farm) still holds it.
    # (`build_links` groups each key column's rows per account once, into `dg_kk_<column>`, before its kind's links)
    # A wrapper carries payloads: its holders send different texts through it. A text that many accounts send
    # verbatim (a well-known conversation, a tutorial's example, a task handed to several accounts) is popular
    # content as far as the key goes: `texts` is the key's distinct texts per holder, and a link's weight counts
    # only that far (one text sent by 300 accounts: 1/300). Whose content it is, other evidence says.
    # (the rows come with their key's reuse and `texts` from `_keyed_rows`, which `build_links` computes once for a
    # column that two kinds read: `dg_kr_<column>`)
    def keyed(once: bool) -> str:
        return "SELECT account_id, key, share, texts FROM ({rows}) WHERE " + _reuse_filter(cfg.min_key_reuse, once)
    content = keyed(once=False)
    # The payloads themselves: a text's end whatever wording precedes it, that its holders send about once each
    # (reused, the same end is a wrapper's: `content`), as far as they word it each their own way. An operator
    # drawing its tasks from one pool through accounts that each wrap them differently (a language, a tag style
    # of their own) shares no wrapper, but its accounts keep sending the same tasks: two of them share their
    # draws over the pool's size of their traffic, the same at 100 accounts or 100,000. Sent verbatim by many
    # (a benchmark item through one harness, a popular question pasted as is), a payload is everybody's
    # content: `texts` discounts it.
    payload = keyed(once=True)
    # system prompts (by length in words), as shares of the fingerprinted traffic
    system = ("SELECT a.account_id, a.sys_hash AS key, sum(a.uses)::DOUBLE / any_value(c.n_acc) AS share, "
              "sum(a.uses) AS uses FROM dg_asys a JOIN dg_nacc c USING (account_id) WHERE a.sys_words {words} "
              "GROUP BY a.account_id, a.sys_hash")
    # per-exchange keys, as a share of all the account's exchanges (`dg_features.exchanges`)
    per_exchange = ("SELECT u.account_id, u.key, u.n::DOUBLE / f.exchanges AS share FROM ("
                    "SELECT account_id, {key} AS key, count(*) AS n FROM dg_x WHERE {where} GROUP BY ALL) u "
                    "JOIN dg_features f USING (account_id)")
    return {
        "shared-template": (content.format(rows=rows("template_id")), "content"),
        "near-duplicate-template": (content.format(rows=rows("near_group")), "content"),
        "shared-wrapper": (content.format(rows=rows("wrapper_id")), "content"),
        # (a short text's start is its end: the key's texts are those of the start, whatever the plan reads first)
        "shared-prompt-ends": (
            "SELECT account_id, key, sum(share) / 2 AS share, "
            "coalesce(max(CASE WHEN half = 0 THEN texts END), max(texts)) AS texts FROM ("
            "SELECT *, 0 AS half FROM (" + content.format(rows=rows("pre_key")) + ") UNION ALL "
            "SELECT *, 1 AS half FROM (" + content.format(rows=rows("suf_key")) + ")) GROUP BY account_id, key",
            "content"),
        "shared-payloads": (payload.format(rows=rows("suf_key")), "payload"),
        # a short system prompt ("You are a helpful assistant.") is a client's default persona, sent by unrelated
        # customers: weighted and capped by popularity like infrastructure (shares of the fingerprinted traffic)
        "shared-system-prompt": (_reused(system.format(words=f"< {cfg.instructions_min_words}"), 0.0), "infra"),
        # longer instructions are written for one use — an operator's wrapper moved into the system prompt
        # ("reason inside <trace> tags, then FINAL:"), or one app's prompt — and bind like a wrapper: never
        # dropped as popular, however many accounts hold them. Whether the holders are a campaign or an app's
        # customers is for their behaviour to say (scoring), as for any content key.
        # (the payload is the user's text, not the system prompt: `texts` does not apply)
        "shared-instructions": ("SELECT *, 1.0 AS texts FROM (" + _reused(
            system.format(words=f">= {cfg.instructions_min_words}"), cfg.min_key_reuse) + ")", "content"),
        # the sentences of instructions composed from a bank (features.system_sentences_sql): a prompt no two
        # accounts share whole still binds them by the sentences it is built from, as far as the prompt is made
        # of sentences that recur in others (`pw`): a developer's own prompt around one generic line weighs little.
        # The same bank put at the head of each user message instead: `_constant_phrases`
        "shared-prompt-sentences": (
            _reused(
                "SELECT a.account_id, s.phrase AS key, sum(a.uses * s.pw) / any_value(c.n_acc) AS share, "
                "sum(a.uses) AS uses FROM dg_asys a JOIN dg_nacc c USING (account_id) "
                "JOIN dg_sysseg s USING (sys_hash) GROUP BY a.account_id, s.phrase", cfg.min_key_reuse)
            + " UNION ALL " + _constant_phrases(cfg), "sentence"),
        "shared-ip": (per_exchange.format(key="ip_h", where="ip_h IS NOT NULL"), "infra"),
        "client-fingerprint": (per_exchange.format(key="client_fp", where="ua_h IS NOT NULL"), "infra"),
        "shared-payment": ("SELECT account_id, hash(payment_fingerprint) AS key, 1.0 AS share FROM dg_acc "
                           "WHERE coalesce(payment_fingerprint, '') <> '' "
                           "AND account_id IN (SELECT account_id FROM dg_features)", "operator"),
        # the exact sampling configuration of a script (≥ `params_min_keys` parameters set away from their
        # defaults): one or two are common UI / SDK choices, a full tuple shared by many accounts is one client
        "shared-params": (
            f"SELECT * FROM ({per_exchange.format(key='params_key', where=f'params_set >= {cfg.params_min_keys}')}) "
            f"WHERE share >= {cfg.params_min_share}", "params"),
        "signup-cohort": (
            "SELECT account_id, hash(floor(epoch(created_at) / " + str(cfg.cohort_bucket_s) + "), "
            "coalesce(email_domain, ''), coalesce(country, '')) AS key, 1.0 AS share FROM dg_acc "
            "WHERE created_at IS NOT NULL AND account_id IN (SELECT account_id FROM dg_features)", "infra"),
    }


def _constant_phrases(cfg: LinkConfig) -> str:
    """(account_id, key, share) of the sentences an account puts in most of its messages (`dg_phrase`: the
    opening and closing sentences that recur in other texts; in at least `constant_share` of its fingerprinted
    traffic), when it has two or more such: its own standing instructions, written into the user message.
    The share is weighted, like a system prompt's sentences, by the share of the account's standing sentences
    that are also standing sentences of accounts whose set of them differs, or recurring sentences of system
    prompts (`dg_sysseg`; ASCII sentences hash alike in both) — a bank's, recombined account by account. One
    app's fixed preamble, the same set for all its users, recurs in no other set; a user's own
    signature line, in no other account's."""
    standing = ("SELECT p.account_id, p.phrase, p.uses::DOUBLE / c.n_acc AS share FROM dg_aph p JOIN dg_nacc c "
                f"USING (account_id) WHERE p.uses >= {cfg.constant_share} * c.n_acc AND c.n_acc >= 2")
    # a set's identity: the sum of its members' hashes (low 31 bits: both engines sum them alike)
    return f"""SELECT account_id, phrase AS key, share * pw AS share FROM (
  WITH c AS ({standing}),
  sets AS (SELECT account_id, sum(phrase & {_P}) AS set_h FROM c GROUP BY account_id HAVING count(*) >= 2),
  rec AS (SELECT phrase FROM c JOIN sets USING (account_id) GROUP BY phrase HAVING count(DISTINCT set_h) >= 2
          UNION SELECT phrase FROM dg_sysseg),
  cr AS (SELECT c.*, r.phrase IS NOT NULL AS recurs FROM c JOIN sets USING (account_id) LEFT JOIN rec r USING (phrase))
  SELECT *, avg(recurs::DOUBLE) OVER (PARTITION BY account_id) AS pw FROM cr) WHERE recurs"""


# sampling parameters and their API defaults: a parameter set to its default says nothing about the client
_SAMPLING = {"temperature": 1.0, "top_p": 1.0, "top_k": None, "max_tokens": None, "seed": None,
             "presence_penalty": 0.0, "frequency_penalty": 0.0, "repetition_penalty": 1.0, "min_p": 0.0,
             "stop": None}


def _param_sql(k: str, default: float | None) -> str:
    v = f"json_extract_string(params, '$.{k}')"
    return v if default is None else f"CASE WHEN TRY_CAST({v} AS DOUBLE) = {default} THEN NULL ELSE {v} END"


# columns of the slim table `dg_x` (features.slim_select, over `exchanges`): the hash of the non-default
# sampling parameters, and how many there are
PARAMS_KEY_SQL = "hash(" + ", ".join(_param_sql(k, d) for k, d in _SAMPLING.items()) + ")"
PARAMS_SET_SQL = " + ".join(f"({_param_sql(k, d)} IS NOT NULL)::INT" for k, d in _SAMPLING.items())

# Engine-neutral pseudo-randomness. DuckDB's `hash()` and Spark's differ, so nothing that decides *which*
# edges exist may depend on hash values: ring neighbours are ordered by the md5 of the account id salted
# with values both engines agree on, and MinHash uses universal hashing (a·x + b) mod p over integers
# that both engines compute bit for bit (64-bit arithmetic, never overflowing).
_P = 2147483647  # 2^31 - 1
# Link weights are sums, which a parallel aggregation adds in any order: the last bits differ from run to run
# (on ~80k of 680k links at qwen-2026 0.1), and community detection meets those differences (two runs of one
# store gave different campaigns). Rounded to this many decimals, a weight is the same number every run.
_DIGITS = 9
_RNG = random.Random(20260522)
_MINHASH_AB = [(_RNG.randrange(1, _P), _RNG.randrange(0, _P)) for _ in range(256)]


def _ranked_sql(source: str, salt: str, keep: str = "n_key >= 2", numbered: bool = False,
                per_key: bool = True) -> str:
    """CTEs `kc`, `kn`, `k0`, `k` over `source(account_id, key, …)`: the rows of keys passing `keep`, with
    `n_key` and a neutral pseudo-random rank `rn` — drawn afresh for each key, or (not `per_key`) one order of
    the accounts that every key's holders follow.

    Keys are counted first and only the kept ones ranked: most content and LSH band keys are held by one
    account, and sorting them by an md5 would be most of the work. The md5 reads account ids: with
    `numbered` accounts (distillguard.detection.account_ids) the kept rows look theirs up in `dg_names`.
    One order for all keys is the accounts sorted by the md5 of their id alone: each account's md5 is drawn
    once (CTE `ko`, its place `ord` in that order, equal md5s sharing one place) and a key's holders are ranked
    by `ord`, which orders them as their md5s would.
    """
    if not per_key:
        names = f"SELECT account_id, name FROM {NAMES} WHERE account_id IN (SELECT account_id FROM {source})" \
            if numbered else f"SELECT DISTINCT account_id, account_id AS name FROM {source}"
        return f"""kc AS (
  SELECT key, count(*) AS n_key FROM {source} GROUP BY key
),
kn AS (
  SELECT * FROM kc WHERE {keep}
),
ko AS (
  SELECT account_id, dense_rank() OVER (ORDER BY md5(name || '|{salt}|')) AS ord FROM ({names})
),
k0 AS (
  SELECT s.*, c.n_key, o.ord FROM {source} s JOIN kn c USING (key) JOIN ko o USING (account_id)
),
k AS (
  SELECT *, row_number() OVER (PARTITION BY key ORDER BY ord) - 1 AS rn FROM k0
)"""
    if numbered:
        lo_hi = f"l.name AS lo_name, h.name AS hi_name FROM kc JOIN {NAMES} l ON l.account_id = kc.lo " \
                f"JOIN {NAMES} h ON h.account_id = kc.hi"
        self_name = f"n.name AS self_name FROM {source} s JOIN kn c USING (key) " \
                    f"JOIN {NAMES} n ON n.account_id = s.account_id"
    else:
        lo_hi = "kc.lo AS lo_name, kc.hi AS hi_name FROM kc"
        self_name = f"s.account_id AS self_name FROM {source} s JOIN kn c USING (key)"
    return f"""kc AS (
  SELECT key, count(*) AS n_key, min(account_id) AS lo, max(account_id) AS hi FROM {source} GROUP BY key
),
kn AS (
  SELECT kc.*, {lo_hi} WHERE {keep}
),
k0 AS (
  SELECT s.*, c.n_key, c.lo, c.hi, c.lo_name, c.hi_name, {self_name}
),
k AS (
  SELECT *, row_number() OVER (PARTITION BY key ORDER BY
           md5(self_name || '|{salt}|' || lo_name || '|' || hi_name || '|' || CAST(n_key AS VARCHAR))) - 1 AS rn
  FROM k0
)"""


def _ring_sql(select: str, ring: int, full_pairs_max: int) -> str:
    """`select` over the pairs (a, b) of `k` where b is a's `1..ring`-th neighbour in a key of more than
    `full_pairs_max` accounts.

    One equi-join on (key, rank): each row of `a` comes once per offset with the rank of its neighbour at that
    offset, so `b` is hashed once. (A join with the offset as a third relation let DuckDB join on the key alone
    and filter the ranks afterwards, which grows with the square of the key's size: at scale 1, 0.4–0.5 billion
    joined rows per content kind, for 0.4–0.5 million pairs.)
    """
    offsets = " UNION ALL ".join(f"SELECT *, (rn + {off}) % n_key AS b_rn FROM k WHERE n_key > {full_pairs_max}"
                                 for off in range(1, ring + 1))
    return (f"SELECT {select} FROM ({offsets}) a JOIN (SELECT * FROM k WHERE n_key > {full_pairs_max}) b "
            "ON a.key = b.key AND b.rn = a.b_rn")


def _pairs_sql(keys_sql: str, family: str, kind: str, n_accounts: int, cfg: LinkConfig,
               numbered: bool = False) -> str:
    popular = max(cfg.popular_min, int(cfg.popular_share * n_accounts))
    if family == "params":
        popular = max(cfg.popular_min, int(cfg.params_popular_share * n_accounts))
    share_floor = cfg.min_key_share if family in ("content", "sentence") else 0.0
    # a payload's pair weight is a sum over many keys, each a sliver: in a key of many holders the ring must
    # pick the same neighbours key after key (one order of the accounts for all keys) for the sum to build up
    # as it does in small keys; a fresh order per key would spread it over random pairs, none reaching an edge
    # content and operator keys are never dropped as "popular": a wrapper or a payment instrument held by many
    # accounts is one operator's (a popular client's defaults arrive as infrastructure or system-prompt keys)
    keep = f"n_key >= 2 AND (n_key <= {popular} OR '{family}' IN ('content', 'sentence', 'operator', 'payload'))"
    # an operator key is not discounted by popularity either: one card paying for 1,000 accounts is one payer
    # as surely as one paying for 10, and a discount would make a farm's tie weaker as it grows
    # a payload is a sliver of each holder's traffic and never dropped as popular (`texts` discounts the ones
    # sent verbatim): the pair's weight is the sum over the payloads both send, from `payload_min_weight` on
    weight = {"content": "least(a.share, b.share) * least(1.0, a.texts)", "operator": "least(a.share, b.share)",
              "payload": "least(a.share, b.share) * least(1.0, a.texts)",
              "sentence": "least(a.share, b.share)"}.get(family, "least(a.share, b.share) / (1 + ln(a.n_key))")
    # the sentences two accounts' prompts share restate one fact (they draw on one bank): the strongest counts
    total = "max(w)" if family == "sentence" else "sum(w)"
    having = f"\nHAVING sum(w) >= {cfg.payload_min_weight}" if family == "payload" else ""
    return f"""
WITH u AS (SELECT * FROM ({keys_sql}) WHERE share >= {share_floor}),
{_ranked_sql("u", kind, keep, numbered, per_key=family != "payload")},
full_pairs AS (
  SELECT a.account_id AS src, b.account_id AS dst, {weight} AS w
  FROM k a JOIN k b ON a.key = b.key AND a.rn < b.rn
  WHERE a.n_key <= {cfg.full_pairs_max}
),
ring_pairs AS (
  {_ring_sql(f"a.account_id AS src, b.account_id AS dst, {weight} AS w", cfg.ring, cfg.full_pairs_max)}
)
SELECT least(src, dst) AS src, greatest(src, dst) AS dst, '{kind}' AS kind,
       round(least({total}, 1.0), {_DIGITS}) AS weight
FROM (SELECT * FROM full_pairs UNION ALL SELECT * FROM ring_pairs)
WHERE src <> dst
GROUP BY ALL{having}
"""


def _minhash_sql(kind: str, tuples_sql: str, min_tuples: int, band_rows: int, weight: str,
                 cfg: LinkConfig, h: int, numbered: bool = False, mass: bool = False) -> list[str]:
    """Statements adding `kind` links weighted by the Jaccard similarity of per-account sets.

    Sets of integers `t` in [0, 2^31) are summarised by `h` MinHash values (SQL `min((a_i·t + b_i) mod p)`),
    candidate pairs come
    from LSH bands of `lockstep_band_rows` values, and the weight is the share of equal MinHash values.
    With `mass`, the tuples also carry a `share` (of the account's traffic) and `weight` may read, counted
    exactly for each candidate pair, `n_shared` (the tuples both hold) and `sm` (the smaller of the two
    accounts' summed shares over them).
    """
    mins = ", ".join(f"min(({a} * t + {b}) % {_P}) AS m{i}" for i, (a, b) in enumerate(_MINHASH_AB[:h]))
    eq = " + ".join(f"(a.m{i} = b.m{i})::INT" for i in range(h))
    bands = []
    for b in range(h // band_rows):
        cols = ", ".join(f"m{b * band_rows + j}" for j in range(band_rows))
        bands.append(f"SELECT account_id, hash({b}, {cols}) AS key FROM dg_sig")
    if mass:
        # one row per (account, tuple): two phrases whose low bits agree are one tuple, their shares added. With
        # numbered accounts the pair (account, tuple) is one integer (t < 2^31), and the other account's tuples
        # are found by a one-column hash join: 4× less work than joining on the two columns
        tuples = f"SELECT account_id, t, sum(share) AS share FROM ({tuples_sql}) GROUP BY account_id, t"
        if numbered:
            tuples = f"SELECT *, account_id::BIGINT * {_P + 1} + t AS at FROM ({tuples})"
            other = f"y.at = p.dst::BIGINT * {_P + 1} + x.t"
        else:
            other = "y.account_id = p.dst AND y.t = x.t"
        shared = ("LEFT JOIN (SELECT p.src, p.dst, count(*) AS n_shared, least(sum(x.share), sum(y.share)) AS sm "
                  f"FROM dg_band p JOIN dg_tup x ON x.account_id = p.src JOIN dg_tup y ON {other} "
                  "GROUP BY p.src, p.dst) s ON s.src = p.src AND s.dst = p.dst")
        sm, n_shared = "coalesce(s.sm, 0.0)", "coalesce(s.n_shared, 0)"
    else:
        tuples, shared, sm, n_shared = tuples_sql, "", "0.0", "0"
    # the tuples are read twice with `mass` (signatures, then the exact overlaps): materialised once
    source = "dg_tup" if mass else f"({tuples})"
    return [
        *([f"CREATE OR REPLACE TEMP TABLE dg_tup AS {tuples}"] if mass else []),
        f"""CREATE OR REPLACE TEMP TABLE dg_sig AS
        SELECT account_id, count(*) AS n_tuples, {mins} FROM {source}
        GROUP BY account_id HAVING count(*) >= {min_tuples}""",
        f"""CREATE OR REPLACE TEMP TABLE dg_band AS
        WITH u AS ({' UNION ALL '.join(bands)}),
        {_ranked_sql("u", kind, numbered=numbered)}
        SELECT DISTINCT least(src, dst) AS src, greatest(src, dst) AS dst FROM (
          SELECT a.account_id AS src, b.account_id AS dst FROM k a JOIN k b ON a.key = b.key AND a.rn < b.rn
          WHERE a.n_key <= {cfg.full_pairs_max}
          UNION ALL {_ring_sql("a.account_id AS src, b.account_id AS dst", 2, cfg.full_pairs_max)})""",
        f"""INSERT INTO dg_links
        SELECT src, dst, '{kind}', round({weight}, {_DIGITS}) FROM (
          SELECT p.src, p.dst, ({eq})::DOUBLE / {h} AS j, a.n_tuples AS na, b.n_tuples AS nb, {sm} AS sm,
                 {n_shared} AS n_shared
          FROM dg_band p JOIN dg_sig a ON a.account_id = p.src JOIN dg_sig b ON b.account_id = p.dst {shared}
          WHERE p.src <> p.dst)""",
        "DROP TABLE IF EXISTS dg_tup",
        "DROP TABLE dg_sig",
        "DROP TABLE dg_band",
    ]


def _set_links(cfg: LinkConfig) -> dict[str, tuple[str, int, int, str, int, bool]]:
    """Set-similarity link kinds: (per-account tuples SQL, minimum set size, LSH band rows, weight SQL, hashes,
    whether the tuples carry their share of the account's traffic: `_minhash_sql`'s `mass`)."""
    # Two accounts are bound by the opening and closing phrases they share as far as there are enough of them
    # (`phrase_overlap` for full weight) and as far as they carry both accounts' traffic (`phrase_mass` phrase
    # uses per fingerprinted exchange of each): an operator wraps every request in sentences of its bank.
    # Unrelated users share popular openers and closers ("can you help me with", "thanks in advance"), the more
    # users the more such pairs and the more alike their sets, but those phrases are a sliver of what each sends.
    # A share, so a campaign's weight is the same at 20 accounts or 20,000. Not the sets' Jaccard: a heavy
    # account's set holds many phrases of its own, so an operator walking a dataset in a dozen languages, or an
    # agent's runs, share their bank at a Jaccard of .07 while unrelated heavy users reach .3
    phrase_w = f"least(1.0, n_shared / {cfg.phrase_overlap})"
    if cfg.phrase_mass > 0:
        phrase_w += f" * least(1.0, sm / {cfg.phrase_mass})"
    return {
        # SynchroTrap: the same wrapper family in the same time buckets
        # (bucket, group) -> one integer mod p (a polynomial hash both engines compute alike)
        "lockstep-timing": (f"SELECT DISTINCT account_id, ((floor(ts_s / {cfg.lockstep_bucket_s})::BIGINT % {_P}) "
                            f"* 1000003 + (coalesce(near_group, 0) % {_P} + {_P}) % {_P}) % {_P} AS t "
                            "FROM dg_x JOIN dg_fp USING (text_hash)", cfg.lockstep_min_tuples,
                            cfg.lockstep_band_rows, "j", cfg.lockstep_hashes, False),
        # the same bank of opening/closing phrases, however they are combined, with each phrase's share of the
        # account's fingerprinted traffic (`dg_nacc`)
        # a phrase's (DuckDB) hash has the same low 31 bits whether it reads as unsigned or signed 64-bit
        "shared-phrases": (f"SELECT account_id, phrase & {_P} AS t, uses::DOUBLE / n_acc AS share FROM ("
                           "SELECT *, sum(uses) OVER (PARTITION BY phrase) / count(*) OVER (PARTITION BY phrase) "
                           "AS reuse FROM dg_aph) JOIN dg_nacc USING (account_id) "
                           f"WHERE reuse >= {cfg.min_phrase_reuse}",
                           cfg.phrase_min, cfg.phrase_band_rows, phrase_w, cfg.phrase_hashes, True),
    }


# content kinds -> the columns of `dg_atf` they key on. `build_links` groups a column's rows per (account, key) once
# into `dg_kk_<column>` (`_content_keys`), so the reuse filter's window reads a table instead of planning the grouping
# twice (DuckDB turns the window into a self-join of its input), and keeps each kind's rows (`dg_ku_<n>`, after
# the reuse filter: a few per cent of them) for `key_usage`, which would otherwise compute them again
_CONTENT_COLUMNS = {"shared-template": ("template_id",), "near-duplicate-template": ("near_group",),
                    "shared-wrapper": ("wrapper_id",), "shared-prompt-ends": ("pre_key", "suf_key"),
                    "shared-payloads": ("suf_key",)}
# ... and a column that several kinds read (the text ends: reused, a wrapper's; sent about once each, payloads) gets its
# rows' reuse and `texts` computed once too (`_keyed_rows`, into `dg_kr_<column>`), which each kind then filters
_SHARED_COLUMNS = frozenset(c for c in {c for cs in _CONTENT_COLUMNS.values() for c in cs}
                            if sum(c in cs for cs in _CONTENT_COLUMNS.values()) > 1)


def _content_keys(column: str) -> str:
    """An account's exchanges on each value of the `dg_atf` column, and their share of its fingerprinted traffic."""
    return (f"SELECT account_id, {column} AS key, sum(n)::DOUBLE / any_value(n_acc) AS share, sum(n) AS uses "
            f"FROM dg_atf GROUP BY account_id, {column}")


def _usage_table(kind: str) -> str:
    return f"dg_ku_{list(_CONTENT_COLUMNS).index(kind)}"


def create_links_table(con: duckdb.DuckDBPyConnection) -> bool:
    """Create the empty `dg_links(src, dst, kind, weight)`, accounts as the detect tables key them; numbered?"""
    numbered = account_ids.numbered(con)
    account = "INTEGER" if numbered else "VARCHAR"
    con.execute(f"CREATE OR REPLACE TEMP TABLE dg_links (src {account}, dst {account}, kind VARCHAR, weight DOUBLE)")
    return numbered


def build_links(con: duckdb.DuckDBPyConnection, config: LinkConfig = LinkConfig()) -> pa.Table:
    """Compute `dg_links(src, dst, kind, weight)` (after features) and return it as an Arrow table."""
    n_accounts = con.sql("SELECT count(*) FROM dg_features").fetchall()[0][0]
    numbered = create_links_table(con)
    for name, sql in KEY_TABLES:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
    sources = _key_sources(config)
    # each column's grouped rows are built once and dropped after the last kind reading them
    last = {c: kind for kind in sources for c in _CONTENT_COLUMNS.get(kind, ())}
    built: set[str] = set()
    for kind, (sql, family) in sources.items():
        columns = _CONTENT_COLUMNS.get(kind, ())
        if columns:
            # a shared column's rows first: its grouped rows are dropped once reduced to `dg_kr_<column>`, so no
            # more than two column-sized tables are held at once
            for c in sorted(set(columns) - built, key=lambda c: c not in _SHARED_COLUMNS):
                con.execute(f"CREATE OR REPLACE TEMP TABLE dg_kk_{c} AS {_content_keys(c)}")
                if c in _SHARED_COLUMNS:
                    con.execute(f"CREATE OR REPLACE TEMP TABLE dg_kr_{c} AS {_keyed_rows(c)}")
                    con.execute(f"DROP TABLE dg_kk_{c}")
                built.add(c)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {_usage_table(kind)} AS {sql}")
            for c in columns:
                if last[c] == kind:
                    con.execute(f"DROP TABLE {'dg_kr' if c in _SHARED_COLUMNS else 'dg_kk'}_{c}")
            sql = f"SELECT * FROM {_usage_table(kind)}"
        con.execute(f"INSERT INTO dg_links {_pairs_sql(sql, family, kind, n_accounts, config, numbered)}")
    for kind, (tuples, min_tuples, rows, weight, h, mass) in _set_links(config).items():
        for stmt in _minhash_sql(kind, tuples, min_tuples, rows, weight, config, h, numbered, mass):
            con.execute(stmt)
    if provenance.present(con):  # completions one account received, sent back by another (`provenance.prepare`)
        con.execute(f"INSERT INTO dg_links {provenance.link_sql(digits=_DIGITS)}")
    con.execute("DELETE FROM dg_links WHERE weight <= 0")
    links = con.sql("SELECT * FROM dg_links ORDER BY src, dst, kind").to_arrow_table()
    return account_ids.to_names(con, links, ("src", "dst")).cast(LINK_SCHEMA)


def key_usage(con: duckdb.DuckDBPyConnection, kind: str, config: LinkConfig = LinkConfig()) -> pa.Table:
    """Rows (account_id, key, share) of one key kind — the bipartite graph used by dense-block detection.

    Runs after `build_links` (it reads the key tables that builds, and a content kind's rows it kept)."""
    sql = f"SELECT * FROM {_usage_table(kind)}" if kind in _CONTENT_COLUMNS else _key_sources(config)[kind][0]
    usage = con.sql(f"SELECT account_id, hash('{kind}', key) AS key, share FROM ({sql})").to_arrow_table()
    return account_ids.to_names(con, usage)
