"""Token budgets and `degrade` at the gateway.

Output tokens are reserved before a request is forwarded (`output_reserve`: its max_tokens, else a default,
capped) and settled after it (`completion_tokens`: the upstream's usage, else an estimate from the text),
so a stream without `stream_options.include_usage` is charged like any other answer.

What `degrade` does to a request before it is forwarded: every output-size parameter capped, one choice,
no log-probabilities (each would otherwise let a distiller buy back what degrade takes away).

    >>> degrade_payload({"max_tokens": 100000, "max_completion_tokens": 9, "n": 64, "logprobs": True,
    ...                  "top_logprobs": 20}, 256, "max_tokens")
    {'max_tokens': 256, 'max_completion_tokens': 9, 'n': 1}
"""

from __future__ import annotations

from typing import Any

DEFAULT_RESERVE = 256  # output tokens reserved for a request that names no max_tokens
MAX_RESERVE = 4096  # at most this many reserved per request (a budget smaller than that still lets one through)
OUTPUT_CAPS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
ONE_CHOICE = ("n", "best_of")
LOGPROBS = ("logprobs", "top_logprobs")


def degrade_payload(payload: dict[str, Any], cap: int, field: str | None) -> dict[str, Any]:
    """A copy of `payload` with each output cap at most `cap` (and `field` set to `cap` when no cap was
    given), `n`/`best_of` 1 and log-probabilities dropped (also from a Responses `include`)."""
    p = dict(payload)
    for k in OUTPUT_CAPS:
        if k in p:
            v = p[k]
            p[k] = v if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= cap else cap
    if field is not None and not any(k in p for k in OUTPUT_CAPS):
        p[field] = cap
    for k in ONE_CHOICE:
        if k in p:
            p[k] = 1
    for k in LOGPROBS:
        p.pop(k, None)
    inc = p.get("include")
    if isinstance(inc, list):
        p["include"] = [i for i in inc if not (isinstance(i, str) and "logprobs" in i)]
    return p


def output_reserve(max_tokens: int | None) -> int:
    """Output tokens to reserve before forwarding a request."""
    return min(DEFAULT_RESERVE if max_tokens is None else max_tokens, MAX_RESERVE)


def completion_tokens(text: str | None, reported: int | None) -> int:
    """The upstream's completion token count, else an estimate from the completion text (4 characters a
    token), else 0."""
    if reported is not None:
        return reported
    return len(text) // 4 + 1 if text else 0
