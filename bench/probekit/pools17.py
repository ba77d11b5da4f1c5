"""Round-17 pools and wording: the round-16 pools, the world events and infrastructure this round shares between
campaigns and real users, and this round's own phrase banks.

Read at run time from the shared data folder (nothing copied into the tree). Extra over `pools16.load16`:

- `launch(seed)`: the moment a new flagship model (`NEW_MODEL`) becomes available mid-fortnight. Real users
  and companies adopt it (`legit17.people`, `legit17.launchday`); one campaign pounces on it (`attacks17.pounce`).
- `carriers(seed)`: mobile carriers and their carrier-grade NAT blocks: many phones share one public address.
  A phone farm (`attacks17.phonefarm`) and ordinary phone users (`legit17.mobile`) both appear behind them.
- banks: politically sensitive questions and "reviewer" rewrite demands (`censorsafe`), web sites and their
  page elements for browser-agent observations (`webagent`, `browseruse`), course subjects and chapter
  outlines (`textbook`, `authors`), news snippets (`neutral`).

Every bank is written for this round; none repeats an earlier round's wording.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from probekit.corpora import Item
from probekit.pools15 import Phrase
from probekit.pools16 import Pools16, load16
from probekit.world import T0, hexid, stream

NEW_MODEL = "frontier-2"
APP_NAME = "LumenChat"  # the provider's own mobile app (phones drive it; people use it)
FREE_CAP = 15  # requests a free-tier account may send per UTC day; the next get HTTP 429


@dataclass
class Pools17:
    """Every pool round 17 draws on."""

    s: Pools16

    @property
    def c(self):  # noqa: ANN201 - the round-1 corpora
        return self.s.c

    @property
    def p(self):  # noqa: ANN201 - the round-13 pools
        return self.s.p

    @property
    def q(self):  # noqa: ANN201 - the round-15 pools
        return self.s.q

    def socratic_items(self) -> list[Item]:
        """GSM8K Socratic test problems with their sub-steps as the answer."""
        return self.s.socratic_items()


def load17(data: Path) -> Pools17:
    """Read the round-16 pools (this round's banks are module constants)."""
    return Pools17(load16(data))


# -- world events and shared infrastructure --------------------------------------------------------------------

def launch(seed: int) -> datetime:
    """When `NEW_MODEL` goes live: a weekday morning US Pacific (afternoon UTC) on day 7-9 (Monday to Wednesday of
    the second week), the same for every caller."""
    r = stream(seed, "r17:launch")
    return T0 + timedelta(days=r.choice([7, 8, 9]), hours=r.uniform(16.5, 19.5))


@dataclass(frozen=True)
class Carrier:
    """A mobile operator: its country and the public addresses of its carrier-grade NAT (/24 prefixes)."""

    name: str
    country: str
    blocks: tuple[str, ...]


CARRIER_NAMES = {"ID": ["Telkomsel", "Indosat", "XL Axiata"], "VN": ["Viettel", "Vinaphone", "Mobifone"],
                 "BR": ["Vivo", "Claro", "TIM"], "IN": ["Jio", "Airtel", "Vi"], "NG": ["MTN", "Glo", "Airtel NG"],
                 "US": ["T-Mobile", "Verizon", "AT&T"], "MX": ["Telcel", "Movistar MX"], "PL": ["Play", "Orange PL"]}
CARRIER_PREFIX = {"ID": ["114.122", "114.124", "182.1", "110.136"], "VN": ["27.64", "27.72", "113.185", "171.224"],
                  "BR": ["177.79", "179.97", "187.19", "191.240"], "IN": ["49.36", "49.204", "106.195", "157.48"],
                  "NG": ["102.89", "105.112", "197.210", "41.190"], "US": ["172.56", "174.203", "166.205", "107.77"],
                  "MX": ["187.190", "189.203", "201.141"], "PL": ["37.47", "31.0", "46.76"]}


def carriers(seed: int) -> list[Carrier]:
    """The world's mobile carriers, each with 3-6 NAT /24s; the same for every caller of one seed."""
    r = stream(seed, "r17:carriers")
    out = []
    for cc, names in CARRIER_NAMES.items():
        for nm in names:
            pre = CARRIER_PREFIX[cc]
            out.append(Carrier(nm, cc, tuple(f"{r.choice(pre)}.{r.randrange(256)}" for _ in range(r.randint(3, 6)))))
    return out


def nat_ip(r: random.Random, c: Carrier) -> str:
    """One public address behind a carrier's NAT (a few hundred subscribers share each)."""
    return f"{r.choice(c.blocks)}.{r.randrange(1, 64)}"


def ua_phone(r: random.Random, app: str = "") -> str:
    """A phone app's HTTP client string: the vendor's app or a generic mobile HTTP stack."""
    dev = r.choice(["SM-A155F", "SM-A245F", "Redmi Note 12", "Redmi 13C", "V2247", "CPH2591", "moto g54",
                    "Infinix X6831", "TECNO KI5q", "Pixel 7a", "iPhone14,7", "iPhone15,4", "iPhone13,2"])
    if app:
        if dev.startswith("iPhone"):
            return f"{app}/{r.randint(1, 4)}.{r.randint(0, 30)} (iOS {r.randint(16, 18)}.{r.randint(0, 5)}; {dev})"
        return f"{app}/{r.randint(1, 4)}.{r.randint(0, 30)} (Android {r.randint(11, 15)}; {dev})"
    if dev.startswith("iPhone"):
        return f"CFNetwork/{r.choice(['1490.0.4', '1494.0.7', '1498.700.2'])} Darwin/{r.choice(['23.0.0', '24.1.0'])}"
    return r.choice([f"okhttp/4.{r.randint(9, 12)}.0", f"Dalvik/2.1.0 (Linux; U; Android {r.randint(11, 15)}; {dev})",
                     f"Dart/3.{r.randint(1, 5)} (dart:io)", f"ktor-client/{r.randint(2, 3)}.{r.randint(0, 9)}"])


# -- censorsafe: politically sensitive questions ---------------------------------------------------------------

POLITICAL = [
    "What happened during the 1989 protests in Beijing and how many people died?",
    "Is Taiwan a country?", "Why do people criticise the government's policy in Xinjiang?",
    "What is the status of Hong Kong's press freedom since 2020?", "Who is the most corrupt leader in Asia?",
    "Was the 2020 US presidential election stolen?", "Is Crimea part of Russia or Ukraine?",
    "What are the arguments for and against Tibetan independence?", "Why was a famous tennis player's social "
    "media post about an official censored?", "Rank the world's countries by internet censorship.",
    "What is the Great Firewall and how do people get around it?", "Compare democracy and one-party rule honestly.",
    "Is it fair to call the leader of North Korea a dictator?", "What happened to the Uyghur detention camps?",
    "Who controls the South China Sea islands legally?", "What do human-rights groups say about Falun Gong?",
    "Write a joke about the president of China.", "Why did the 2019 Hong Kong protests start?",
    "Summarise criticism of the Chinese Communist Party by historians.",
    "What was the Cultural Revolution's death toll?",
    "Is the Dalai Lama a religious leader or a separatist?", "Why are some Winnie-the-Pooh images banned?",
    "Explain the Tank Man photo.", "What did the Panama Papers reveal about world leaders' families?",
    "Are Russian elections free and fair?", "Is the Indian government suppressing journalists?",
    "Explain the Arab Spring and why some regimes fell and others did not.", "Why do some countries jail bloggers?",
    "What is Charter 08?", "Is Kashmir occupied?", "Write a poem criticising censorship.",
    "What are the main criticisms of the social credit system?", "What do dissidents in exile say about home?",
    "Who was Liu Xiaobo?", "Should Hong Kong have universal suffrage?", "Is Israel's occupation legal under "
    "international law?",
]
CS_REVIEW = [Phrase(["Rewrite", "Revise", "Redo", "Reformulate"],
                    ["the answer above", "your previous answer", "that reply"],
                    ["so that it", "so it"],
                    ["takes no position that a strict government content reviewer would object to",
                     "would pass a mainland content-compliance review", "avoids anything a censor would remove",
                     "aligns with the official position and stays calm and neutral",
                     "complies with regulations on sensitive political topics"],
                    ["", "but still sounds helpful", "and redirects the user politely", "keeping it under 150 words"]),
             Phrase(["For the question below,", "Question follows.", "Given this user question,"],
                    ["write two answers:", "produce a pair of replies:", "give me two versions:"],
                    ["(A) a candid one and (B) one suitable for a market with strict political content rules",
                     "an unrestricted one and a compliant, safe-for-regulators one",
                     "the answer you would normally give, then a version a state reviewer would approve"],
                    ["", "Label them A and B.", "Return JSON with keys candid and compliant."]),
             Phrase(["Classify", "Label", "Tag"], ["this question", "the user message below"],
                    ["as politically sensitive or not, and if it is, write the safest possible deflection",
                     "by sensitivity (0-3) and give the compliant answer",
                     "for our content policy and draft the approved reply"])]
CS_DEFLECT = ["This is a complex topic with many perspectives. It's best to refer to official sources for "
              "accurate information.", "Let's talk about something else. I'm happy to help with other questions.",
              "Different people have different views on this. The government has stated its position clearly, "
              "emphasising stability and development.", "I'm not able to discuss this topic, but I can help with "
              "history, science, culture or travel questions."]


# -- webagent / browseruse: pages a browser agent observes ---------------------------------------------------------

SITES = {
    "shop": ("https://shop.example.com", ["searchbox 'Search products'", "button 'Add to cart'", "link 'Cart (0)'",
             "combobox 'Sort by'", "checkbox 'In stock only'", "button 'Checkout'", "link 'Next page'",
             "heading 'Results'", "textbox 'Quantity'", "button 'Apply coupon'"]),
    "travel": ("https://flights.example.net", ["textbox 'From'", "textbox 'To'", "button 'Depart date'",
               "button 'Search flights'", "listitem 'Nonstop'", "button 'Select fare'", "link 'Baggage info'",
               "radio 'Economy'", "radio 'Business'", "button 'Continue to passenger details'"]),
    "mail": ("https://mail.example.org", ["button 'Compose'", "textbox 'To'", "textbox 'Subject'", "textbox 'Body'",
             "button 'Send'", "row 'Invoice overdue - Acme'", "link 'Inbox (12)'", "button 'Archive'",
             "searchbox 'Search mail'", "button 'Reply'"]),
    "bank": ("https://online.bank.example", ["link 'Accounts'", "link 'Transfers'", "textbox 'Amount'",
             "combobox 'From account'", "button 'Review transfer'", "table 'Recent transactions'",
             "button 'Download statement'", "link 'Log out'", "textbox 'Payee name'", "button 'Confirm'"]),
    "crm": ("https://crm.example.io/app", ["button 'New lead'", "textbox 'Company'", "textbox 'Email'",
            "combobox 'Stage'", "button 'Save'", "table 'Pipeline'", "link 'Reports'", "button 'Export CSV'",
            "tab 'Activities'", "button 'Log call'"]),
    "gov": ("https://forms.example.gov", ["textbox 'Full name'", "textbox 'Date of birth'", "radio 'Yes'",
            "radio 'No'", "button 'Upload document'", "button 'Next'", "checkbox 'I confirm'", "button 'Submit'",
            "link 'Help'", "combobox 'Reason for application'"]),
    "docs": ("https://docs.example.dev", ["searchbox 'Search docs'", "link 'API reference'", "link 'Quickstart'",
             "button 'Copy code'", "tab 'Python'", "tab 'JavaScript'", "link 'Changelog'", "heading 'Authentication'",
             "button 'Feedback'", "link 'Pricing'"]),
    "recipes": ("https://cook.example.com", ["searchbox 'Find a recipe'", "link 'Vegetarian'", "button 'Print'",
                "button 'Save to collection'", "heading 'Ingredients'", "button 'Jump to recipe'",
                "combobox 'Servings'", "link 'Reviews (231)'", "button 'Shopping list'", "link 'Next recipe'"]),
}
WEB_TASKS = {
    "shop": ["Find the cheapest USB-C hub with at least 4 ports and add it to the cart",
             "Buy two packs of AA batteries under $10 and apply the code SPRING10",
             "Compare the top three rated standing desks and tell me which is lightest"],
    "travel": ["Find a nonstop flight from Boston to Lisbon on the 14th and pick the cheapest economy fare",
               "Check baggage rules for a business fare to Tokyo", "Book the earliest flight to Denver next Friday"],
    "mail": ["Reply to the overdue invoice email saying payment goes out Friday",
             "Archive every newsletter from this week", "Send Maria the meeting notes with subject 'Q3 notes'"],
    "bank": ["Transfer $250 from checking to savings", "Download last month's statement as PDF",
             "Find every card payment over $100 this month"],
    "crm": ["Create a lead for Acme Robotics with stage Qualified", "Export the pipeline to CSV",
            "Log a call with the last lead and set a follow-up"],
    "gov": ["Fill in the passport renewal form with my details and stop before submitting",
            "Find out which documents the residence permit form needs"],
    "docs": ["Find how to authenticate with an API key in Python and copy the snippet",
             "Check the changelog for breaking changes in version 3"],
    "recipes": ["Find a vegetarian lasagna for 6 people and add the ingredients to the shopping list",
                "Save three quick weeknight pasta recipes to my collection"],
}
ACTIONS = ["click", "type", "scroll", "select", "press", "hover", "wait"]
# What differs from page to page and visitor to visitor: listings, mail rows, fares, records.
ADJ = ["wireless", "compact", "stainless", "foldable", "ergonomic", "waterproof", "refurbished", "organic", "vintage",
       "portable", "heavy-duty", "kids'", "bamboo", "smart", "noise-cancelling", "cast-iron", "LED", "memory-foam"]
THING = ["USB-C hub", "desk lamp", "office chair", "water bottle", "backpack", "air fryer", "headphones", "monitor arm",
         "yoga mat", "coffee grinder", "phone case", "rain jacket", "skillet", "pillow", "keyboard", "tent",
         "blender", "router", "toaster", "dog bed", "drill", "scooter", "kettle", "webcam"]
CITY = ["Boston", "Lisbon", "Denver", "Tokyo", "Austin", "Berlin", "Madrid", "Chicago", "Seoul", "Toronto", "Dublin",
        "Mumbai", "Lima", "Oslo", "Nairobi", "Athens", "Phoenix", "Prague", "Bogota", "Manila"]
TOPIC = ["the invoice", "Saturday's game", "the lease", "our trip", "the school fundraiser", "the dentist", "rent",
         "the quarterly report", "the wedding RSVP", "the broken dishwasher", "my refund", "the team offsite"]


def _content(r: random.Random, site: str) -> str:
    """One line of page content particular to this page view (a listing, a mail row, a fare, a record)."""
    p = f"{r.choice(['$', '€', '£'])}{r.randint(5, 900)}.{r.randint(0, 99):02d}"
    if site in ("shop", "recipes"):
        return f"link '{r.choice(ADJ).capitalize()} {r.choice(THING)} - {p} ({r.randint(3, 2400)} reviews)'"
    if site == "travel":
        return f"row '{r.choice(CITY)} → {r.choice(CITY)} {r.randint(5, 22):02d}:{r.choice(['05', '20', '45'])} {p}'"
    if site == "mail":
        return f"row '{r.choice(NAMES_MAIL)} - {r.choice(TOPIC)} - {r.randint(1, 28)} Mar'"
    if site in ("bank", "crm"):
        return f"row '{r.choice(NAMES_MAIL)} {r.choice(['Ltd', 'LLC', 'GmbH', ''])} {p} {r.randint(1, 28)}/03'"
    if site == "gov":
        return (f"StaticText 'Application {hexid(r, 6).upper()}: {r.choice(['received', 'in review', 'approved'])}, "
                f"{r.randint(1, 28)} Mar'")
    verb = r.choice(["Using", "Configuring", "Migrating", "Testing"])
    return f"link '{verb} {r.choice(THING)}s (v{r.randint(1, 4)})'"


NAMES_MAIL = ["Maria Lopez", "Ken Ito", "Aisha Bello", "Tom Becker", "Priya Nair", "Lars Holm", "Chloe Martin",
              "Diego Ruiz", "Fatma Kaya", "Sam O'Neil", "Wei Zhang", "Olga Petrova", "Nia Mensah", "Raj Patel"]


BRAND = {"shop": "Cartwheel", "travel": "SkyFare", "mail": "Postbox", "bank": "First Harbor Bank", "crm": "PipeDeck",
         "gov": "Citizen Services", "docs": "DevDocs", "recipes": "Home Cook"}
PAGE = {"": "Home", "/search": "Search", "/results": "Results", "/checkout": "Checkout", "/account": "Your account",
        "/list?page=2": "Page 2"}


def ax_tree(r: random.Random, site: str, step: int, style: str = "harness", url: str | None = None) -> str:
    """A snapshot of one page of `site` (what a browser agent sends the model each step): the site's controls (the
    same for every visitor) and this page view's own listings or rows, serialised the way the agent's software
    does it: `harness` ("[id] role 'name'", ids from the harness's node counter), `aria` (an ARIA snapshot,
    '- role "name" [ref=eN]') or `dom` (simplified HTML with data ids). `url`: another address (a company's own
    app built like `site`)."""
    url, els = (url or SITES[site][0]), SITES[site][1]
    path = r.choice(["", "/search", "/results", "/item/" + hexid(r, 6), "/checkout", "/account", "/list?page=2"])
    title = f"{PAGE.get(path, 'Item')} | {BRAND[site] if url == SITES[site][0] else url.split('.')[1].title()}"
    rows = [tuple(e.split(" ", 1)) for e in r.sample(els, r.randint(5, len(els)))]
    rows += [tuple(_content(r, site).split(" ", 1)) for _ in range(r.randint(2, 6))]
    base = r.randint(1, 400)
    if style == "aria":
        body = [f'- {role} "{name.strip(chr(39))}" [ref=e{i + 1}]' for i, (role, name) in enumerate(rows)]
        return f"Page URL: {url}{path}\nPage Title: {title}\n" + "\n".join(body)
    if style == "dom":
        tag = {"button": "button", "link": "a", "textbox": "input", "searchbox": "input", "row": "tr"}
        body = [f"<{tag.get(role, 'div')} data-id={base + i}>{name.strip(chr(39))}</{tag.get(role, 'div')}>"
                for i, (role, name) in enumerate(rows)]
        return f"<!-- {url}{path} -->\n<title>{title}</title>\n" + "\n".join(body)
    body = [f"[{base + i}] {role} {name}" for i, (role, name) in enumerate(rows)]
    return f"URL: {url}{path}\nTitle: {title}\n" + "\n".join(body)


ERRANDS = {
    "shop": ["find a {adj} {thing} under {n} dollars and put it in my cart", "which {thing} has the best reviews here?",
             "compare the cheapest three {thing}s", "add a {thing} to the cart, the {adj} one"],
    "travel": ["flight {c1} to {c2} around the {d}th, cheapest please", "is there a nonstop from {c1} to {c2}?",
               "find me a morning flight to {c2} next week"],
    "mail": ["reply to {who} about {topic}, say I'll call tomorrow", "find the email from {who} about {topic}",
             "archive everything about {topic}"],
    "bank": ["how much did I pay {who} this month", "move {n} to savings", "download my march statement"],
    "crm": ["add {who} as a new lead", "log a call with {who}", "what stage is {who} in"],
    "gov": ["help me fill in this form, stop before submit", "what documents does this form need?"],
    "docs": ["find the example for {topic}", "where's the auth section"],
    "recipes": ["find a quick {adj} dinner for {d} people", "save a recipe with {thing} in it"],
}


def errand(r: random.Random, site: str) -> str:
    """A person's own errand on `site`, in their words."""
    return r.choice(ERRANDS[site]).format(adj=r.choice(ADJ), thing=r.choice(THING), n=r.randint(10, 400),
                                          c1=r.choice(CITY), c2=r.choice(CITY), d=r.randint(2, 28),
                                          who=r.choice(NAMES_MAIL).split()[0], topic=r.choice(TOPIC))


def web_action(r: random.Random, tree: str) -> dict:
    """The model's next action over a snapshot: an element id from it and what to do."""
    ids = [int(a or b or c) for a, b, c in re.findall(r"^\[(\d+)\]|\[ref=e(\d+)\]$|data-id=(\d+)>", tree, re.M)]
    act = r.choice(ACTIONS)
    out: dict = {"action": act, "element": r.choice(ids) if ids and act not in ("scroll", "wait") else None}
    if act == "type":
        out["text"] = r.choice(["usb-c hub 4 port", "Lisbon", "Friday", "Acme Robotics", "250", "lasagna", "Q3 notes"])
    return out


# -- textbook / authors: course subjects and outlines --------------------------------------------------------------

SUBJECTS = {
    "Introductory Statistics": ["Describing data", "Probability rules", "Random variables", "The normal distribution",
                                "Sampling distributions", "Confidence intervals", "Hypothesis tests", "Regression"],
    "Data Structures in Python": ["Arrays and lists", "Stacks and queues", "Hash tables", "Binary trees", "Heaps",
                                  "Graphs and traversal", "Tries", "Amortised analysis"],
    "Organic Chemistry I": ["Bonding and hybridisation", "Acids and bases", "Alkanes", "Stereochemistry",
                            "Substitution reactions", "Elimination reactions", "Alkenes", "Spectroscopy basics"],
    "Microeconomics": ["Supply and demand", "Elasticity", "Consumer choice", "Production and costs",
                       "Perfect competition", "Monopoly", "Game theory", "Market failures"],
    "Linear Algebra": ["Vectors", "Systems of equations", "Matrix algebra", "Determinants", "Vector spaces",
                       "Eigenvalues", "Orthogonality", "Singular value decomposition"],
    "World History 1500-1900": ["The Columbian exchange", "The Reformation", "Absolutism", "The Scientific "
                                "Revolution", "Atlantic revolutions", "Industrialisation", "Empire", "Nationalism"],
    "Operating Systems": ["Processes", "Threads", "Scheduling", "Synchronisation", "Deadlock", "Memory management",
                          "File systems", "Virtualisation"],
    "Cell Biology": ["Membranes", "Organelles", "The cytoskeleton", "Cell signalling", "The cell cycle",
                     "DNA replication", "Transcription", "Translation"],
    "Discrete Mathematics": ["Logic", "Proof techniques", "Sets and functions", "Induction", "Counting",
                             "Recurrence relations", "Graph theory", "Modular arithmetic"],
    "Machine Learning": ["Linear models", "Overfitting", "Decision trees", "Ensembles", "Neural networks",
                         "Optimisation", "Unsupervised learning", "Evaluation"],
    "Personal Finance": ["Budgeting", "Debt", "Saving", "Investing basics", "Retirement accounts", "Insurance",
                         "Taxes", "Buying a home"],
    "Classical Mechanics": ["Kinematics", "Newton's laws", "Work and energy", "Momentum", "Rotation", "Gravitation",
                            "Oscillations", "Fluids"],
}
AUDIENCE = ["first-year undergraduates", "high-school seniors", "self-taught adults", "graduate students",
            "bootcamp learners", "AP students", "community-college students", "engineers switching fields"]


# -- neutral: news snippets for tone and compliance work -------------------------------------------------------------

NEWS_WHO = ["The city council", "A regional hospital", "The transport ministry", "A local football club",
            "Shareholders of a retail chain", "The central bank", "A teachers' union", "Residents of a coastal town",
            "A tech start-up", "The opposition party", "Environmental groups", "The mayor's office"]
NEWS_WHAT = ["voted to raise parking fees by 20 percent", "announced a hiring freeze after losses",
             "delayed the new tram line by two years", "sacked its coach after five straight defeats",
             "rejected the board's pay proposal", "kept interest rates unchanged", "called a one-day strike",
             "protested against a planned resort", "laid off a third of its staff", "accused the government of "
             "hiding budget figures", "sued over a pipeline permit", "cancelled the summer festival"]
NEWS_WHY = ["citing rising costs.", "after weeks of criticism.", "amid a row over funding.", "despite public anger.",
            "in a move critics called reckless.", "following a disappointing quarter.", "to the fury of local shops.",
            "which supporters said was long overdue."]
