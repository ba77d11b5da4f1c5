"""Odd and malformed records for the stability check ("a few hundred odd records move no verdict").

They go on existing accounts (legitimate and campaign alike), so labels do not change. Some are valid but
unusual (extreme timestamps, content-part lists, null content, huge or empty text, extra fields, repeats of
an existing request id, params as a JSON string, error statuses); some break the contract and must be
rejected by ingest with a reason (no model, unparsable time, messages of the wrong type).
"""

from __future__ import annotations

import copy
import json
import random

from probekit.world import Log, hexid


def _valid(r: random.Random, base: dict, k: int) -> dict:
    rec = copy.deepcopy(base)
    rec["request_id"] = "req_" + hexid(r, 20)
    if k == 0:
        rec["ts"] = r.choice(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z",
                              "2099-06-01T12:00:00+14:00"])
    elif k == 1:
        rec["messages"] = [{"role": "user", "content": [{"type": "text", "text": "part one"},
                                                         {"type": "image_url", "image_url": {"url": "data:,"}},
                                                         {"type": "text", "text": "part two"}]}]
    elif k == 2:
        rec["messages"] = [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_x", "type": "function", "function": {"name": "noop", "arguments": "{}"}}]}]
    elif k == 3:
        rec["messages"] = [{"role": "user", "content": "x" * r.choice([0, 1, 200_000])}]
    elif k == 4:
        rec["unexpected_field"] = {"nested": [1, 2, 3]}
        rec["user_agent"] = "\u202e\u0000weird\U0001f600" * 3
    elif k == 5:
        rec["request_id"] = base["request_id"]  # the same exchange again: dedupe, don't double count
    elif k == 6:
        rec["params"] = json.dumps({"temperature": 2, "top_p": 0, "n": 128, "max_tokens": 10**9})
    elif k == 7:
        rec["status"] = r.choice([400, 429, 500, 503])
        rec.pop("completion", None)
        rec["completion_tokens"] = 0
    else:
        rec["ip"] = r.choice(["::1", "0.0.0.0", "255.255.255.255", "fe80::1%eth0", "10.0.0.1"])
    return rec


def _broken(r: random.Random, base: dict, k: int) -> dict:
    rec = copy.deepcopy(base)
    rec["request_id"] = "req_" + hexid(r, 20)
    if k == 0:
        rec.pop("model", None)
    elif k == 1:
        rec["ts"] = r.choice(["yesterday", "2026-13-45T99:99:99Z", ""])
    else:
        rec["messages"] = r.choice(["not a list", 42, [{"content": "no role"}]])
        rec.pop("prompt", None)
    return rec


def add_odd(log: Log, r: random.Random, n: int) -> None:
    """Append n odd records (about one in five malformed) built on random existing exchanges."""
    if not log.rows:
        return
    bases = r.sample(log.rows, k=min(n, len(log.rows)))
    for i in range(n):
        base = bases[i % len(bases)]
        log.rows.append(_broken(r, base, i % 3) if r.random() < 0.2 else _valid(r, base, i % 9))
