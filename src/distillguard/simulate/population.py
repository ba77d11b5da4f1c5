"""Legitimate actors: the people and systems whose traffic must NOT be flagged.

casual chat users, developers, power users, batch integrations, benchmark runners, campus/corporate NAT
cohorts and enterprise teams. The last four are the hard negatives: high volume, fixed templates,
reasoning/coding prompts in bulk, shared IPs, shared payment and shared system prompts.
"""

from __future__ import annotations

import numpy as np

from . import identity as ident
from .accounts import DAY_US, AccountStyle, new_accounts
from .actor import API, CHAT, CODE, REASONING, Actor, DayCtx, history, turns_table
from .prompts import GENERIC_SYSTEM, batch_templates, benchmark_prompts, enterprise_system_prompts
from .timing import PROFILES, renewal_day, sessions
from .world import World

S = ident.style
HUMAN_PARAMS = S([6, 0, 0, .2, .2, .5, .3, 2, .3, 1, .2], [8, .2, .5, .5, .8], [8, 0, .1, .3, .5, 0, .3, .5, 0, .3,
                 .6, .2, .4, .1, .2, 0, .05, 0, 0], [3, 3, 1])
DEV_PARAMS = S([3, 1.5, .3, .8, .5, .8, .3, 2, .5, 1, .1], [6, .1, .4, .6, 1], [3, .1, .2, .6, 1, .2, .5, 1.4, .2,
               .5, 1.2, .4, 1.4, .3, .8, .1, .3, .05, .05], [2, 2, 1.5], seed=.05)
POWER_PARAMS = S([3, .5, .2, .5, .4, .8, .6, 2, .5, 1.2, .2], [6, .1, .4, .6, 1], [3, 0, 0, .2, .4, 0, .3, 1, .2,
                 .5, 1, .4, 1.2, .4, 1, .5, .6, .4, .4], [2, 2, 1.5], seed=.05)
BATCH_PARAMS = S([.2, 5, .5, .5, .2, 0, 0, 0, 0, 0, 0], [6, 0, 0, 0, 1], [0, 1, 2, 3, 2, .5, .4, .6, 0, .2, .2, 0,
                 .1, 0, 0, 0, 0, 0, 0], [.5, 0, 3], seed=.1)
BENCH_PARAMS = S([.3, 6, 0, .3, 0, 0, 0, .2, .2, .2, 0], [6, 0, 0, .2, .5], [.5, 0, 0, .5, 2, 0, .2, 1.5, 0, .3,
                 1, .2, .5, 0, 0, 0, 0, 0, 0], [.5, 0, 2], seed=.3)
HUMAN_UA = {"app": .45, "browser": .45, "sdk-python": .06, "framework": .04}
DEV_UA = {"sdk-python": .35, "sdk-node": .2, "async-python": .08, "framework": .15, "http-lib": .1,
          "browser": .12}


def _daily_active(rng: np.random.Generator, p: np.ndarray, created_us: np.ndarray, ctx: DayCtx) -> np.ndarray:
    """Accounts (positions) active today: alive, and drawing an active day with probability p."""
    alive = created_us < ctx.start_us + DAY_US
    weekend = ctx.weekday >= 5
    return np.flatnonzero(alive & (rng.random(len(p)) < p * (0.8 if weekend else 1.05)))


class Conversational(Actor):
    """Humans holding multi-turn conversations drawn from a pool (casual users, developers, power users)."""

    profile = "casual"
    sessions_per_day = 1.6
    single_share = 0.15  # sessions that are one-off single prompts from `single` instead of a conversation
    conv_id_share = 0.6  # accounts whose client sends a conversation id (app / web)

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, style: AccountStyle, **kw: object) -> None:
        super().__init__(world, serial)
        c = world.corpora
        self.setup_pools(c)
        new_share = 0.15  # some accounts sign up during the scenario
        created = None
        if days > 1:
            age = rng.uniform(style.age_days[0], style.age_days[1], n)
            created = (start_us - age * DAY_US).astype(np.int64)
            fresh = rng.random(n) < new_share
            created[fresh] = start_us + (rng.random(int(fresh.sum())) * days * DAY_US).astype(np.int64)
        self.block = new_accounts(world, rng, n, self.label, style, start_us, created_us=created, **kw)  # type: ignore[arg-type]
        mean_len = float(np.mean(self.conv_len)) * (1 - self.single_share) + self.single_share
        per_active = self.sessions_per_day * mean_len
        want = rate / per_active * rng.lognormal(0, .6, n) / np.exp(.18)
        # heavy users are active every day and hold more sessions rather than more days
        self.p_active = np.clip(want, 0.005, 0.9)
        self.intensity = rng.lognormal(0, .35, n) / np.exp(.06) * np.maximum(want / 0.9, 1.0)
        self.sends_conv = rng.random(n) < self.conv_id_share
        self.replies = world.pool("replies", c.replies)
        # some app users set custom instructions, which clients send as a system prompt
        custom = np.concatenate([world.pool("generic_system", GENERIC_SYSTEM),
                                 world.pool("role_prompts", c.role_prompts)[:200]])
        self.sys = np.where(rng.random(n) < .08, custom[rng.integers(0, len(custom), n)], -1)

    def setup_pools(self, c: object) -> None:
        """Register the actor's conversation and single-prompt pools."""
        w = self.world
        self.conv_off, self.conv_len, self.turns = turns_table(w, "chats", w.corpora.chats)
        self.single = w.pool("human_single", w.corpora.human_single)

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Sessions of today's active accounts, each a conversation or a one-off prompt."""
        b = self.block
        act = _daily_active(rng, self.p_active, b.created_us, ctx)
        if not len(act):
            return None
        n_sess = 1 + rng.poisson(np.maximum(self.sessions_per_day * self.intensity[act] - 1, 0))
        s_acc = np.repeat(act, n_sess)
        conv = rng.integers(0, len(self.conv_len), len(s_acc))
        single = rng.random(len(s_acc)) < self.single_share
        length = np.where(single, 1, self.conv_len[conv])
        # some leave a conversation early
        length = np.minimum(length, 1 + rng.geometric(0.25, len(s_acc)))
        acc_pos, secs, sess, turn = sessions(rng, np.arange(len(s_acc)), length, b.tz[s_acc],
                                             PROFILES[self.profile], 70.0, 0.9)
        local = s_acc[acc_pos]
        cstart = self.conv_off[conv[sess]]
        body = np.where(single[sess], self.single[rng.integers(0, len(self.single), len(sess))],
                        self.turns[cstart + turn])
        key = self.conv_numbers(ctx, sess)
        hist = history(self.world, self.replies, self.turns, cstart, np.where(single[sess], 0, turn), key)
        born = b.created_us[local] <= ctx.start_us + (secs * 1e6).astype(np.int64)
        sel = np.flatnonzero(born)
        conv_ids = np.where(self.sends_conv[local], key, -1)
        return self.emit(ctx, rng, local[sel], secs[sel], body[sel], kind=self.kind_of(rng, len(sel)),
                         sys=self.sys[local[sel]], hist=tuple(h[sel] for h in hist), conv=conv_ids[sel])

    def kind_of(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Completion-length kind per exchange."""
        return np.full(n, CHAT, dtype=np.int8)


class Casual(Conversational):
    """Casual chat users: ShareGPT conversations, evenings and weekends, a couple of sessions a day."""

    label = "legit:casual"

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, **kw: object) -> None:
        style = AccountStyle(ua=HUMAN_UA, params=HUMAN_PARAMS, tiers={"free": .75, "pay-as-you-go": .25})
        super().__init__(world, serial, rng, n, rate, start_us, days, style, **kw)


class Developer(Conversational):
    """Developers: multi-turn debugging conversations and code-generation requests in office hours."""

    label = "legit:developer"
    profile = "office"
    single_share = 0.4
    conv_id_share = 0.25
    sessions_per_day = 2.2
    models = {"nova-pro": .5, "nova-lite": .2, "nova-reason": .1, "nova-code": .2}

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, **kw: object) -> None:
        style = AccountStyle(ua=DEV_UA, params=DEV_PARAMS, ip_kinds={"residential": .6, "datacenter": .3,
                             "mobile": .1}, keys=(1, 4), params_per_account=(1, 3),
                             tiers={"free": .3, "pay-as-you-go": .7})
        super().__init__(world, serial, rng, n, rate, start_us, days, style, **kw)

        generic = world.pool("generic_system", GENERIC_SYSTEM)
        self.sys = np.where(rng.random(n) < .3, generic[rng.integers(0, len(generic), n)], -1)
        # agent builders: half their requests offer tools (function-calling prompts from Glaive/ToolBench)
        c = world.corpora
        agent_items = [(q, t) for q, t in c.glaive + c.toolbench if t]
        self.agent_body = world.pool("agent_prompts", [q for q, _ in agent_items])
        self.agent_tools = np.array([world.tool_list(t) for _, t in agent_items], np.int32)
        self.agent = rng.random(n) < .15
        self.agent_item = rng.integers(0, len(agent_items), n)

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Conversations, plus function-calling requests from agent builders."""
        out = super().day(ctx, rng)
        if out is None:
            return None
        local = out["acct"] - self.block.offset
        sel = np.flatnonzero(self.agent[local] & (rng.random(len(local)) < .5))
        # an agent under development replays a handful of test inputs with the same tool set
        item = (self.agent_item[local[sel]] + rng.integers(0, 4, len(sel))) % len(self.agent_body)
        out["body"][sel] = self.agent_body[item]
        out["tools"][sel] = self.agent_tools[item]
        for h in ("hu0", "ha0", "hu1", "ha1"):
            out[h][sel] = -1
        out["kind"][sel] = API
        return out

    def setup_pools(self, c: object) -> None:
        """Code conversations from ShareGPT; single prompts from GPTeacher codegen and coding questions."""
        w = self.world
        self.conv_off, self.conv_len, self.turns = turns_table(w, "code_chats", w.corpora.code_chats)
        self.single = np.concatenate([w.pool("codegen", w.corpora.codegen),
                                      w.pool("human_single", w.corpora.human_single)[:3000]])

    def kind_of(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Mostly code-length answers."""
        return np.where(rng.random(n) < .6, CODE, CHAT).astype(np.int8)


class PowerUser(Conversational):
    """Power users: many long sessions a day with a human rhythm, custom system prompts, varied tasks."""

    label = "legit:power-user"
    profile = "nightowl"
    single_share = 0.45
    sessions_per_day = 6.0
    models = {"nova-pro": .6, "nova-lite": .1, "nova-reason": .3}
    adopt_tau_h = 24 * 4.0
    adopt_share = 0.6

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, **kw: object) -> None:
        style = AccountStyle(ua={**HUMAN_UA, "sdk-python": .2, "framework": .1}, params=POWER_PARAMS,
                             tiers={"pay-as-you-go": .8, "free": .2}, verified=.9, age_days=(90, 1200))
        super().__init__(world, serial, rng, n, rate, start_us, days, style, **kw)
        roles = world.pool("role_prompts", world.corpora.role_prompts)
        has_sys = rng.random(n) < .4
        self.sys = np.where(has_sys, roles[rng.integers(0, len(roles), n)], -1)

    def setup_pools(self, c: object) -> None:
        """Conversations plus long-form prompts (awesome prompts, alpaca_eval, WizardLM, MT-Bench)."""
        w = self.world
        self.conv_off, self.conv_len, self.turns = turns_table(w, "chats", w.corpora.chats)
        self.single = np.concatenate([
            w.pool("power", w.corpora.power), w.pool("wizardlm", [t for _, t in w.corpora.wizardlm]),
            w.pool("mt_bench", [t for _, t in w.corpora.mt_bench]), w.pool("gsm8k_train", w.corpora.gsm8k_train)[:400]])

    def kind_of(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Longer answers, some from the reasoning model."""
        return np.where(rng.random(n) < .2, REASONING, CHAT).astype(np.int8)


class EnterpriseTeam(Conversational):
    """Enterprise teams: colleagues of one org sharing a payment method, an egress and a system prompt."""

    label = "legit:enterprise-team"
    profile = "office"
    single_share = 0.5
    sessions_per_day = 2.5
    conv_id_share = 0.5

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, teams: int = 1) -> None:
        teams = max(1, min(teams, n))
        team = np.sort(rng.integers(0, teams, n))
        team[:teams] = np.arange(teams)
        team = np.sort(team)
        orgs = world.new_numbers("org", teams)
        doms = ident.org_domains(rng, teams)
        pay = world.new_numbers("payment", teams)
        self.team = team
        style = AccountStyle(ua={"browser": .5, "app": .2, "sdk-python": .2, "framework": .1}, params=DEV_PARAMS,
                             tiers={"enterprise": 1}, verified=1, age_days=(20, 700), ips_per_account=(1, 3))
        # office egress: 1-3 addresses per org, shared by its members (plus home addresses)
        egress = [world.add_ips(ident.draw_ip_ints(rng, int(rng.integers(1, 4)), "datacenter")) for _ in range(teams)]
        super().__init__(world, serial, rng, n, rate, start_us, days, style, org=orgs[team],
                         org_domain=[doms[t] for t in team], payment=pay[team])
        b = self.block
        ip_lists = [np.concatenate([egress[t], b.ips[1][b.ips[0][i]:b.ips[0][i + 1]]]) for i, t in enumerate(team)]
        counts = np.array([len(x) for x in ip_lists])
        b.ips = (np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), np.concatenate(ip_lists))
        sysp = world.add_texts(enterprise_system_prompts(rng, doms))
        self.sys = sysp[team]

    def setup_pools(self, c: object) -> None:
        """Work conversations (code and general) and work prompts."""
        w = self.world
        self.conv_off, self.conv_len, self.turns = turns_table(w, "chats", w.corpora.chats)
        self.single = np.concatenate([w.pool("power", w.corpora.power), w.pool("codegen", w.corpora.codegen)[:1500],
                                      w.pool("human_single", w.corpora.human_single)[:4000]])


class NatCohort(Conversational):
    """Campus / corporate NAT cohorts: many unrelated people behind a handful of shared addresses."""

    label = "legit:nat-cohort"
    single_share = 0.3

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, cohorts: int = 1) -> None:
        cohorts = max(1, min(cohorts, n))
        pools = [world.add_ips(ident.draw_ip_ints(rng, int(rng.integers(2, 9)), "residential"))
                 for _ in range(cohorts)]
        cohort = np.sort(rng.integers(0, cohorts, n))
        edu = rng.random(cohorts) < .6
        doms = ident.org_domains(rng, cohorts)
        edoms = ident.org_domains(rng, cohorts, edu=True)
        style = AccountStyle(ua=HUMAN_UA, params=HUMAN_PARAMS, ips_per_account=(1, 3), age_days=(5, 800),
                             tiers={"free": .8, "pay-as-you-go": .2})
        # everybody in a cohort shares its egress pool; university/company mail for most of them
        own = rng.random(n) < .55
        free = ident.free_mail(rng, n)
        domain = [(edoms[k] if edu[k] else doms[k]) if own[i] else free[i] for i, k in enumerate(cohort)]
        self.cohort = cohort
        super().__init__(world, serial, rng, n, rate, start_us, days, style,
                         ip_pool=np.concatenate(pools), org_domain=domain)
        b = self.block
        lists = [pools[k][rng.integers(0, len(pools[k]), int(rng.integers(1, 3)))] for k in cohort]
        counts = np.array([len(x) for x in lists])
        b.ips = (np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), np.concatenate(lists))
        b.signup_ip = b.ips[1][b.ips[0][:-1]]


class BatchIntegration(Actor):
    """A company's back-end running one fixed narrow template around the clock (ServeGen client timing)."""

    label = "legit:batch-integration"
    models = {"nova-lite": .8, "nova-pro": .2}
    adopt_share = 0.05

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int, orgs: int = 1) -> None:
        super().__init__(world, serial)
        orgs = max(1, min(orgs, n))
        org = np.sort(np.concatenate([np.arange(orgs), rng.integers(0, orgs, n - orgs)]))
        onum = world.new_numbers("org", orgs)
        doms = ident.org_domains(rng, orgs)
        pay = world.new_numbers("payment", orgs)
        egress = [world.add_ips(ident.draw_ip_ints(rng, int(rng.integers(1, 4)), "datacenter")) for _ in range(orgs)]
        ua = world.ua_pick(rng, orgs, {"sdk-python": .4, "sdk-node": .2, "http-lib": .25, "framework": .15})
        style = AccountStyle(params=BATCH_PARAMS, params_per_account=(1, 1), keys=(2, 5), tiers={"enterprise": .6,
                             "pay-as-you-go": .4}, verified=1, age_days=(60, 900))
        self.block = new_accounts(world, rng, n, self.label, style, start_us, org=onum[org],
                                  org_domain=[doms[o] for o in org], payment=pay[org], ua=ua[org],
                                  ip_pool=np.concatenate(egress))
        b = self.block
        lists = [egress[o] for o in org]
        b.ips = (np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64), np.concatenate(lists))
        b.signup_ip = b.ips[1][b.ips[0][:-1]]
        pre, suf = batch_templates(rng, doms)
        self.pre = world.add_texts(pre)[org]
        self.suf = world.add_texts(suf)[org]
        self.records = world.pool("records", world.corpora.records)
        rec_share = rng.integers(0, len(self.records), orgs)
        self.rec_start = rec_share[org]
        curves = world.curves
        self.client = curves.pick(rng, n, 0.85)
        vol = rate * rng.lognormal(0, .7, n) / np.exp(.245)
        self.factor = vol / curves.daily_mean[self.client]
        self.phase = rng.integers(0, 2016, n)
        generic = world.pool("generic_system", GENERIC_SYSTEM)
        self.sys = np.where(rng.random(orgs) < .35, generic[rng.integers(0, len(generic), orgs)], -1)[org]

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """Today's requests: the org's template around one record each."""
        pos, secs = renewal_day(rng, self.world.curves, self.client, self.factor, ctx.day, self.phase)
        if not len(pos):
            return None
        born = self.block.created_us[pos] <= ctx.start_us
        pos, secs = pos[born], secs[born]
        rec = self.records[(self.rec_start[pos] + rng.integers(0, 4000, len(pos))) % len(self.records)]
        return self.emit(ctx, rng, pos, secs, rec, kind=API, pre=self.pre[pos], suf=self.suf[pos],
                         sys=self.sys[pos])


class BenchmarkRunner(Actor):
    """A researcher running GSM8K or HumanEval through the API once, in a short burst, else a light user."""

    label = "legit:benchmark-runner"
    models = {"nova-pro": .5, "nova-reason": .3, "nova-lite": .2}

    def __init__(self, world: World, serial: int, rng: np.random.Generator, n: int, rate: float, start_us: int,
                 days: int) -> None:
        super().__init__(world, serial)
        style = AccountStyle(ua={"sdk-python": .5, "async-python": .3, "framework": .2}, params=BENCH_PARAMS,
                             params_per_account=(1, 1), ip_kinds={"residential": .5, "datacenter": .5},
                             tiers={"pay-as-you-go": 1}, age_days=(10, 900))
        self.block = new_accounts(world, rng, n, self.label, style, start_us)
        c = world.corpora
        self.bench = rng.random(n) < .6  # True: GSM8K, else HumanEval
        gpre, gsuf, hpre, hsuf = benchmark_prompts(rng, c, n)
        self.gpre, self.gsuf = world.add_texts(gpre), world.add_texts(gsuf)
        self.hpre, self.hsuf = world.add_texts(hpre), world.add_texts(hsuf)
        self.gsm = world.pool("gsm8k_test", c.gsm8k_test)
        self.he = world.pool("humaneval", c.humaneval)
        self.run_day = rng.integers(0, max(days, 1), n)
        self.repeats = rng.integers(1, 4, n)
        self.light = world.pool("codegen", c.codegen)
        self.rate = rate

    def day(self, ctx: DayCtx, rng: np.random.Generator) -> dict[str, np.ndarray] | None:
        """The burst on the account's run day (items in benchmark order), light usage otherwise."""
        run = np.flatnonzero(self.run_day == ctx.day)
        parts = []
        for a in run.tolist():
            items = self.gsm if self.bench[a] else np.tile(self.he, int(self.repeats[a]))
            n = len(items)
            start = ((10 + rng.random() * 8 - self.block.tz[a]) % 24) * 3600
            conc = rng.uniform(1, 6)
            gaps = self.world.corpora.azure_conv[rng.integers(0, len(self.world.corpora.azure_conv), n), 2] * conc * 8
            run = np.cumsum(gaps)
            room = 86399.0 - start
            if run[-1] > room:  # a long run is squeezed into the rest of the day (more concurrency)
                run *= room / run[-1] * rng.uniform(0.9, 0.999)
            secs = start + run
            pre = self.gpre[a] if self.bench[a] else self.hpre[a]
            suf = self.gsuf[a] if self.bench[a] else self.hsuf[a]
            parts.append(self.emit(ctx, rng, np.full(n, a), secs, items, kind=REASONING if self.bench[a] else CODE,
                                   pre=pre, suf=suf))
        light = np.flatnonzero(rng.random(self.block.n) < .25)
        if len(light):
            k = rng.poisson(2, len(light)) + 1
            local = np.repeat(light, k)
            secs = ((11 + 6 * rng.random(len(local)) - self.block.tz[local]) % 24) * 3600
            parts.append(self.emit(ctx, rng, local, secs, self.light[rng.integers(0, len(self.light), len(local))],
                                   kind=CODE))
        if not parts:
            return None
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
