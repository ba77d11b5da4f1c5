"""Identity and infrastructure generators shared by every actor, legitimate or not.

Account, key, org, request and conversation ids, IP addresses, User-Agents, e-mail domains, payment
fingerprints and sampling-parameter habits all come from here, so a campaign account can only differ
from a real user by what it *does* (how it draws from these pools), never by an id format or a value no
real user has.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import orjson

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 finaliser of `x ^ salt`: a bijection on uint64, so distinct inputs give distinct ids."""
    z = (x.astype(np.uint64) ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)) + np.uint64(0x9E3779B97F4A7C15)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hex_ids(counter: np.ndarray, salt: int, prefix: str, width: int = 32) -> np.ndarray:
    """Random-looking unique hex ids (`prefix` + `width` hex chars) for distinct uint64 counters."""
    words = [mix64(counter, salt + 7919 * i) for i in range((width + 15) // 16)]
    raw = np.stack(words, axis=1).view(np.uint8).reshape(len(counter), -1)
    nib = np.empty((len(counter), raw.shape[1] * 2), dtype=np.uint8)
    nib[:, 0::2] = _HEX[raw >> 4]
    nib[:, 1::2] = _HEX[raw & 15]
    body = np.ascontiguousarray(nib[:, :width]).view(f"S{width}").ravel()
    return np.char.add(prefix.encode(), body) if prefix else body


def b62_ids(counter: np.ndarray, salt: int, prefix: str, width: int = 24) -> np.ndarray:
    """Unique base-62 ids like `user-Xk3…` (the first 10 chars encode a bijection of the counter)."""
    words = [mix64(counter, salt + 104729 * i) for i in range((width + 9) // 10)]
    digits = np.empty((len(counter), width), dtype=np.uint8)
    for j in range(width):
        w = words[j // 10]
        digits[:, j] = _B62[(w % np.uint64(62)).astype(np.int64)]
        words[j // 10] = w // np.uint64(62)
    return np.char.add(prefix.encode(), digits.view(f"S{width}").ravel())


def uuid_ids(counter: np.ndarray, salt: int) -> np.ndarray:
    """UUID-4-shaped ids (as web clients send for conversation ids)."""
    h = hex_ids(counter, salt, "", 32).view(np.uint8).reshape(len(counter), 32)
    out = np.full((len(counter), 36), ord("-"), dtype=np.uint8)
    for dst, lo, hi in ((0, 0, 8), (9, 8, 12), (14, 12, 16), (19, 16, 20), (24, 20, 32)):
        out[:, dst:dst + hi - lo] = h[:, lo:hi]
    out[:, 14] = ord("4")
    out[:, 19] = np.frombuffer(b"89ab", dtype=np.uint8)[h[:, 16] & 3]
    return out.view("S36").ravel()


# --- IP space -------------------------------------------------------------------------------------------
# One address space for everybody. Residential and mobile prefixes are where home users AND residential
# proxy exits live; datacenter prefixes host developer back-ends, batch jobs AND cheap proxies.

_PREFIXES = np.random.default_rng(20260222)


def _prefix_bank(n: int, firsts: Sequence[int]) -> np.ndarray:
    a = _PREFIXES.choice(np.array(firsts), n)
    b = _PREFIXES.integers(0, 256, n)
    return (a << 8) | b


RESIDENTIAL = _prefix_bank(2400, [24, 31, 37, 46, 49, 58, 59, 60, 61, 71, 73, 76, 79, 81, 82, 84, 86, 88, 90,
                                  93, 94, 95, 98, 101, 106, 110, 112, 113, 114, 115, 116, 117, 118, 121, 122,
                                  123, 124, 125, 153, 171, 175, 176, 177, 178, 180, 182, 183, 187, 189, 190,
                                  191, 197, 200, 201, 211, 212, 213, 217, 218, 219, 220, 221, 222, 223])
MOBILE = _prefix_bank(300, [39, 42, 100, 106, 111, 117, 166, 172, 174, 176, 185, 188])
DATACENTER = _prefix_bank(420, [3, 13, 18, 20, 34, 35, 40, 44, 45, 47, 52, 54, 64, 66, 104, 107, 128, 134,
                                137, 138, 139, 143, 146, 149, 157, 159, 161, 162, 165, 167, 168, 170, 185,
                                192, 193, 194, 195, 198, 199, 204, 206, 207, 209])
IP_KINDS = {"residential": RESIDENTIAL, "mobile": MOBILE, "datacenter": DATACENTER}


def draw_ip_ints(rng: np.random.Generator, n: int, kind: str, zipf: float = 0.0) -> np.ndarray:
    """`n` IPv4 addresses (as uint32) of one kind; `zipf` > 0 concentrates them on popular prefixes."""
    bank = IP_KINDS[kind]
    if zipf > 0:
        w = 1.0 / np.arange(1, len(bank) + 1) ** zipf
        pre = bank[rng.choice(len(bank), n, p=w / w.sum())]
    else:
        pre = bank[rng.integers(0, len(bank), n)]
    host = rng.integers(0, 65536, n)
    host = np.where((host & 255) == 0, host | 1, host)  # .0 hosts are rare in logs
    return ((pre.astype(np.uint64) << np.uint64(16)) | host.astype(np.uint64)).astype(np.uint32)


def ip_strings(ints: np.ndarray, v6: np.ndarray | None = None) -> list[str]:
    """Dotted IPv4 strings; where `v6` is set, an IPv6 address derived from the same number."""
    out = []
    for i, x in enumerate(ints.tolist()):
        if v6 is not None and v6[i]:
            h = (x * 2654435761) & 0xFFFFFFFF
            out.append(f"2a0{(x >> 28) & 7}:{(x >> 12) & 0xffff:x}:{x & 0xfff:x}:{h >> 16:x}::{h & 0xffff:x}")
        else:
            out.append(f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}")
    return out


# --- User-Agents ----------------------------------------------------------------------------------------

UA_FAMILIES: dict[str, list[str]] = {
    "sdk-python": [f"OpenAI/Python {v}" for v in ("1.54.4", "1.68.2", "1.82.0", "1.97.1", "2.3.0", "2.8.1")],
    "sdk-node": [f"OpenAI/JS {v}" for v in ("4.73.0", "4.98.0", "5.10.2", "5.23.1", "6.2.0")],
    "async-python": [f"AsyncOpenAI/Python {v}" for v in ("1.82.0", "1.97.1", "2.3.0", "2.8.1")],
    "browser": [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{} Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{} "
        "Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{} Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
        "Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{}) Gecko/20100101 Firefox/{}",
    ],
    "app": ["NovaChat/{} (iPhone; iOS 18.{}; Scale/3.00)", "NovaChat/{} (Android 15; Pixel 8)",
            "NovaChat/{} (Macintosh; macOS 15.{})", "NovaChat-Desktop/{} (Windows 11)"],
    "http-lib": ["python-requests/2.31.0", "python-requests/2.32.3", "python-httpx/0.27.2", "python-httpx/0.28.1",
                 "aiohttp/3.9.5", "aiohttp/3.11.11", "curl/8.5.0", "curl/8.9.1", "Go-http-client/2.0",
                 "okhttp/4.12.0", "axios/1.7.9"],
    "framework": ["langchain-openai/0.2.14", "langchain-openai/0.3.9", "litellm/1.55.3", "litellm/1.63.0",
                  "llama-index/0.12.8", "Vercel-AI-SDK/4.1", "openai-java/0.22.0", "openai-go/0.1.0"],
}


def ua_strings(rng: np.random.Generator) -> list[tuple[str, str]]:
    """The User-Agent catalogue: (family, string) with browser/app versions filled in."""
    out: list[tuple[str, str]] = []
    for fam, items in UA_FAMILIES.items():
        for s in items:
            if "{}" not in s:
                out.append((fam, s))
                continue
            for _ in range(6):
                if fam == "browser":
                    v = f"{rng.integers(128, 136)}.0.{rng.integers(6000, 7200)}.{rng.integers(40, 200)}"
                    vals = [v, v] if "Firefox" not in s else [str(rng.integers(128, 136)) + ".0"] * 2
                else:
                    vals = [f"{rng.integers(2, 4)}.{rng.integers(0, 20)}.{rng.integers(0, 9)}",
                            str(rng.integers(0, 6))]
                out.append((fam, s.replace("{}", vals[0], 1).replace("{}", vals[1], 1)))
    return out


# --- accounts -------------------------------------------------------------------------------------------

FREE_MAIL = ["gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "proton.me", "qq.com",
             "163.com", "126.com", "foxmail.com", "gmx.de", "yandex.ru", "mail.ru", "naver.com", "aol.com",
             "live.com", "protonmail.com", "tutanota.com", "zoho.com", "yahoo.co.jp"]
FREE_MAIL_W = np.array([40, 12, 6, 5, 5, 3, 6, 3, 1.5, 1, 1.5, 1.2, 1, 1, 0.6, 1.5, 1, 0.4, 0.5, 0.8])
COUNTRIES = ["US", "IN", "GB", "DE", "BR", "CA", "FR", "JP", "KR", "SG", "AU", "NL", "ES", "IT", "PL", "ID",
             "VN", "MX", "TR", "HK", "TW", "SE", "CH", "IL", "NG", "PH", "UA", "AR", "ZA", "MY"]
COUNTRY_W = np.array([30, 12, 7, 6, 4, 4, 4, 4, 3, 3, 2.5, 2, 2, 2, 1.5, 2, 1.5, 1.5, 1.2, 1.2, 1.2, 1, 1, 1,
                      1, 1, 0.8, 0.8, 0.6, 0.8])
# UTC offsets (hours) per country, for diurnal rhythm
COUNTRY_TZ = np.array([-6, 5.5, 0, 1, -3, -5, 1, 9, 9, 8, 10, 1, 1, 1, 1, 7, 7, -6, 3, 8, 8, 1, 1, 2, 1, 8, 2,
                       -3, 2, 8])
_WORDS = ("acme nova blue north bright apex lumen delta vertex quanta orbit pixel atlas cedar harbor summit "
          "river stone maple cobalt ember falcon granite horizon iris juniper kestrel lattice meridian nimbus "
          "onyx prism quartz raven sierra tundra umber vela willow xenon yarrow zephyr").split()
_TLDS = ["com", "io", "ai", "co", "net", "de", "co.uk", "dev", "tech", "app"]


def free_mail(rng: np.random.Generator, n: int) -> list[str]:
    """`n` free-mail domains drawn by popularity."""
    return [FREE_MAIL[i] for i in rng.choice(len(FREE_MAIL), n, p=FREE_MAIL_W / FREE_MAIL_W.sum())]


def org_domains(rng: np.random.Generator, n: int, edu: bool = False) -> list[str]:
    """Plausible company (or university) e-mail domains, one per organisation."""
    a = rng.choice(len(_WORDS), n)
    b = (a + rng.integers(1, len(_WORDS), n)) % len(_WORDS)  # two different words
    if edu:
        return [f"{_WORDS[i]}{_WORDS[j][:3]}.edu" for i, j in zip(a, b, strict=True)]
    t = rng.choice(len(_TLDS), n)
    return [f"{_WORDS[i]}{_WORDS[j]}.{_TLDS[k]}" for i, j, k in zip(a, b, t, strict=True)]


# --- sampling parameters --------------------------------------------------------------------------------
# Every actor draws its habits from the same value vocabulary; only the weights differ.

TEMPERATURE = [None, 0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2]
TOP_P = [None, 0.8, 0.9, 0.95, 1.0]
MAX_TOKENS = [None, 64, 128, 256, 512, 800, 1000, 1024, 1500, 2000, 2048, 4000, 4096, 8000, 8192, 16000, 16384,
              32000, 32768]
STREAM = [None, True, False]


class ParamsCatalogue:
    """Interned JSON `params` strings: actors ask for habits and get stable indices."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.max_tokens: list[int] = []
        self._index: dict[str, int] = {}

    def habit(self, rng: np.random.Generator, style: dict[str, np.ndarray], n: int) -> np.ndarray:
        """`n` parameter sets drawn from a style (weights over TEMPERATURE/TOP_P/MAX_TOKENS/STREAM)."""
        cols = {}
        for key, vocab in (("temperature", TEMPERATURE), ("top_p", TOP_P), ("max_tokens", MAX_TOKENS),
                           ("stream", STREAM)):
            w = style[key]
            cols[key] = rng.choice(len(vocab), n, p=w / w.sum())
        seeded = rng.random(n) < float(style.get("seed", np.array([0.0]))[0])
        seeds = rng.integers(0, 100000, n)
        out = np.empty(n, dtype=np.int32)
        for i in range(n):
            p: dict[str, object] = {}
            for key, vocab in (("temperature", TEMPERATURE), ("top_p", TOP_P), ("max_tokens", MAX_TOKENS),
                               ("stream", STREAM)):
                v = vocab[cols[key][i]]
                if v is not None:
                    p[key] = v
            if seeded[i]:
                p["seed"] = int(seeds[i] % 1000) if seeds[i] % 3 else 42
            s = orjson.dumps(p, option=orjson.OPT_SORT_KEYS).decode()
            idx = self._index.get(s)
            if idx is None:
                idx = self._index[s] = len(self.strings)
                self.strings.append(s)
                mt = p.get("max_tokens")
                self.max_tokens.append(int(mt) if isinstance(mt, int) else 0)
            out[i] = idx
        return out


def style(temperature: Sequence[float], top_p: Sequence[float], max_tokens: Sequence[float],
          stream: Sequence[float], seed: float = 0.0) -> dict[str, np.ndarray]:
    """A parameter style: weights over the shared vocabularies (same order as the module constants)."""
    return {"temperature": np.asarray(temperature, float), "top_p": np.asarray(top_p, float),
            "max_tokens": np.asarray(max_tokens, float), "stream": np.asarray(stream, float),
            "seed": np.array([seed])}
