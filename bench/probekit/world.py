"""Accounts, network, clients, clocks and the log writer shared by every probe family.

Each family draws from its own `random.Random` stream (seeded from the run seed and the family's name), so
adding, removing or resizing one family never changes another family's traffic.
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
DAYS = 14
END = T0 + timedelta(days=DAYS)

STRONG = ["frontier-1", "gpt-4o", "o3-mini"]
ALL_MODELS = ["frontier-1", "frontier-1-mini", "gpt-4o", "gpt-4o-mini", "o3-mini"]
EMAIL = ["gmail.com"] * 6 + ["outlook.com"] * 2 + ["yahoo.com", "hotmail.com", "proton.me", "icloud.com",
                                                   "qq.com", "gmx.de", "web.de", "mail.ru", "naver.com"]
COUNTRIES = {"US": -5, "CA": -5, "BR": -3, "MX": -6, "GB": 0, "DE": 1, "FR": 1, "PL": 1, "ES": 1, "NG": 1,
             "IN": 5.5, "VN": 7, "ID": 7, "CN": 8, "SG": 8, "JP": 9, "KR": 9, "AU": 10}
COUNTRY_W = {"US": 30, "CA": 4, "BR": 5, "MX": 3, "GB": 7, "DE": 7, "FR": 5, "PL": 2, "ES": 3, "NG": 2, "IN": 10,
             "VN": 2, "ID": 2, "CN": 3, "SG": 2, "JP": 4, "KR": 3, "AU": 3}
# Local-hour activity weights of a person (low at night, peaks late morning and evening).
HUMAN_HOURS = [0.35, 0.18, 0.1, 0.07, 0.07, 0.12, 0.35, 0.75, 1.1, 1.4, 1.55, 1.5, 1.3, 1.35, 1.5, 1.5, 1.4,
               1.3, 1.3, 1.45, 1.6, 1.5, 1.15, 0.7]
WORK_HOURS = [0.05, 0.03, 0.02, 0.02, 0.02, 0.05, 0.2, 0.7, 1.5, 2.0, 2.0, 1.8, 1.2, 1.7, 2.0, 1.9, 1.7, 1.2,
              0.6, 0.35, 0.3, 0.25, 0.15, 0.08]

# Consumer ISP /16s (residential), cloud /16s (datacenter), as plausible-looking prefixes.
RESIDENTIAL = ["24.{}", "67.{}", "73.{}", "76.{}", "98.{}", "99.{}", "108.{}", "174.{}", "2.{}", "5.{}", "31.{}",
               "37.{}", "46.{}", "62.{}", "77.{}", "79.{}", "82.{}", "86.{}", "88.{}", "92.{}", "94.{}", "109.{}",
               "177.{}", "179.{}", "187.{}", "189.{}", "191.{}", "27.{}", "49.{}", "58.{}", "59.{}", "101.{}",
               "106.{}", "110.{}", "112.{}", "114.{}", "115.{}", "117.{}", "121.{}", "122.{}", "125.{}", "182.{}",
               "183.{}", "197.{}", "41.{}", "102.{}", "105.{}"]
CLOUD = ["3.{}", "13.{}", "18.{}", "34.{}", "35.{}", "44.{}", "52.{}", "54.{}", "20.{}", "40.{}", "104.{}",
         "137.{}", "138.{}", "139.{}", "142.93", "143.198", "146.190", "157.245", "159.65", "159.89", "161.35",
         "164.90", "165.22", "167.71", "167.172", "178.62", "178.128", "185.199", "188.166", "192.241", "45.76",
         "45.77", "64.227", "66.42", "95.179", "116.203", "128.140", "135.181", "65.108", "5.161"]


def ip_residential(r: random.Random) -> str:
    """A consumer address (about 8 % IPv6)."""
    if r.random() < 0.08:
        a, b, c, d = r.randrange(0x1000, 0xffff), r.randrange(0xffff), r.randrange(0xffff), r.randrange(1, 0xffff)
        return f"2a02:{a:x}:{b:x}:{c:x}::{d:x}"
    p = r.choice(RESIDENTIAL).format(r.randrange(256))
    return f"{p}.{r.randrange(256)}.{r.randrange(1, 255)}"


def cloud_block(r: random.Random) -> str:
    """A datacenter /24 prefix, e.g. '52.14.7'."""
    p = r.choice(CLOUD)
    if p.count(".") == 0 or "{}" in p:
        p = p.format(r.randrange(256))
    return f"{p}.{r.randrange(256)}"


def in_block(r: random.Random, block: str) -> str:
    """A host in a /24 prefix."""
    return f"{block}.{r.randrange(2, 254)}"


def _ver(r: random.Random, a: int, b: int) -> int:
    return r.randint(a, b)


def ua_browser(r: random.Random) -> str:
    """A real-looking browser user agent with a varied version."""
    k = r.random()
    if k < 0.45:
        os_ = r.choice(["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64"])
        v = _ver(r, 118, 126)
        return f"Mozilla/5.0 ({os_}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
    if k < 0.62:
        v = _ver(r, 15, 17)
        return (f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{v}.{_ver(r, 0, 6)} Safari/605.1.15")
    if k < 0.75:
        v = _ver(r, 115, 126)
        os_ = r.choice(["Windows NT 10.0; Win64; x64; rv:{v}.0", "X11; Ubuntu; Linux x86_64; rv:{v}.0"]).format(v=v)
        return f"Mozilla/5.0 ({os_}) Gecko/20100101 Firefox/{v}.0"
    if k < 0.87:
        v = _ver(r, 16, 17)
        return (f"Mozilla/5.0 (iPhone; CPU iPhone OS {v}_{_ver(r, 0, 5)} like Mac OS X) AppleWebKit/605.1.15 "
                f"(KHTML, like Gecko) Version/{v}.0 Mobile/15E148 Safari/604.1")
    v = _ver(r, 119, 126)
    return (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 "
            f"Safari/537.36 Edg/{v}.0.{_ver(r, 1000, 2500)}.{_ver(r, 10, 99)}")


def ua_sdk(r: random.Random) -> str:
    """An API client library user agent."""
    return r.choice([
        f"OpenAI/Python {_ver(r, 1, 1)}.{_ver(r, 30, 58)}.{_ver(r, 0, 3)}",
        f"OpenAI/Python {_ver(r, 1, 1)}.{_ver(r, 30, 58)}.{_ver(r, 0, 3)}",
        f"OpenAI/JS {_ver(r, 4, 4)}.{_ver(r, 40, 77)}.{_ver(r, 0, 2)}",
        f"python-requests/2.{_ver(r, 28, 32)}.{_ver(r, 0, 3)}",
        f"python-httpx/0.{_ver(r, 25, 28)}.{_ver(r, 0, 1)}",
        f"axios/1.{_ver(r, 4, 7)}.{_ver(r, 0, 9)}",
        "Go-http-client/2.0", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        f"curl/8.{_ver(r, 1, 8)}.{_ver(r, 0, 1)}", f"okhttp/4.{_ver(r, 9, 12)}.0",
        f"aiohttp/3.{_ver(r, 8, 10)}.{_ver(r, 0, 5)}"])


def hexid(r: random.Random, n: int = 12) -> str:
    """Random lowercase hex of length n from the stream."""
    return f"{r.getrandbits(4 * n):0{n}x}"


@dataclass
class Acct:
    """One account: identity, ground truth and how its client and network behave."""

    account_id: str
    actor: str  # "campaign:<family>" or "legit:<kind>"
    family: str
    campaign: str = ""
    created: datetime = T0
    email: str = "gmail.com"
    payment: str = ""
    signup_ip: str = ""
    country: str = "US"
    verified: bool = True
    tier: str = "pay-as-you-go"
    org: str | None = None
    tz: float = 0.0
    ua: str = ""
    ip_mode: str = "home"  # home | per-day | per-request | pool
    ips: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    sends_conv: bool = False
    model: str = "gpt-4o"
    _day_ip: dict[int, str] = field(default_factory=dict)


class Log:
    """Collects the exchanges and accounts of all families and writes the contract files."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rows: list[dict] = []
        self.accts: list[Acct] = []
        self._ids: set[str] = set()

    # -- accounts -------------------------------------------------------------------------------------------
    def account(self, r: random.Random, actor: str, campaign: str = "", country: str | None = None,
                created: datetime | None = None, **kw: object) -> Acct:
        """A new account; identity defaults drawn like an ordinary sign-up, overridable by keyword."""
        while True:
            aid = "acct_" + hexid(r, 14)
            if aid not in self._ids:
                break
        self._ids.add(aid)
        c = country or r.choices(list(COUNTRY_W), weights=list(COUNTRY_W.values()))[0]
        home = ip_residential(r)
        a = Acct(account_id=aid, actor=actor, family=actor.split(":", 1)[1], campaign=campaign,
                 created=created or (T0 - timedelta(days=r.uniform(2, 900))), email=r.choice(EMAIL),
                 payment="pm_" + hexid(r, 16), signup_ip=home, country=c,
                 tz=COUNTRIES[c] + r.choice([0, 0, 0, -1, 1]), ua=ua_browser(r), ips=[home],
                 keys=["key_" + hexid(r, 10)], model=r.choice(ALL_MODELS))
        for k, v in kw.items():
            if not hasattr(a, k):
                raise TypeError(f"Acct has no field {k}")
            setattr(a, k, v)
        self.accts.append(a)
        return a

    # -- exchanges ------------------------------------------------------------------------------------------
    def ip_for(self, r: random.Random, a: Acct, ts: datetime) -> str:
        """The client address of one request, following the account's network habit."""
        if a.ip_mode == "per-request":
            return ip_residential(r)
        if a.ip_mode == "pool":
            return r.choice(a.ips)
        day = (ts - T0).days
        if a.ip_mode == "per-day":
            if day not in a._day_ip:
                a._day_ip[day] = ip_residential(r)
            return a._day_ip[day]
        # home: the home address, renewed every ~5 days, sometimes mobile data
        if r.random() < 0.06:
            return ip_residential(r)
        k = day // 5
        while len(a.ips) <= k:
            a.ips.append(ip_residential(r) if r.random() < 0.5 else a.ips[-1])
        return a.ips[k]

    def add(self, r: random.Random, a: Acct, ts: datetime, messages: list[dict] | None = None, *,
            completion: str | None = "", tools: list[dict] | None = None, params: dict | None = None,
            model: str | None = None, conv: str | None = None, prompt: str | None = None, status: int = 200,
            ip: str | None = None, ua: str | None = None, max_completion_chars: int = 1200) -> None:
        """Append one exchange (token counts from the text, ~3.9 characters a token)."""
        if ts >= END:
            return
        text_len = len(prompt or "") + sum(len(m.get("content") or "") + 12 for m in messages or [])
        tool_len = sum(len(orjson.dumps(t)) for t in tools or [])
        rid = "req_" + hexid(r, 20)
        if status == 200 and int(rid[-3:], 16) < 12:  # ~0.3 % upstream errors for everyone (no extra draw)
            status = 500 if rid[-4] < "8" else 503
        comp = completion if status == 200 else None
        full = len(comp or "")
        if comp is not None and len(comp) > max_completion_chars:
            comp = comp[:max_completion_chars]
        rec: dict = {"request_id": rid,
                     "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
                     "account_id": a.account_id, "api_key_id": r.choice(a.keys),
                     "ip": ip if ip is not None else self.ip_for(r, a, ts), "user_agent": ua or a.ua,
                     "model": model or a.model}
        if prompt is not None:
            rec["endpoint"] = "/v1/completions"
            rec["prompt"] = prompt
        else:
            rec["messages"] = messages
        if a.org:
            rec["org_id"] = a.org
        if tools:
            rec["tools"] = [t["name"] for t in tools]
        if params:
            rec["params"] = params
        if comp is not None:
            rec["completion"] = comp
        rec["prompt_tokens"] = int(math.ceil((text_len + tool_len) / 3.9)) + 3
        rec["completion_tokens"] = int(math.ceil(full / 3.9)) + 1 if comp is not None else 0
        if params and params.get("max_tokens"):
            rec["completion_tokens"] = min(rec["completion_tokens"], int(params["max_tokens"]))
        if params and isinstance(params.get("n"), int) and params["n"] > 1:  # n samples billed, first one logged
            rec["completion_tokens"] *= params["n"]
        rec["status"] = status
        if conv:
            rec["conversation_id"] = conv
        self.rows.append(rec)

    # -- output ---------------------------------------------------------------------------------------------
    def write(self, out: Path, scrub: bool = False, gz: bool = False) -> dict[str, Path]:
        """Write exchanges (time-ordered JSONL), accounts.jsonl and labels.csv into `out`."""
        out.mkdir(parents=True, exist_ok=True)
        self.rows.sort(key=lambda x: (str(x.get("ts", "")), x["request_id"]))
        log_path = out / ("exchanges.jsonl.gz" if gz else "exchanges.jsonl")
        for p in (out / "exchanges.jsonl", out / "exchanges.jsonl.gz"):
            p.unlink(missing_ok=True)
        if gz:
            import gzip
            f = gzip.open(log_path, "wb", compresslevel=1)
        else:
            f = open(log_path, "wb")  # noqa: SIM115
        with f:
            buf = []
            for rec in self.rows:
                if scrub:
                    rec["ip"] = ""
                    rec["user_agent"] = ""
                buf.append(orjson.dumps(rec))
                if len(buf) >= 5000:
                    f.write(b"\n".join(buf) + b"\n")
                    buf = []
            if buf:
                f.write(b"\n".join(buf) + b"\n")
        seen = {x["account_id"] for x in self.rows}
        accts = [a for a in self.accts if a.account_id in seen]
        acc_path = out / "accounts.jsonl"
        with open(acc_path, "wb") as f:
            for a in accts:
                f.write(orjson.dumps({
                    "account_id": a.account_id, "created_at": a.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "email_domain": a.email, "payment_fingerprint": a.payment,
                    "signup_ip": "" if scrub else a.signup_ip, "country": a.country, "verified": a.verified,
                    "tier": a.tier}) + b"\n")
        lab_path = out / "labels.csv"
        with open(lab_path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["account_id", "campaign_id", "actor", "family"])
            for a in accts:
                w.writerow([a.account_id, a.campaign, a.actor, a.family])
        return {"log": log_path, "accounts": acc_path, "labels": lab_path}


# -- clocks -----------------------------------------------------------------------------------------------

def _hour_pick(r: random.Random, weights: list[float]) -> float:
    return r.choices(range(24), weights=weights)[0] + r.random()


def day_start(day: int) -> datetime:
    """Midnight UTC of probe day `day`."""
    return T0 + timedelta(days=day)


def scaled(base: float, scale: float, lo: int = 1) -> int:
    """How many of something a family has at `scale` (`base` at scale 1), at least `lo`."""
    return max(lo, int(round(base * scale)))


def local_time(a: Acct, day: int, hour: float) -> datetime:
    """Local `hour` of probe day `day` in the account's zone, as UTC (moved a day on if before the log opens)."""
    t = day_start(day) + timedelta(hours=hour - a.tz)
    return t + timedelta(days=1) if t < T0 else t


def days_ago(r: random.Random, lo: float, hi: float) -> datetime:
    """A moment `lo` to `hi` days before the log opens (an account's creation)."""
    return T0 - timedelta(days=r.uniform(lo, hi))


def tiered_user(log: Log, r: random.Random, actor: str, weights: list[int], sdk_share: float,
                rates: dict[str, tuple[float, float, float, float]]) -> tuple[Acct, float, float]:
    """An everyday user of one of the `rates` tiers (light, medium, heavy, drawn by `weights`), a share
    `sdk_share` of them scripting with an SDK: the account, and its tier's share of active days and sessions per
    active day, each drawn uniformly from its (lo, hi) pair in `rates` (p_lo, p_hi, per_lo, per_hi)."""
    tier = r.choices(list(rates), weights=weights)[0]
    a = log.account(r, actor, tier=r.choice(["free", "free", "plus", "pay-as-you-go"]))
    if r.random() < sdk_share:
        a.ua = ua_sdk(r)
    drawn = {k: (r.uniform(p0, p1), r.uniform(s0, s1)) for k, (p0, p1, s0, s1) in rates.items()}
    return a, *drawn[tier]


def human_session_starts(r: random.Random, a: Acct, days: list[int], per_day: float,
                         hours: list[float] | None = None, weekend: float = 0.8) -> list[datetime]:
    """Session start times: Poisson count per active day at human local hours in the account's zone."""
    out = []
    w = hours or HUMAN_HOURS
    for d in days:
        wd = (T0 + timedelta(days=d)).weekday()
        lam = per_day * (weekend if wd >= 5 else 1.0)
        n = poisson(r, lam)
        for _ in range(n):
            h = _hour_pick(r, w) - a.tz
            out.append(day_start(d) + timedelta(hours=h))
    out.sort()
    return [t for t in out if T0 <= t < END]


def poisson(r: random.Random, lam: float) -> int:
    """Poisson draw (Knuth for small means, normal approximation above 30)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(r.gauss(lam, math.sqrt(lam)))))
    lim, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= lim:
            return k
        k += 1


def flat_times(r: random.Random, start: datetime, end: datetime, per_day: float,
               amp: float = 0.0, phase_h: float = 0.0) -> list[datetime]:
    """A Poisson process over [start, end) with optional daily modulation of relative amplitude `amp`."""
    out, t = [], start
    peak = per_day * (1 + amp) / 86400
    while True:
        t = t + timedelta(seconds=r.expovariate(peak))
        if t >= end:
            return out
        if amp:
            h = (t.hour + t.minute / 60 - phase_h) / 24 * 2 * math.pi
            if r.random() > (1 + amp * math.cos(h)) / (1 + amp):
                continue
        out.append(t)


def think(r: random.Random, lo: float = 15, med: float = 70) -> timedelta:
    """A person's pause between two requests (lognormal around `med` seconds, at least `lo`)."""
    return timedelta(seconds=max(lo, r.lognormvariate(math.log(med), 0.7)))


def active_days(r: random.Random, first: int = 0, last: int = DAYS, p: float = 0.6) -> list[int]:
    """Days in [first, last) on which an account is active."""
    return [d for d in range(first, last) if r.random() < p]


def stream(seed: int, name: str) -> random.Random:
    """The independent random stream of one family."""
    return random.Random(int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big"))
