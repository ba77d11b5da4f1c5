"""Rows coerced into the log contract (../shared/SCHEMA.md) before they reach the journal.

Upstreams are not always what they claim: OpenAI-compatible servers answer with message content as a list of
parts, token counts as strings or beyond int64, numbers where text belongs. The gateway stores what it can
in the contract's types instead of failing the row (and, before this, the batch it travelled in): content
parts are joined into text, other values become their JSON text, token counts that are not a non-negative
int64 become null.

    >>> coerce_exchange({"completion": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    ...                  "completion_tokens": "12", "prompt_tokens": 2**63})["completion"]
    'a\\nb'
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ..schema import MAX_INT64, MAX_STATUS

_TEXT = ("request_id", "account_id", "api_key_id", "org_id", "ip", "user_agent", "model", "endpoint", "prompt",
         "params", "completion", "conversation_id")
_TOKENS = ("prompt_tokens", "completion_tokens")


def text(value: Any) -> str | None:
    """A string for a text column: content parts joined by newlines, other values as JSON text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        return "\n".join(p["text"] for p in value if isinstance(p.get("text"), str))
    try:
        return orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)


def count(value: Any, top: int = MAX_INT64) -> int | None:
    """A non-negative integer no larger than `top`, or None: '12' -> 12, 12.0 -> 12, True / -1 / 2**63 -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= top else None


def coerce_exchange(row: dict[str, Any]) -> dict[str, Any]:
    """The exchange row (changed in place and returned) with every column in its contract type."""
    for k in _TEXT:
        v = row.get(k)
        if v is not None and not isinstance(v, str):
            row[k] = text(v)
    msgs = row.get("messages")
    if msgs is not None:
        if isinstance(msgs, list):
            row["messages"] = [{"role": text(m.get("role")), "content": text(m.get("content"))}
                               if isinstance(m, dict) else {"role": None, "content": text(m)} for m in msgs]
        else:
            row["messages"] = None
    tools = row.get("tools")
    if tools is not None:
        row["tools"] = [text(t) for t in tools] if isinstance(tools, list) else None
    for k in _TOKENS:
        if k in row:
            row[k] = count(row[k])
    if row.get("status") is not None:
        row["status"] = count(row["status"], MAX_STATUS)
    return row


def coerce_event(row: dict[str, Any]) -> dict[str, Any]:
    """An enforcement event row (in place) in its column types."""
    for k in ("request_id", "account_id", "campaign_id", "action", "code", "reason"):
        v = row.get(k)
        if v is not None and not isinstance(v, str):
            row[k] = text(v)
    if row.get("template_id") is not None:
        t = row["template_id"]
        row["template_id"] = t if isinstance(t, int) and not isinstance(t, bool) and -MAX_INT64 - 1 <= t <= MAX_INT64 \
            else None
    if row.get("status") is not None:
        row["status"] = count(row["status"], MAX_STATUS)
    s = row.get("score")
    if s is not None and (isinstance(s, bool) or not isinstance(s, int | float)):
        row["score"] = None
    return row


def refused_prompt_note(messages: list[dict[str, Any]] | None, prompt: str | None) -> str:
    """What is kept of a refused request's input: its size and SHA-256 (the same input gives the same note),
    so a flood of refused 1 MB prompts costs the store a line each."""
    h = hashlib.sha256()
    n = 0
    for m in messages or []:
        c = (text(m.get("content")) or "").encode("utf-8", "surrogatepass")
        h.update(str(m.get("role")).encode() + b"\0" + c + b"\0")
        n += len(c)
    if prompt is not None:
        c = prompt.encode("utf-8", "surrogatepass")
        h.update(c)
        n += len(c)
    return f"prompt not kept: {n} bytes, sha256 {h.hexdigest()}"
