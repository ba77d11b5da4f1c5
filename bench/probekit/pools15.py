"""Round-15 pools and wording: the round-13 pools plus real long documents, and this round's own phrase banks.

Read at run time from the shared data folder (nothing copied into the tree). Extra over `pools13.load13`:
`docs_a` / `docs_b`, the long texts real ShareGPT users pasted into their chats (reports, contracts, papers,
code, transcripts; 2,500-12,000 characters), split in two disjoint halves so that the document-harvesting
campaign and the legitimate document customers never send the same document. `Phrase` composes one sentence
from slot banks written for this round, so an operator (or a person) can have wording no one else shares.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

from probekit.corpora import Item
from probekit.pools13 import Pools13, filler, load13


@dataclass
class Pools15:
    """Every pool round 15 draws on."""

    p: Pools13
    docs_a: list[str]  # long pasted documents, even positions (campaign side)
    docs_b: list[str]  # odd positions (legitimate side)

    @property
    def c(self):  # noqa: ANN201 - the round-1 corpora
        return self.p.c

    def wiz_items(self, skills: set[str] | None = None, without: set[str] | None = None) -> list[Item]:
        """WizardLM test items as Items (by skill)."""
        out = []
        for k, v in self.p.wiz.items():
            if (skills is None or k in skills) and (without is None or k not in without):
                out += [Item(x, "", "code" if "Code" in k else ("math" if k == "Math" else "general")) for x in v]
        return out


def _clip_doc(s: str, n: int) -> str:
    if len(s) <= n:
        return s
    cut = s[:n]
    at = max(cut.rfind("\n\n"), cut.rfind(". "))
    return cut[: at + 1] if at > n // 2 else cut


def load15(data: Path) -> Pools15:
    """Read the round-13 pools and the long documents."""
    p = load13(data)
    docs = []
    with gzip.open(data / "sharegpt_v3_partial/sharegpt_v3_human_turns.jsonl.gz", "rt") as f:
        for line in f:
            for t in json.loads(line)["turns"]:
                v = t.get("value") or ""
                if t.get("from") in ("human", "user") and 2500 <= len(v) <= 60000:
                    docs.append(_clip_doc(v, 12000))
    return Pools15(p, docs[0::2], docs[1::2])


def prose(r: random.Random, P: Pools15, n: int, at_least: int = 40) -> str:
    """About n characters of assistant-like prose (corpus answers) for replies whose text is not known."""
    return filler(r, P.p, n, at_least)


# -- composed wording ---------------------------------------------------------------------------------------

class Phrase:
    """One sentence composed from slot banks; `fixed(r)` draws a wording once, `__call__` a fresh one."""

    def __init__(self, *slots: list[str], p_skip: float = 0.0) -> None:
        self.slots = slots
        self.p_skip = p_skip

    def __call__(self, r: random.Random) -> str:
        parts = []
        for i, s in enumerate(self.slots):
            if i > 0 and r.random() < self.p_skip:
                continue
            x = r.choice(s)
            if x:
                parts.append(x)
        out = " ".join(parts).replace(" ,", ",").replace(" .", ".").replace(" :", ":").strip()
        return out[:1].upper() + out[1:]


# Asking for a worked answer, in many words (slots: lead, verb, object, manner).
ASK = Phrase(["", "", "please", "kindly", "could you", "I'd like you to", "I need you to", "go ahead and",
              "your job:", "for this one,", "now", "ok,", "next,"],
             ["solve", "work through", "answer", "take on", "handle", "do", "tackle", "respond to", "address",
              "work out", "complete", "go through", "deal with", "sort out", "look at"],
             ["the item below", "this", "the following", "what follows", "the task that follows",
              "the question underneath", "the request below", "this one", "the problem given here",
              "the prompt below", "the next exercise"],
             ["", "", "carefully", "in full", "rigorously", "from first principles", "thoroughly", "step by step",
              "with care", "completely", "methodically", "without skipping anything"])
WHY = Phrase(["", "and", "then", "also", "make sure to", "be sure to", "remember to", "and please"],
             ["show", "write out", "spell out", "lay out", "include", "give", "document", "explain", "narrate",
              "present"],
             ["your reasoning", "the intermediate steps", "each step of your thinking", "how you got there",
              "the full chain of logic", "all the working", "the derivation", "your thought process",
              "every inference you make", "the justification for each step"],
             ["", "", "before the answer", "first", "in order", "explicitly", "in detail", "one step per line"])

LANGS = {
    "German": ["Zuerst betrachten wir die gegebenen Werte.", "Daraus folgt das Ergebnis.",
               "Im nächsten Schritt rechnen wir die Summe aus.", "Somit ist die Antwort", "Diese Funktion gibt",
               "Wir prüfen den Randfall.", "Das bedeutet, dass"],
    "French": ["D'abord, examinons les valeurs données.", "On en déduit le résultat.", "Ensuite, calculons la somme.",
               "La réponse est donc", "Cette fonction renvoie", "Vérifions le cas limite.", "Cela signifie que"],
    "Spanish": ["Primero, veamos los datos del problema.", "De ahí se obtiene el resultado.",
                "A continuación calculamos la suma.", "Por lo tanto, la respuesta es", "Esta función devuelve",
                "Comprobamos el caso límite.", "Esto significa que"],
    "Portuguese": ["Primeiro, observamos os valores dados.", "Daí obtemos o resultado.", "Em seguida, somamos.",
                   "Portanto, a resposta é", "Esta função retorna", "Verificamos o caso extremo.",
                   "Isso significa que"],
    "Italian": ["Per prima cosa consideriamo i dati.", "Ne segue il risultato.", "Poi calcoliamo la somma.",
                "Quindi la risposta è", "Questa funzione restituisce", "Controlliamo il caso limite."],
    "Turkish": ["Önce verilen değerlere bakalım.", "Buradan sonuç çıkar.", "Sonra toplamı hesaplıyoruz.",
                "Dolayısıyla cevap", "Bu fonksiyon döndürür", "Sınır durumunu kontrol ediyoruz."],
    "Indonesian": ["Pertama, kita lihat nilai yang diberikan.", "Dari situ diperoleh hasilnya.",
                   "Selanjutnya kita hitung jumlahnya.", "Jadi jawabannya adalah", "Fungsi ini mengembalikan"],
    "Vietnamese": ["Trước hết, ta xét các giá trị đã cho.", "Từ đó suy ra kết quả.", "Tiếp theo ta tính tổng.",
                   "Vậy đáp án là", "Hàm này trả về", "Ta kiểm tra trường hợp biên."],
    "Thai": ["ก่อนอื่น พิจารณาค่าที่กำหนด", "จากนั้นจะได้ผลลัพธ์", "ขั้นต่อไปคำนวณผลรวม", "ดังนั้นคำตอบคือ",
             "ฟังก์ชันนี้คืนค่า"],
    "Japanese": ["まず、与えられた値を確認します。", "したがって結果が得られます。", "次に合計を計算します。",
                 "よって答えは", "この関数は次を返します", "境界の場合を確認します。"],
    "Korean": ["먼저 주어진 값을 살펴봅니다.", "따라서 결과를 얻습니다.", "다음으로 합계를 계산합니다.",
               "그러므로 답은", "이 함수는 다음을 반환합니다", "경계 조건을 확인합니다."],
    "Chinese": ["首先，我们看已知条件。", "由此得到结果。", "接下来计算总和。", "所以答案是",
                "这个函数返回", "检查边界情况。"],
    "Arabic": ["أولاً، ننظر إلى القيم المعطاة.", "ومن ذلك نحصل على النتيجة.", "بعد ذلك نحسب المجموع.", "إذن الجواب هو"],
    "Hindi": ["पहले दिए गए मानों को देखें।", "इससे परिणाम मिलता है।", "अगले चरण में योग निकालते हैं।", "इसलिए उत्तर है"],
    "Polish": ["Najpierw przyjrzyjmy się danym.", "Stąd wynika wynik.", "Następnie obliczamy sumę.",
               "Zatem odpowiedź to", "Ta funkcja zwraca"],
    "Russian": ["Сначала рассмотрим данные значения.", "Отсюда получаем результат.", "Далее вычисляем сумму.",
                "Следовательно, ответ", "Эта функция возвращает"],
    "Dutch": ["Eerst bekijken we de gegeven waarden.", "Daaruit volgt het resultaat.", "Vervolgens tellen we op.",
              "Het antwoord is dus", "Deze functie geeft"],
    "Swahili": ["Kwanza, tuangalie thamani zilizotolewa.", "Kutokana na hilo tunapata jibu.",
                "Kisha tunahesabu jumla.", "Kwa hiyo jibu ni"],
}


def translated(r: random.Random, lang: str, src: str) -> str:
    """Text that stands for `src` translated into `lang`: the language's sentences, the source's numbers and
    code lines kept (as a translator keeps notation)."""
    bank = LANGS[lang]
    out = []
    for line in src.splitlines():
        s = line.strip()
        if not s:
            out.append("")
        elif s.startswith(("def ", "return", "    ", "```", "for ", "if ", "import ")) or line.startswith("    "):
            out.append(line)
        else:
            nums = [w for w in s.replace(",", " ").split() if any(ch.isdigit() for ch in w)][:4]
            out.append(r.choice(bank) + (" " + " ".join(nums) if nums else ""))
    return "\n".join(out).strip() or r.choice(bank)
