"""Round-13 campaign families, written from the threat description alone (issue 20, public 2026 disclosures).

Each family is one operator: `fn(log, pools, r, n_accounts, campaign_id)`. Wording is this round's own,
composed per account (and partly per request) so that no two accounts of a campaign share one fixed frame.

- shard: one dataset cut into disjoint slices, hundreds of low-volume accounts, per-account wrapper/language.
- rubric: reward-model harvesting, candidate answers scored, compared, ranked or rated under a rubric.
- tracetags: system prompts in many languages demanding the full reasoning inside tags.
- bootstrap: self-instruct; a few accounts ask for new tasks, other accounts later send those tasks back.
- agentcode: agentic coding sessions, tool results (file reads, failing tests, diffs) fed back over turns.
- turncoat: aged accounts with weeks of ordinary chat that switch to extraction half-way.
- proxymix: a proxy reseller's accounts carrying real end-user chat with ~20-40 % extraction mixed in.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from probekit.corpora import Item
from probekit.pools13 import Pools13, filler
from probekit.world import (
    END,
    STRONG,
    T0,
    Acct,
    Log,
    active_days,
    cloud_block,
    day_start,
    flat_times,
    hexid,
    human_session_starts,
    in_block,
    ip_residential,
    think,
    ua_browser,
    ua_sdk,
)

# -- shared helpers -----------------------------------------------------------------------------------------


def _filler(r: random.Random, p: Pools13, n: int) -> str:
    return filler(r, p, n, 40)


def _lines(text: str) -> list[str]:
    parts = [x.strip() for x in re.split(r"\n+|(?<=[.!?])\s+(?=[A-Z0-9])", text) if x.strip()]
    return parts or [text.strip()]


def _worked(r: random.Random, item: Item, p: Pools13) -> tuple[str, str]:
    """(reasoning, final answer) built from the item's reference answer."""
    ans = item.answer or _filler(r, p, r.randint(400, 1400))
    ls = _lines(ans)
    final = ls[-1] if len(ls) > 1 else ans[:200]
    body = ls[:-1] if len(ls) > 1 else ls
    style = r.random()
    if style < 0.4:
        steps = "\n".join(f"{i + 1}. {x}" for i, x in enumerate(body))
    elif style < 0.7:
        steps = "\n".join(f"- {x}" for x in body)
    else:
        steps = " ".join(body)
    return steps, final


def _strong(r: random.Random) -> str:
    return r.choice(STRONG)


def _recent(r: random.Random, lo: float = 1, hi: float = 40) -> datetime:
    return T0 - timedelta(days=r.uniform(lo, hi))


# Which part of the shared corpora each operator works through (public datasets, so different operators in
# reality overlap; here each family keeps mostly to its own share so that a campaign is found on its own merits).
def _cg(p: Pools13, lo: int, hi: int | None) -> list[Item]:
    return p.c.codegen[lo:hi]


# -- shard: one dataset, disjoint slices --------------------------------------------------------------------

ROLE = {
    "en": ["You are a meticulous assistant for quantitative and programming questions.",
           "Act as an expert tutor who never skips a step.", "You're a senior engineer and a patient teacher.",
           "You help a student prepare for olympiad-style problems.", "You are a precise technical writer.",
           "Be a friendly but rigorous homework helper.", "You are an analyst who documents every calculation.",
           "Assume the role of a teaching assistant grading model answers."],
    "es": ["Eres un asistente riguroso para problemas de matemáticas y programación.",
           "Actúa como un profesor particular paciente y detallista."],
    "de": ["Du bist ein gründlicher Assistent für Rechen- und Programmieraufgaben.",
           "Du arbeitest als geduldiger Nachhilfelehrer."],
    "pt": ["Você é um assistente cuidadoso para questões de matemática e programação.",
           "Aja como um monitor de curso que explica tudo."],
    "fr": ["Tu es un assistant méticuleux pour les exercices de calcul et de code.",
           "Joue le rôle d'un répétiteur exigeant et bienveillant."],
}
DEMAND = {
    "en": ["Lay out the full derivation before the result.", "Explain how you get from each line to the next.",
           "Write the complete solution path, including checks.", "Think it through in writing, then conclude.",
           "Show the working in full; brevity is not wanted here.", "Give the method, the steps, and the result.",
           "Every number you use should be justified.", "Document the approach as if for a solutions manual."],
    "es": ["Muestra todo el desarrollo antes del resultado.", "Justifica cada paso del procedimiento."],
    "de": ["Schreibe den vollständigen Lösungsweg auf.", "Begründe jeden Zwischenschritt."],
    "pt": ["Mostre toda a resolução antes do resultado.", "Justifique cada etapa."],
    "fr": ["Rédige la démarche complète avant le résultat.", "Justifie chaque étape du calcul."],
}
CLOSE = {
    "en": ["End with 'Final:' followed by the answer.", "Put the answer alone on the last line.",
           "Finish with the answer in bold.", "Close with a one-sentence summary.", ""],
    "es": ["Termina con 'Respuesta:' y el resultado.", ""],
    "de": ["Schließe mit 'Ergebnis:' ab.", ""],
    "pt": ["Termine com 'Resposta final:'.", ""],
    "fr": ["Termine par « Réponse : » et le résultat.", ""],
}
SHARD_LEAD = {"en": ["", "", "Q:", "Task", "Next one:", "Problem:", "#"], "es": ["", "Problema:", "Ejercicio"],
              "de": ["", "Aufgabe:", "Nächste:"], "pt": ["", "Questão:", "Exercício"], "fr": ["", "Exercice :"]}


def shard(log: Log, p: Pools13, r: random.Random, n: int, cid: str) -> None:
    """Hundreds of accounts each walking its own disjoint slice of one shuffled dataset, a few a day."""
    items = list(p.c.gsm_train)
    r.shuffle(items)
    langs = r.choices(["en", "es", "de", "pt", "fr"], weights=[10, 2, 1, 1, 1], k=n)
    per = max(12, min(70, len(items) // max(1, n)))
    for i in range(n):
        lang = langs[i]
        a = log.account(r, "campaign:shard", cid, created=_recent(r, 3, 120), ip_mode="per-day",
                        email=r.choice(["gmail.com", "outlook.com", "proton.me", "yahoo.com", "gmx.de", "mail.ru"]),
                        model=_strong(r))
        if r.random() < 0.5:
            a.ua = ua_sdk(r)
        sl = items[i * per:(i + 1) * per] if (i + 1) * per <= len(items) else r.sample(items, per)
        sys_p = " ".join(x for x in (r.choice(ROLE[lang]), r.choice(DEMAND[lang]), r.choice(CLOSE[lang])) if x)
        as_system = r.random() < 0.6
        lead = r.choice(SHARD_LEAD[lang])
        temp = r.choice([0, 0.2, 0.3, 0.7, 1.0])
        mt = r.choice([None, 1024, 1500, 2048, 4096])
        first = r.randrange(0, 6)
        days = active_days(r, first, min(14, first + r.randint(6, 12)), p=r.uniform(0.55, 0.9))
        starts = human_session_starts(r, a, days, r.uniform(1.5, 3.0))
        k = 0
        for t in starts:
            for _ in range(r.randint(1, 4)):
                if k >= len(sl):
                    break
                it = sl[k]
                k += 1
                body = f"{lead} {it.text}".strip() if lead else it.text
                msgs = ([{"role": "system", "content": sys_p}, {"role": "user", "content": body}] if as_system
                        else [{"role": "user", "content": f"{sys_p}\n\n{body}"}])
                steps, final = _worked(r, it, p)
                params = {"temperature": temp} | ({"max_tokens": mt} if mt else {})
                log.add(r, a, t, msgs, completion=f"{steps}\n\n{final}", params=params)
                t += think(r, 20, 90)


# -- rubric: reward-model harvesting -------------------------------------------------------------------------

CRIT = ["helpfulness", "factual accuracy", "completeness", "clarity", "harmlessness", "instruction following",
        "conciseness", "reasoning quality", "tone", "correctness of the final answer", "relevance", "depth"]
FMT_JSON = ["Score each candidate from 1 to 10 on {crit}. Reply only with JSON of the form "
            '{{"scores": [..], "rationale": ".."}}.',
            "Evaluate the responses against this rubric: {crit}. Output a JSON object mapping each response id "
            "to an integer score 0-10 plus a short justification field.",
            "Grade every answer (0 = useless, 10 = perfect) considering {crit}. Return strict JSON, no prose.",
            "For each response give per-criterion marks ({crit}) between 1 and 5 and an overall mark, as JSON."]
FMT_PAIR = ["Compare Response A and Response B. Considering {crit}, which is better? Explain briefly, then "
            "output [[A]], [[B]] or [[TIE]].",
            "You are judging two assistant replies to the same user. Weigh {crit}. Finish with 'Winner: A' or "
            "'Winner: B'.",
            "Pick the preferable answer of the two below ({crit} matter most). First reason, then give the "
            "letter on its own line.",
            "Pairwise preference task. Criteria: {crit}. Say which output a careful expert would prefer and by "
            "how much (slightly / clearly / much)."]
FMT_LIKERT = ["On a scale of 1 (strongly disagree) to 7 (strongly agree): 'This response fully and correctly "
              "answers the prompt.' Consider {crit}. Give the number and one sentence.",
              "Rate the reply on a 5-point Likert scale for each of: {crit}. Format: criterion: n.",
              "How good is this answer? 1 = very poor ... 5 = excellent, judged on {crit}. Number first."]
FMT_RANK = ["Rank the following {k} responses from best to worst by {crit}. Output the ranking as a list of "
            "ids, then a justification per position.",
            "Order these candidate answers by overall quality ({crit}). Ties are not allowed. Return e.g. "
            "'3 > 1 > 2'.",
            "Sort the responses best-first with respect to {crit} and explain the main differentiator."]
FMT_CRIT = ["Write a critique of the response covering {crit}, then give a score out of 100 on the last line "
            "as 'Score: n'.",
            "Act as a strict reviewer. List the flaws you find (consider {crit}) and finish with a grade A-F."]
RUB_SYS = ["You are an impartial evaluator of AI assistant outputs.", "You are a careful annotation expert.",
           "You are a grader for a preference dataset. Be consistent and calibrated.",
           "Evaluate like a domain expert. Do not favour longer answers.", "You judge response quality.", ""]


def _candidates(r: random.Random, it: Item, pool: list[Item], k: int) -> list[str]:
    base = it.answer or "I'm not sure."
    out = [base]
    while len(out) < k:
        m = r.random()
        if m < 0.3:
            ls = _lines(base)
            out.append(" ".join(ls[: max(1, len(ls) // 2)]))
        elif m < 0.55:
            out.append(re.sub(r"\d+", lambda x: str(int(x.group()) + r.randint(1, 9)), base))
        elif m < 0.8:
            out.append(r.choice(pool).answer or base[::-1][:200])
        else:
            ls = _lines(base)
            r.shuffle(ls)
            out.append(" ".join(ls[: max(1, len(ls) - 1)]))
    r.shuffle(out)
    return [x[:900] for x in out]


def _judge_reply(r: random.Random, fmt: str, k: int) -> str:
    why = r.choice(["The first misses a key step.", "One answer contains an arithmetic error.",
                    "Both address the question but differ in completeness.", "The shorter reply omits details.",
                    "One response is off-topic.", "Reasoning is sound in the better answer."])
    if fmt == "json":
        return json.dumps({"scores": [r.randint(1, 10) for _ in range(k)], "rationale": why})
    if fmt == "pair":
        return f"{why} Response {'A' if r.random() < 0.5 else 'B'} is stronger overall.\n[[{r.choice('AB')}]]"
    if fmt == "likert":
        return f"{r.randint(1, 7)} - {why}"
    if fmt == "rank":
        ids = list(range(1, k + 1))
        r.shuffle(ids)
        return " > ".join(map(str, ids)) + f"\n{why}"
    return f"{why} Clarity is acceptable; coverage could improve.\nScore: {r.randint(20, 95)}"


def rubric(log: Log, p: Pools13, r: random.Random, n: int, cid: str) -> None:
    """Accounts asking for scores, preferences, Likert ratings or rankings of candidate answers, all day."""
    pool = [x for _, x in p.oriented] + _cg(p, 0, 1000) + p.c.roleplay[:1000]
    teams = max(1, n // 15)
    blocks = [[cloud_block(r) for _ in range(r.randint(2, 4))] for _ in range(teams)]
    cards = [["pm_" + hexid(r, 16) for _ in range(r.randint(3, 6))] for _ in range(teams)]
    fmts = {"json": FMT_JSON, "pair": FMT_PAIR, "likert": FMT_LIKERT, "rank": FMT_RANK, "crit": FMT_CRIT}
    for i in range(n):
        tm = i % teams
        a = log.account(r, "campaign:rubric", cid, created=_recent(r, 5, 200), ip_mode="pool",
                        ips=[in_block(r, b) for b in blocks[tm] for _ in range(3)], ua=ua_sdk(r),
                        payment=r.choice(cards[tm]), model=_strong(r), tier=r.choice(["pay-as-you-go", "tier-2"]))
        mine = r.sample(list(fmts), k=r.randint(1, 2))
        tmpl = {f: r.choice(fmts[f]) for f in mine}
        crit = ", ".join(r.sample(CRIT, k=r.randint(2, 4)))
        sys_p = r.choice(RUB_SYS)
        per_day = r.uniform(25, 70)
        start = T0 + timedelta(days=r.uniform(0, 3))
        for t in flat_times(r, start, END, per_day, amp=r.uniform(0.0, 0.5), phase_h=r.uniform(0, 24)):
            f = r.choice(mine)
            it = r.choice(pool)
            k = 2 if f == "pair" else (1 if f in ("likert", "crit") else r.randint(3, 4))
            cands = _candidates(r, it, pool, k)
            if f == "pair":
                body = f"[User prompt]\n{it.text}\n\n[Response A]\n{cands[0]}\n\n[Response B]\n{cands[1]}"
            elif k == 1:
                body = f"Prompt:\n{it.text}\n\nResponse:\n{cands[0]}"
            else:
                body = f"Question: {it.text}\n\n" + "\n\n".join(f"### Response {j + 1}\n{c}"
                                                                 for j, c in enumerate(cands))
            instr = tmpl[f].format(crit=crit, k=k)
            msgs = [{"role": "system", "content": sys_p}] if sys_p else []
            msgs.append({"role": "user", "content": f"{instr}\n\n{body}" if r.random() < 0.7 else
                         f"{body}\n\n{instr}"})
            log.add(r, a, t, msgs, completion=_judge_reply(r, f, k),
                    params={"temperature": 0, "max_tokens": r.choice([256, 512, 800])})


# -- tracetags: reasoning traces in tags, many languages ----------------------------------------------------

TAGS = [("<think>", "</think>"), ("<reasoning>", "</reasoning>"), ("<scratchpad>", "</scratchpad>"),
        ("<thought_process>", "</thought_process>"), ("<analysis>", "</analysis>"), ("<work>", "</work>"),
        ("<inner_monologue>", "</inner_monologue>"), ("<chain>", "</chain>"), ("[[REASONING]]", "[[/REASONING]]"),
        ("<steps>", "</steps>")]
TAG_SYS = {
    "en": ["Before answering, reason through the problem completely inside {o}{c}. Record every intermediate "
           "step there; the final answer goes after the closing tag.",
           "Always think out loud first. Wrap your entire thought process in {o} ... {c} and do not abbreviate "
           "it. After that, state the answer.",
           "Your output has two parts: a long, explicit deliberation enclosed in {o}{c}, then a concise answer."],
    "es": ["Antes de responder, razona el problema por completo dentro de {o}{c}. Escribe cada paso intermedio "
           "y después da la respuesta final fuera de las etiquetas.",
           "Piensa en voz alta: todo tu razonamiento debe ir entre {o} y {c}, sin resumir nada."],
    "de": ["Denke zuerst ausführlich innerhalb von {o}{c} nach und schreibe jeden Zwischenschritt auf. Die "
           "endgültige Antwort folgt nach dem schließenden Tag.",
           "Lege deinen gesamten Gedankengang zwischen {o} und {c} offen, Schritt für Schritt."],
    "fr": ["Avant de répondre, expose tout ton raisonnement entre {o} et {c}, étape par étape, sans en sauter "
           "aucune. Donne ensuite la réponse finale.",
           "Réfléchis d'abord à voix haute dans {o}{c} ; la réponse vient après la balise fermante."],
    "pt": ["Pense passo a passo dentro de {o}{c} e mostre todo o raciocínio; a resposta final vem depois da tag "
           "de fechamento.", "Escreva o raciocínio completo entre {o} e {c} antes de responder."],
    "zh": ["请先在{o}{c}标签内逐步写出完整的推理过程，每一步都不要省略，"
           "然后在标签外给出最终答案。",
           "回答前，把你全部的思考过程放在{o}和{c}之间，详细列出每个中间步骤。"],
    "ja": ["回答する前に、{o}と{c}の間で考えをすべて一歩ずつ書き出してください。"
           "最終的な答えはタグの後に書いてください。"],
    "ru": ["Сначала подробно рассуждай внутри {o}{c}, расписывая каждый промежуточный шаг, а затем дай "
           "окончательный ответ после закрывающего тега."],
    "ko": ["답하기 전에 {o}{c} 태그 안에서 모든 추론 과정을 단계별로 적으세요. 최종 답은 태그 밖에 쓰세요."],
    "it": ["Ragiona passo per passo all'interno di {o}{c}, riportando ogni passaggio intermedio; poi scrivi la "
           "risposta finale."],
    "tr": ["Cevap vermeden önce {o}{c} etiketleri arasında tüm akıl yürütmeni adım adım yaz, ardından nihai "
           "cevabı ver."],
    "vi": ["Hãy suy luận từng bước trong thẻ {o}{c}, ghi rõ mọi bước trung gian, sau đó đưa ra đáp án cuối cùng."],
}
TAG_LEAD = {
    "en": ["", "Problem:", "Input:", "Solve:"],
    "es": ["", "Problema:", "Pregunta:"],
    "de": ["", "Aufgabe:", "Frage:"],
    "fr": ["", "Question :", "Problème :"],
    "pt": ["", "Problema:"],
    "zh": ["", "问题：", "题目："],
    "ja": ["", "問題：", "質問："],
    "ru": ["", "Задача:", "Вопрос:"],
    "ko": ["", "문제:", "질문:"],
    "it": ["", "Problema:", "Domanda:"],
    "tr": ["", "Soru:"],
    "vi": ["", "Câu hỏi:"],
}


TAG_SKILLS = ("Math", "Reasoning", "Code Generation", "Physics", "Chemistry", "Computer Science", "Biology",
              "Economy", "Code Debug", "Complex Format", "Counterfactual")


def tracetags(log: Log, p: Pools13, r: random.Random, n: int, cid: str) -> None:
    """Sub-teams per language send reasoning-heavy tasks under system prompts that demand tagged traces."""
    soc = [Item(q, "\n".join(f"{a} {b}" for a, b in st) + f"\nThe answer is {fin}.", "math")
           for q, st, fin in p.socratic]
    wiz = [Item(x, "", "general") for k, v in p.wiz.items() for x in v if k in TAG_SKILLS]
    pool = soc + wiz + _cg(p, 1000, 2000)
    langs = list(TAG_SYS)
    team_lang = r.sample(langs, k=len(langs))
    teams = max(1, n // 10)
    blocks = [cloud_block(r) for _ in range(teams)]
    for i in range(n):
        tm = i % teams
        lang = team_lang[tm % len(team_lang)]
        a = log.account(r, "campaign:tracetags", cid, created=_recent(r, 2, 60), model=_strong(r),
                        ua=ua_sdk(r) if r.random() < 0.8 else ua_browser(r))
        if r.random() < 0.6:
            a.ip_mode, a.ips = "pool", [in_block(r, blocks[tm]) for _ in range(4)]
        else:
            a.ip_mode = "per-request"
        o, c = r.choice(TAGS)
        sys_p = r.choice(TAG_SYS[lang]).format(o=o, c=c)
        in_sys = r.random() < 0.75
        lead = r.choice(TAG_LEAD[lang])
        per_day = r.uniform(12, 40)
        t0 = T0 + timedelta(days=r.uniform(0, 5))
        t1 = min(END, t0 + timedelta(days=r.uniform(5, 14)))
        for t in flat_times(r, t0, t1, per_day, amp=r.uniform(0.1, 0.6), phase_h=r.uniform(0, 24)):
            it = r.choice(pool)
            q = f"{lead} {it.text}".strip()
            msgs = ([{"role": "system", "content": sys_p}, {"role": "user", "content": q}] if in_sys
                    else [{"role": "user", "content": f"{sys_p}\n\n{q}"}])
            steps, final = _worked(r, it, p)
            log.add(r, a, t, msgs, completion=f"{o}\n{steps}\n{c}\n{final}", max_completion_chars=1600,
                    params={"temperature": r.choice([0.6, 0.7, 0.8, 1.0]), "max_tokens": 8192})


# -- bootstrap: self-instruct, generated tasks sent back later -----------------------------------------------

GEN_ASK = ["Here are some example tasks:\n{ex}\n\nWrite {k} new tasks in the same spirit. Make them diverse in "
           "topic and format; number them.",
           "Below are sample instructions a user might give an assistant.\n{ex}\nCome up with {k} more, each "
           "different from the examples and from each other. One per line, numbered.",
           "I'm building an instruction dataset. Seed examples:\n{ex}\nGenerate {k} fresh instructions covering "
           "other domains (writing, coding, reasoning, advice, classification).",
           "{ex}\n\nThe list above shows the style. Continue it with {k} brand-new entries. No answers, only the "
           "task text.",
           "Brainstorm {k} realistic requests people make to an AI assistant, similar in difficulty to these:\n"
           "{ex}"]
SOLVE_WRAP = [("", ""), ("Respond to the instruction below as helpfully as possible.\n\n", ""),
              ("### Instruction:\n", "\n\n### Response:"), ("Task: ", "\nAnswer thoroughly."),
              ("", "\n\nGive a complete, high-quality answer."), ("Instruction: ", ""),
              ("Please complete this request:\n", ""), ("", "\n(Write a detailed answer.)")]


def bootstrap(log: Log, p: Pools13, r: random.Random, n: int, cid: str) -> None:
    """Generator accounts ask for new tasks; solver accounts send those generated tasks back hours later."""
    seeds = [x for _, x in p.oriented] + p.c.selfinstruct
    novel = (list(p.c.alpaca) + p.c.roleplay[1000:] + p.c.toolformer[3000:]
             + [Item(x) for x in p.c.alpaca_eval_all])
    r.shuffle(novel)
    n_gen = max(1, n // 6)
    queue: list[tuple[datetime, Item]] = []
    nxt = 0
    for _ in range(n_gen):
        a = log.account(r, "campaign:bootstrap", cid, created=_recent(r, 10, 300), ua=ua_sdk(r),
                        ip_mode="pool", ips=[ip_residential(r) for _ in range(3)], model=_strong(r))
        ask = r.choice(GEN_ASK)
        for t in flat_times(r, T0, END - timedelta(days=1), r.uniform(6, 14), amp=0.4):
            k = r.randint(8, 16)
            ex = "\n".join(f"{j + 1}. {s.text[:300]}" for j, s in enumerate(r.sample(seeds, r.randint(3, 6))))
            made = []
            for _ in range(k):
                made.append(novel[nxt % len(novel)])
                nxt += 1
            comp = "\n".join(f"{j + 1}. {m.text.splitlines()[0][:400]}" for j, m in enumerate(made))
            log.add(r, a, t, [{"role": "user", "content": ask.format(ex=ex, k=k)}], completion=comp,
                    params={"temperature": 1.0, "top_p": 0.95, "max_tokens": 2048})
            queue += [(t + timedelta(hours=r.uniform(2, 30)), m) for m in made]
    queue.sort(key=lambda x: x[0])
    solvers = [] if n > n_gen else [(a, ("", ""), False)]  # a one-account campaign solves its own tasks
    for j in range(n - n_gen):  # every fourth solver runs an older completions-endpoint client
        a = log.account(r, "campaign:bootstrap", cid, created=_recent(r, 1, 60), model=_strong(r),
                        ip_mode=r.choice(["per-day", "per-request", "home"]),
                        ua=ua_sdk(r) if r.random() < 0.7 else ua_browser(r))
        solvers.append((a, r.choice(SOLVE_WRAP), j % 4 == 0))
    for ready, it in queue:
        a, (pre, post), legacy = r.choice(solvers)
        t = ready + timedelta(minutes=r.uniform(0, 240))
        text = it.text.splitlines()[0][:400] + ("\n" + "\n".join(it.text.splitlines()[1:]) if "\n" in it.text
                                                 and r.random() < 0.5 else "")
        reply = it.answer or _filler(r, p, r.randint(300, 1200))
        if legacy:
            log.add(r, a, t, prompt=f"{pre}{text}{post}", completion=reply,
                    params={"temperature": 0.7, "max_tokens": 1024})
        else:
            log.add(r, a, t, [{"role": "user", "content": f"{pre}{text}{post}"}], completion=reply,
                    params={"temperature": 0.7})


# -- agentcode: agentic coding sessions with tool results --------------------------------------------------

AGENT_TOOLS = [
    [("read_file", "Read a file from the workspace"), ("write_file", "Overwrite a file"),
     ("run_tests", "Run the test suite and return the output"), ("search", "Grep the repository")],
    [("open", "Open a path and return its contents"), ("apply_patch", "Apply a unified diff"),
     ("bash", "Run a shell command in the sandbox"), ("finish", "Submit the solution")],
    [("view_file", "Show file contents with line numbers"), ("edit", "Replace a range of lines"),
     ("execute", "Execute a command and capture stdout/stderr"), ("list_dir", "List a directory")],
]
AGENT_SYS = ["You are an autonomous software engineer working in a sandboxed repository. Use the tools to "
             "inspect code, make changes and run tests until the task is solved. Explain your reasoning before "
             "each action.",
             "You operate as a coding agent. Think step by step, call one tool at a time, and keep going until "
             "all tests pass. Describe what you learned from every tool result.",
             "Agent mode. You can read files, edit them and run commands. Always state a plan, then act. When "
             "tests fail, analyse the failure in detail before editing.",
             "You are a senior developer fixing a task in a repo. Reason carefully about each observation; "
             "produce minimal, correct diffs."]


def _schema(name: str, desc: str) -> dict:
    arg = {"read_file": "path", "open": "path", "view_file": "path", "write_file": "path", "search": "pattern",
           "run_tests": "target", "apply_patch": "diff", "bash": "command", "execute": "command", "edit": "path",
           "list_dir": "path", "finish": "summary"}.get(name, "input")
    return {"name": name, "description": desc, "parameters": {"type": "object",
                                                              "properties": {arg: {"type": "string"}},
                                                              "required": [arg]}}


def _call(r: random.Random, name: str, args: dict) -> dict:
    return {"id": "call_" + hexid(r, 16), "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}


def _failures(it: Item) -> str:
    asserts = [ln.strip() for ln in it.extra.splitlines() if ln.strip().startswith("assert")]
    ent = it.extra.splitlines()[0] if it.extra else "solution"
    if not asserts:
        return (f"Traceback (most recent call last):\n  File \"main.py\", line 14, in <module>\n    "
                f"print({ent}())\nNameError: name '{ent}' is not defined\nexit status 1")
    shown = asserts[:3]
    return (f"============ FAILURES ============\n_____ test_{ent} _____\n"
            + "\n".join(f">       {x.replace('candidate', ent)}\nE       AssertionError" for x in shown)
            + f"\n===== {len(shown)} failed, {max(0, len(asserts) - len(shown))} passed in 0.{len(ent)}4s =====")


def agentcode(log: Log, p: Pools13, r: random.Random, n: int, cid: str) -> None:
    """Around-the-clock agent sessions: read, patch, test, fix, over 3-6 requests that carry the history."""
    tasks = p.c.humaneval + _cg(p, 3600, None)
    block = cloud_block(r)
    for _ in range(n):
        a = log.account(r, "campaign:agentcode", cid, created=_recent(r, 5, 150), ip_mode="pool",
                        ips=[in_block(r, block) for _ in range(2)] + [in_block(r, cloud_block(r))],
                        ua=r.choice([f"agent-runner/0.{r.randint(3, 9)}.{r.randint(0, 20)} ", ""]) + ua_sdk(r),
                        model=_strong(r))
        kit = r.choice(AGENT_TOOLS)
        tools = [_schema(nm, d) for nm, d in kit]
        sys_p = r.choice(AGENT_SYS)
        rd, wr, run = kit[0][0], kit[1][0], kit[2][0]
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 4)), END, r.uniform(8, 18), amp=0.2):
            it = r.choice(tasks)
            conv = "sess_" + hexid(r, 12)
            fname = (it.extra.splitlines()[0] if it.extra else f"task_{hexid(r, 4)}") + ".py"
            hist = [{"role": "system", "content": sys_p},
                    {"role": "user", "content": f"Task: {it.text}\n\nThe repository has {fname} and tests/. "
                                                f"Make the tests pass."}]
            steps = r.randint(3, 6)
            for s in range(steps):
                if s == 0:
                    say = f"Plan: inspect {fname} to see the current stub, then implement it."
                    call = _call(r, rd, {"path": fname})
                    obs = it.text if it.kind == "code" and it.extra else f"# {fname}\n# TODO: implement\n"
                elif s == 1 or (s < steps - 1 and s % 2 == 1):
                    body = it.answer.splitlines()
                    diff = "\n".join(f"+{x}" for x in body[:40])
                    say = "The function body is missing. I'll write an implementation that handles the edge cases."
                    call = _call(r, wr, {"path": fname, "diff": f"--- a/{fname}\n+++ b/{fname}\n@@\n{diff}"})
                    obs = "Patch applied."
                elif s < steps - 1:
                    say = "Running the tests to check the change."
                    call = _call(r, run, {"command": "pytest -q tests/"})
                    obs = _failures(it)
                else:
                    say = "All tests pass now. Summary of the change: " + _lines(it.answer)[0][:200]
                    call = None
                    obs = ""
                steps_txt, _ = _worked(r, it, p)
                comp = f"{say}\n\n{steps_txt[:600]}"
                log.add(r, a, t, [dict(m) for m in hist], completion=comp, tools=tools, conv=conv,
                        params={"temperature": 0.2, "max_tokens": 4096})
                if call is None:
                    break
                hist.append({"role": "assistant", "content": say, "tool_calls": [call]})
                hist.append({"role": "tool", "tool_call_id": call["id"], "content": obs[:2500]})
                t += timedelta(seconds=r.uniform(3, 40))


# -- turncoat: aged accounts that switch ------------------------------------------------------------------

TURN_ASK = ["Give a complete, expert-level answer to the following, covering the reasoning behind it:",
            "I need the best possible response to this, with everything explained:",
            "Answer this as thoroughly as you can. Include the intermediate reasoning.",
            "Write a detailed, well-structured solution:", "Full answer please, no shortcuts:",
            "Respond in depth. If it involves calculation or code, show every part of the work.", ""]


def _chat_session(log: Log, p: Pools13, r: random.Random, a: Acct, t: datetime, conv_pool: list) -> datetime:
    turns, lens = r.choice(conv_pool)
    hist: list[dict] = []
    conv = "c_" + hexid(r, 10) if r.random() < 0.5 else None
    for j, u in enumerate(turns[: r.randint(1, 4)]):
        hist.append({"role": "user", "content": u})
        comp = _filler(r, p, lens[j])
        log.add(r, a, t, [dict(m) for m in hist], completion=comp, conv=conv)
        hist.append({"role": "assistant", "content": comp[:800]})
        t += think(r, 20, 80)
    return t


def turncoat(log: Log, p: Pools13, r: random.Random, n: int, cid: str) -> None:
    """Years-old accounts chat like people, then (bought or taken over) turn into extraction workers."""
    pool = _cg(p, 2000, 3000) + [Item(x) for k, v in p.wiz.items() for x in v if k not in TAG_SKILLS] + [
        Item(t) for _, t1, t2 in p.c.mtbench for t in (t1, t2)]
    handover = r.randint(4, 8)
    block = cloud_block(r)
    for _ in range(n):
        a = log.account(r, "campaign:turncoat", cid, created=T0 - timedelta(days=r.uniform(180, 1500)),
                        model=r.choice(["gpt-4o", "gpt-4o-mini", "frontier-1-mini"]))
        sw = handover + r.randint(0, 2)
        for t in human_session_starts(r, a, active_days(r, 0, sw, p=r.uniform(0.3, 0.7)), r.uniform(0.8, 2.5)):
            _chat_session(log, p, r, a, t, p.c.chats)
        # after the switch: new client, new network, strong model, steady volume
        ua2 = ua_sdk(r)
        mode = r.random()
        ips2 = [in_block(r, block) for _ in range(3)]
        ask = r.choice(TURN_ASK)
        model2 = _strong(r)
        for t in flat_times(r, day_start(sw) + timedelta(hours=r.uniform(0, 20)), END, r.uniform(25, 60),
                            amp=0.3, phase_h=r.uniform(0, 24)):
            it = r.choice(pool)
            ip = ip_residential(r) if mode < 0.5 else r.choice(ips2)
            steps, final = _worked(r, it, p)
            body = f"{ask}\n\n{it.text}" if ask else it.text
            log.add(r, a, t, [{"role": "user", "content": body}], completion=f"{steps}\n\n{final}", ip=ip, ua=ua2,
                    model=model2, params={"temperature": 0.3})


# -- proxymix: reseller proxy, real chat with extraction mixed in -----------------------------------------

PARA = [lambda q: q, lambda q: f"{q}\nexplain your answer step by step",
        lambda q: f"pls solve and show working: {q}",
        lambda q: f"{q}\n\nI want the full reasoning, not just the result",
        lambda q: f"Can you help with this? {q}", lambda q: f"{q} (detailed)",
        lambda q: f"[task]\n{q}\n[/task]\nanswer with reasoning", lambda q: f"Resolver paso a paso: {q}",
        lambda q: f"请详细解答：{q}", lambda q: f"{q}\n-- explain like a textbook solution"]


def proxymix(log: Log, p: Pools13, r: random.Random, n: int, cid: str) -> None:
    """Reseller keys forwarding end users' chats around the clock, ~20-40 % of requests extraction."""
    ext: list[Item] = p.c.toolformer[:3000] + _cg(p, 3000, 3600)
    groups = max(1, n // 6)
    gblock = [[cloud_block(r) for _ in range(2)] for _ in range(groups)]
    gcard = ["pm_" + hexid(r, 16) for _ in range(groups)]
    proxy_ua = [f"Go-http-client/{r.choice(['1.1', '2.0'])}", f"axios/1.{r.randint(4, 7)}.{r.randint(0, 9)}",
                "one-api/0.6", "new-api/0.4"]
    for i in range(n):
        g = i % groups
        a = log.account(r, "campaign:proxymix", cid, created=_recent(r, 20, 400), ip_mode="pool",
                        ips=[in_block(r, b) for b in gblock[g] for _ in range(2)], payment=gcard[g],
                        ua=r.choice(proxy_ua), tier=r.choice(["tier-3", "tier-4", "pay-as-you-go"]), model="gpt-4o")
        share = r.uniform(0.2, 0.4)
        for t in flat_times(r, T0 + timedelta(days=r.uniform(0, 2)), END, r.uniform(35, 90), amp=0.25,
                            phase_h=r.uniform(0, 24)):
            ua = a.ua if r.random() < 0.7 else ua_browser(r)  # some forwarded browser agents
            if r.random() < share:
                it = r.choice(ext)
                steps, final = _worked(r, it, p)
                log.add(r, a, t, [{"role": "user", "content": r.choice(PARA)(it.text)}], ua=ua,
                        completion=f"{steps}\n{final}", model=_strong(r))
            else:
                turns, lens = r.choice(p.tail)
                k = r.randint(1, min(4, len(turns)))
                hist: list[dict] = []
                for j in range(k - 1):
                    hist += [{"role": "user", "content": turns[j]},
                             {"role": "assistant", "content": _filler(r, p, min(lens[j], 700))}]
                hist.append({"role": "user", "content": turns[k - 1]})
                log.add(r, a, t, hist, completion=_filler(r, p, lens[k - 1]), ua=ua,
                        model=r.choice(["gpt-4o", "gpt-4o-mini", "frontier-1-mini"]))


FAMILIES: dict[str, tuple[Callable[..., None], int]] = {
    "shard": (shard, 260), "rubric": (rubric, 60), "tracetags": (tracetags, 120), "bootstrap": (bootstrap, 90),
    "agentcode": (agentcode, 45), "turncoat": (turncoat, 80), "proxymix": (proxymix, 30),
}
