"""Each link kind on small hand-built logs: who gets linked, with what weight, and who must not."""

from __future__ import annotations

import random
import string
from datetime import timedelta

from distillguard.detection import features, links
from handbuilt import (
    T0,
    WORDS,
    _rec,
    banked_campaign,
    campaign,
    legit_users,
    pool_campaign,
    prepared_store,
    prompt_developers,
    scrub_network,
    task_pool,
)


def _links(tmp_path, records, accounts_csv: str | None = None, **cfg) -> dict[tuple[str, str, str], float]:
    with prepared_store(records, tmp_path, accounts_csv) as store:
        features.account_features(store.con)
        t = links.build_links(store.con, links.LinkConfig(**cfg))
    return {(r["src"], r["dst"], r["kind"]): r["weight"] for r in t.to_pylist()}


def _kinds(lk, a, b) -> set[str]:
    a, b = min(a, b), max(a, b)
    return {k for (s, d, k) in lk if (s, d) == (a, b)}


def test_campaign_wrappers_link_and_strangers_do_not(tmp_path) -> None:
    lk = _links(tmp_path, scrub_network(campaign(6) + legit_users(10)))
    assert {"shared-wrapper", "shared-prompt-ends"} <= _kinds(lk, "camp-000", "camp-005")
    assert not any(s.startswith("user") or d.startswith("user") for s, d, _ in lk)
    assert not any(k in ("shared-ip", "client-fingerprint") for *_, k in lk)  # network scrubbed


def test_greeting_shared_by_many_is_not_a_link(tmp_path) -> None:
    recs = legit_users(30, per_account=20)
    recs += [_rec(f"hi{u}", T0 + timedelta(hours=u), f"user-{u:03d}", "hi") for u in range(30)]
    lk = _links(tmp_path, recs)
    assert not [k for k in lk if k[2] in ("shared-template", "shared-wrapper", "shared-prompt-ends")]


def test_popular_ip_is_ignored_small_shared_ip_links(tmp_path) -> None:
    recs = legit_users(60, ip_pool=1)                        # 60 accounts behind one NAT address
    recs += [_rec(f"x{i}", T0 + timedelta(hours=i), f"pair-{i % 2}", f"note {chr(97 + i)} about lunch",
                  ip="192.0.2.77") for i in range(10)]
    lk = _links(tmp_path, recs, popular_min=20)
    assert "shared-ip" in _kinds(lk, "pair-0", "pair-1")
    assert not _kinds(lk, "user-000", "user-001") & {"shared-ip"}


def test_payment_and_signup_cohort(tmp_path) -> None:
    recs = [_rec(f"p{i}", T0 + timedelta(hours=i), f"acc-{i}", f"question {chr(97 + i)} on birds") for i in range(4)]
    acc = ("account_id,created_at,email_domain,payment_fingerprint,country\n"
           "acc-0,2026-04-01T10:00:00Z,mail.example,pay-1,US\nacc-1,2026-04-01T11:00:00Z,mail.example,pay-1,US\n"
           "acc-2,2026-04-01T10:30:00Z,mail.example,pay-2,US\nacc-3,2026-03-01T10:00:00Z,other.example,pay-3,FR\n")
    lk = _links(tmp_path, recs, acc)
    assert "shared-payment" in _kinds(lk, "acc-0", "acc-1")
    assert "signup-cohort" in _kinds(lk, "acc-0", "acc-2")
    assert not _kinds(lk, "acc-0", "acc-3")


def test_lockstep_timing(tmp_path) -> None:
    recs = []
    for a in range(3):
        for h in range(12):   # same hours, same wrapper: lockstep for 0 and 1; 2 runs a week later
            day = 7 if a == 2 else 0
            recs.append(_rec(f"l{a}-{h}", T0 + timedelta(days=day, hours=h, minutes=a), f"lock-{a}",
                             f"Translate into French, keeping the tone: sentence {h * 7 + a} of the batch"))
    lk = _links(tmp_path, recs, lockstep_min_tuples=5)
    assert lk.get(("lock-0", "lock-1", "lockstep-timing"), 0) > 0.9
    assert ("lock-0", "lock-2", "lockstep-timing") not in lk


def test_big_key_uses_ring_not_all_pairs(tmp_path) -> None:
    lk = _links(tmp_path, scrub_network(campaign(40, per_account=6)), full_pairs_max=10, ring=2)
    pairs = {(s, d) for s, d, k in lk if k == "shared-wrapper"}
    # O(accounts × keys): at most 2·ring neighbours per account on each of the 10 wrapper keys, and
    # distinct keys order their accounts independently, so far fewer than all 780 pairs
    assert 40 <= len(pairs) < 0.5 * 780


def test_instructions_in_the_system_prompt_bind_however_many_hold_them(tmp_path) -> None:
    """A wrapper moved into the system prompt binds a campaign at any size; a one-line default persona that
    many unrelated customers send is popular infrastructure and binds no one once popular."""
    trace = ("Before you answer, reason privately inside trace tags and explore every step of the problem, "
             "then write the final answer on its own line.")
    recs = []
    for a in range(60):   # 60 accounts > popular_min=20: a popularity cut would drop the key
        recs += [_rec(f"c{a}-{i}", T0 + timedelta(hours=i, minutes=a), f"camp-{a:03d}",
                      f"problem {a * 10 + i}: how many {WORDS[(a + i) % 7]} fit in a box of side {i + 2}?",
                      system=trace) for i in range(5)]
    for u in range(60):
        recs += [_rec(f"u{u}-{i}", T0 + timedelta(days=u % 9, hours=9 + i), f"user-{u:03d}",
                      f"{WORDS[(u + i) % 7]} question {u}-{i} about my garden", system="You are a helpful assistant.")
                 for i in range(5)]
    lk = _links(tmp_path, scrub_network(recs), popular_min=20)
    camp = {(s, d) for s, d, k in lk if k == "shared-instructions"}
    assert camp and all(s.startswith("camp") and d.startswith("camp") for s, d in camp)
    # every campaign account is reached (ring neighbours), so the key keeps the whole campaign connected
    assert {x for p in camp for x in p} == {f"camp-{a:03d}" for a in range(60)}
    assert not any(s.startswith("user") for s, d, k in lk if k in ("shared-system-prompt", "shared-instructions"))


def test_payment_cards_number_each_accounts_instrument(tmp_path) -> None:
    recs = [_rec(f"p{i}", T0 + timedelta(hours=i), f"acc-{i}", f"question {chr(97 + i)} on birds") for i in range(4)]
    acc = ("account_id,created_at,email_domain,payment_fingerprint,country\n"
           "acc-0,2026-04-01T10:00:00Z,mail.example,pay-1,US\nacc-1,2026-04-01T11:00:00Z,mail.example,pay-2,US\n"
           "acc-2,2026-04-01T10:30:00Z,mail.example,pay-1,US\nacc-3,2026-03-01T10:00:00Z,other.example,,FR\n")
    with prepared_store(recs, tmp_path, acc) as store:
        cards = features.payment_cards(store.con, ["acc-0", "acc-2", "acc-1", "acc-3", "nobody"]).tolist()
    assert cards[0] == cards[1] >= 0 and cards[2] >= 0 and cards[2] != cards[0] and cards[3:] == [-1, -1]


def _gibberish(rng: random.Random, words: int) -> str:
    """A sentence nobody else sends (letters only: phrases ignore digits)."""
    return " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randrange(4, 9)))
                    for _ in range(words))


def test_phrases_bind_an_operators_bank_not_popular_openers(tmp_path) -> None:
    """Shared phrases are a link when they carry the two accounts' traffic: an operator wraps every request in
    sentences from its bank. Unrelated users who each open a tenth of their requests with the same popular
    sentences hold a similar set of reused phrases (a high Jaccard), but it is a sliver of what they send."""
    rng = random.Random(7)
    opener = [f"please {w} carefully and completely before anything else" for w in WORDS[:12]]
    closer = [f"finish with the {w} summary section at the very end" for w in WORDS[12:24]]
    popular = [f"can you help me understand this {w} thing here" for w in WORDS[30:40]]
    recs = []
    for a in range(12):       # the operator: every request is opener + its own payload + closer
        for i in range(30):
            recs.append(_rec(f"c{a}-{i}", T0 + timedelta(hours=i, minutes=a), f"camp-{a:03d}",
                             f"{rng.choice(opener)}. {_gibberish(rng, 8)}. {rng.choice(closer)}."))
    for u in range(12):       # users: one request in ten opens with two popular sentences, the rest their own
        for i in range(60):
            head = f"{rng.choice(popular)}. {rng.choice(popular)}. " if i % 10 == 0 else ""
            recs.append(_rec(f"u{u}-{i}", T0 + timedelta(days=u, hours=i % 12, minutes=i), f"user-{u:03d}",
                             f"{head}{_gibberish(rng, 6)}. {_gibberish(rng, 7)}."))
    lk = _links(tmp_path, scrub_network(recs), phrase_min=4)
    camp = [w for (s, d, k), w in lk.items() if k == "shared-phrases" and s.startswith("camp")]
    users = [w for (s, d, k), w in lk.items() if k == "shared-phrases" and s.startswith("user")]
    assert len(camp) >= 30 and min(camp) > 0.6, sorted(camp)[:5]
    # below the pair graph's edge floor (0.15) at the kind's weight (0.8), however alike the users' sets
    assert users and max(users) < 0.15 / 0.8, sorted(users)[-5:]
    # without the traffic requirement the same users are linked as if they were one operator's
    (tmp_path / "plain").mkdir()
    assert max(w for (s, d, k), w in _links(tmp_path / "plain", scrub_network(recs), phrase_min=4,
                                            phrase_mass=0.0).items()
               if k == "shared-phrases" and s.startswith("user")) > 0.15 / 0.8


def test_one_card_binds_as_tightly_at_any_size(tmp_path) -> None:
    """A payment instrument paying for 120 accounts is one payer as surely as one paying for 4: its links do
    not weaken as the farm grows."""
    recs, rows = [], ["account_id,created_at,email_domain,payment_fingerprint,country"]
    for a in range(124):
        acc = f"acc-{a:03d}"
        recs.append(_rec(f"p{a}", T0 + timedelta(hours=a), acc, f"{_gibberish(random.Random(a), 5)}?"))
        rows.append(f"{acc},2026-0{1 + a % 4}-0{1 + a % 7}T10:00:00Z,,{'small' if a < 4 else 'big'},")
    lk = _links(tmp_path, recs, "\n".join(rows) + "\n")
    small = [w for (s, d, k), w in lk.items() if k == "shared-payment" and s < "acc-004" and d < "acc-004"]
    big = [w for (s, d, k), w in lk.items() if k == "shared-payment" and s >= "acc-004"]
    assert len(small) == 6 and big and set(small) == set(big) == {1.0}, (small, sorted(set(big)))


def test_a_text_many_send_verbatim_is_popular_content_not_a_wrapper(tmp_path) -> None:
    """Forty unrelated users each send the same well-known request verbatim (a third of their traffic); forty
    accounts of an operator each send its wrapper around a new payload (also a third). Same shares, same number
    of holders: only the wrapper, through which its holders send different texts, binds them."""
    rng = random.Random(11)
    famous = "explain like i am five how a rainbow forms and why the sky looks blue at noon"
    recs = []
    for a in range(40):
        for i in range(12):
            ts = T0 + timedelta(days=a % 9, hours=i, minutes=a)
            own = f"{_gibberish(rng, 6)}. {_gibberish(rng, 5)}?"
            recs.append(_rec(f"u{a}-{i}", ts, f"user-{a:03d}", famous if i % 3 == 0 else own))
            wrapped = f"Solve the following task and show every step. {_gibberish(rng, 7)}. Reply in JSON only."
            recs.append(_rec(f"c{a}-{i}", ts, f"camp-{a:03d}", wrapped if i % 3 == 0 else own + " ok"))
    lk = _links(tmp_path, scrub_network(recs))
    content = {"shared-template", "near-duplicate-template", "shared-wrapper", "shared-prompt-ends"}
    wrapper = [w for (s, d, k), w in lk.items() if k == "shared-wrapper" and s.startswith("camp")]
    users = [w for (s, d, k), w in lk.items() if k in content and "user" in s + d]
    assert len(wrapper) >= 40 and min(wrapper) > 0.3, sorted(wrapper)[:5]
    # the users are still linked (two flagged groups sending the same texts are one operation), but by 1/40
    # of their share: far below the pair graph's edge floor (0.15)
    assert users and max(users) < 0.01, sorted(users)[-5:]


def test_link_weights_are_the_same_number_every_run(tmp_path) -> None:
    """A weight is a sum that a parallel aggregation adds in any order; community detection must not meet the
    last bits (two runs of one store gave different campaigns), so weights come rounded to 9 decimals."""
    lk = _links(tmp_path, campaign(30) + legit_users(20))
    assert lk and all(w == round(w, 9) for w in lk.values())
    assert any(w != round(w, 6) for w in lk.values())   # ... still finer than any threshold reads them


def test_a_task_pool_drawn_through_each_accounts_own_wording_binds_in_keys_of_any_size(tmp_path) -> None:
    # 30 accounts draw 24 of 60 tasks each, every account wording its request its own way: each task is held by
    # ~12 accounts, sent once by each. With full pairs only up to 2 holders, every key is linked as a ring of
    # one neighbour a side; the ring follows one order of the accounts for all keys, so a pair's payloads add
    # up as they do when every pair is linked (~24/60 of the traffic), instead of scattering over random pairs
    recs = pool_campaign(30, task_pool(60)) + legit_users(20)
    lk = _links(tmp_path, recs, full_pairs_max=2, ring=1)
    payload = {(s, d): w for (s, d, k), w in lk.items() if k == "shared-payloads"}
    pool = [f"pool-{a:03d}" for a in range(30)]
    best = {a: max((w for (s, d), w in payload.items() if a in (s, d)), default=0.0) for a in pool}
    assert min(best.values()) >= 0.2, best
    assert not any(s.startswith("user") or d.startswith("user") for s, d in payload)
    # most pairs share no wording at all (five sentence shapes among 30 accounts): the tasks alone bind them
    worded = {(s, d) for (s, d, k) in lk if k in ("shared-wrapper", "shared-template", "near-duplicate-template",
                                                   "shared-prompt-ends", "shared-phrases")}
    assert len(set(payload) - worded) > len(payload) / 2


def test_system_prompts_composed_from_one_bank_bind_the_accounts_a_shared_generic_line_does_not(tmp_path) -> None:
    # 40 accounts walk disjoint slices of one dataset, each under its own combination of a role, a demand and a
    # closing line (5 × 4 × 3 sentences), in the system prompt or (a third of them) at the head of every user
    # message: no task, wrapper or network in common, few whole prompts shared.
    # 20 developers' prompts share one generic line beside sentences of their own product and rules
    recs = banked_campaign(40, task_pool(800)) + prompt_developers(20)
    lk = _links(tmp_path, recs)
    sentences = {(s, d): w for (s, d, k), w in lk.items() if k == "shared-prompt-sentences"}
    bank = [f"bank-{a:03d}" for a in range(40)]
    best = {a: max((w for (s, d), w in sentences.items() if a in (s, d)), default=0.0) for a in bank}
    assert min(best.values()) >= 0.9, best
    # a prompt made of the bank's sentences binds fully; a developer's, one line in three recurring, a third
    dev = [w for (s, d), w in sentences.items() if s.startswith("dev") or d.startswith("dev")]
    assert dev and max(dev) < 0.4
    assert not any(s.startswith("dev") != d.startswith("dev") for s, d in sentences)
    whole = {(s, d) for (s, d, k) in lk if k == "shared-instructions"}
    assert len(set(sentences) - whole) > 0.8 * len(sentences)


def test_one_order_of_the_accounts_for_all_keys_is_their_md5_order(tmp_path) -> None:
    # payload keys rank their holders in one order of the accounts (links._ranked_sql, not per key): the md5 of
    # the account's id and the kind, drawn once per account, must order every key's holders as the md5 of each
    # row would, with account ids or with account numbers looked up in dg_names
    import hashlib

    import duckdb

    rng = random.Random(5)
    names = [f"acct-{rng.randrange(10**9):09d}" for _ in range(60)]
    rows = {(rng.choice(names), k) for k in range(40) for _ in range(rng.randrange(1, 30))}
    con = duckdb.connect()
    con.execute("CREATE TABLE dg_names AS SELECT (row_number() OVER (ORDER BY name) - 1)::INTEGER AS account_id, "
                "name FROM (SELECT DISTINCT unnest(?::VARCHAR[]) AS name)", [names])
    con.execute("CREATE TABLE u_names (account_id VARCHAR, key INTEGER)")
    con.executemany("INSERT INTO u_names VALUES (?, ?)", sorted(rows))
    con.execute("CREATE TABLE u_numbers AS SELECT n.account_id, u.key FROM u_names u JOIN dg_names n "
                "ON n.name = u.account_id")
    expected: dict[tuple[str, int], int] = {}
    for key in {k for _, k in rows}:
        holders = sorted((a for a, k in rows if k == key), key=lambda a: hashlib.md5(f"{a}|pay|".encode()).hexdigest())
        if len(holders) >= 2:
            expected.update({(a, key): rn for rn, a in enumerate(holders)})
    assert len(expected) > 200
    for source, numbered in (("u_names", False), ("u_numbers", True)):
        name = "(SELECT name FROM dg_names n WHERE n.account_id = k.account_id)" if numbered else "k.account_id"
        got = con.sql(f"WITH {links._ranked_sql(source, 'pay', numbered=numbered, per_key=False)} "
                      f"SELECT {name}, k.key, k.rn FROM k").fetchall()
        assert {(a, key): rn for a, key, rn in got} == expected


def test_text_ends_split_by_reuse_into_prompt_ends_and_payloads() -> None:
    # The text ends' rows (dg_kk_suf_key) get their key's reuse and distinct texts per holder once (dg_kr_suf_key);
    # the reused ones are prompt ends (with the text starts), the rest payloads: the same rows as filtering by
    # reuse first and counting the holders left, as each kind once did on its own. A key that is a short text's
    # start and its end takes the start's texts.
    import duckdb

    rng = random.Random(7)
    con = duckdb.connect()
    con.execute("CREATE TABLE dg_fp (pre_key UBIGINT, suf_key UBIGINT)")
    con.executemany("INSERT INTO dg_fp VALUES (?, ?)",
                    [(rng.choice([None, *range(30)]), rng.choice([None, *range(20, 50)])) for _ in range(400)])
    for column, keys in (("pre_key", [None, *range(30)]), ("suf_key", [None, *range(20, 50)])):
        con.execute(f"CREATE TABLE dg_kk_{column} (account_id INTEGER, key UBIGINT, share DOUBLE, uses HUGEINT)")
        rows = {(rng.randrange(40), rng.choice(keys)): rng.choice([1, 1, 1, 2, 3]) for _ in range(500)}
        con.executemany(f"INSERT INTO dg_kk_{column} VALUES (?, ?, ?, ?)",
                        [(a, k, u / 10, u) for (a, k), u in rows.items()])
    con.execute(f"CREATE TABLE dg_kr_suf_key AS {links._keyed_rows('suf_key')}")
    cfg = links.LinkConfig()
    sources = links._key_sources(cfg)

    def reference(column: str, test: str) -> str:
        return ("SELECT u.*, t.texts / count(*) OVER (PARTITION BY u.key) AS texts FROM (SELECT account_id, key, "
                "share FROM (SELECT *, sum(uses) OVER (PARTITION BY key) / count(*) OVER (PARTITION BY key) AS reuse "
                f"FROM dg_kk_{column}) WHERE reuse {test} {cfg.min_key_reuse}) u JOIN (SELECT {column} AS key, "
                f"count(*)::DOUBLE AS texts FROM dg_fp GROUP BY {column}) t USING (key)")

    def rows_of(sql: str) -> list[tuple]:
        return sorted(con.sql(sql).fetchall())

    payloads = rows_of(sources["shared-payloads"][0])
    assert payloads == rows_of(reference("suf_key", "<")) and len(payloads) > 50
    ends = rows_of(sources["shared-prompt-ends"][0])
    pre, suf = (dict(((a, k), (s, t)) for a, k, s, t in rows_of(reference(c, ">="))) for c in ("pre_key", "suf_key"))
    both = pre.keys() & suf.keys()
    assert both and any(pre[x][1] != suf[x][1] for x in both)
    assert ends == sorted((a, k, (pre.get((a, k), (0.0,))[0] + suf.get((a, k), (0.0,))[0]) / 2,
                           (pre.get((a, k)) or suf[(a, k)])[1]) for a, k in pre.keys() | suf.keys())
