"""OpenAI wire format: request validation, error bodies, and reading (or editing) responses and SSE.

Bad client input becomes a `ClientError` with an HTTP status and a machine-readable code, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..schema import ROLES, prompt_text
from . import contract

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
               404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
               429: "rate_limit_error", 500: "server_error", 502: "upstream_error", 503: "service_unavailable",
               504: "upstream_error"}

# what the client is told; the detailed reason stays in the gateway's log
MESSAGES = {
    "invalid_api_key": "Incorrect or revoked API key provided.",
    "rate_limited": "Rate limit reached for this account. Retry after the time in the Retry-After header.",
    "campaign_rate_limited": "Rate limit reached. Retry after the time in the Retry-After header.",
    "verification_required": "This account must complete verification before it can make further requests.",
    "account_blocked": "This account has been blocked for violating the usage policies.",
    "state_unavailable": "The service is temporarily unavailable. Retry shortly.",
    "upstream_error": "The model server could not be reached. Retry shortly.",
    "upstream_timeout": "The model server did not answer in time. Retry shortly.",
    "upstream_auth_failed": "Upstream authentication failed (operator configuration): the model server refused "
                            "the gateway's own credential. This is not a problem with your API key; the "
                            "gateway's operator must fix it.",
    "not_found": "Unknown request URL. See /openapi.json for the endpoints this gateway serves.",
    "method_not_allowed": "This method is not allowed for this URL.",
    "internal_error": "The gateway failed to process the request. Retry shortly.",
    "too_many_auth_failures": "Too many requests with invalid credentials from this address. Retry after the "
                              "time in the Retry-After header.",
}


class ClientError(Exception):
    """A request the gateway refuses because of what the client sent."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param


def error_body(status: int, code: str, message: str | None = None, param: str | None = None) -> bytes:
    """An OpenAI-style error body."""
    return orjson.dumps({"error": {"message": message or MESSAGES.get(code, code),
                                   "type": ERROR_TYPES.get(status, "invalid_request_error"),
                                   "param": param, "code": code}})


@dataclass(frozen=True)
class ParsedRequest:
    """The fields of a chat or completions request that the gateway uses."""

    payload: dict[str, Any]
    model: str
    messages: list[dict[str, Any]] | None
    prompt: str | None
    text: str  # the last user message (or the prompt): what is fingerprinted
    chars: int  # characters of all input text, for a token estimate
    tools: list[str] | None
    stream: bool
    max_tokens: int | None


def load_payload(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object with a `model` string; ClientError (400) with a precise message if not."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ClientError(400, "invalid_json", f"The request body is not valid JSON ({e}).") from None
    if not isinstance(payload, dict):
        raise ClientError(400, "invalid_request", "The request body must be a JSON object.")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise ClientError(400, "invalid_request", "'model' is required and must be a string.", "model")
    return payload


def parse_request(body: bytes, chat: bool, max_messages: int) -> ParsedRequest:
    """Validate a request body; raise ClientError (400) with a precise message when it is unusable."""
    payload = load_payload(body)
    model = payload["model"]
    messages, prompt = None, None
    if chat:
        messages = _messages(payload.get("messages"), max_messages)
        text = prompt_text(messages, None)
        chars = sum(len(m["content"] or "") for m in messages)
    else:
        raw = payload.get("prompt")
        if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
            if len(raw) > max_messages:
                raise ClientError(400, "too_many_prompts", f"At most {max_messages} prompts per request.", "prompt")
            raw = "\n".join(raw)
        if not isinstance(raw, str):
            raise ClientError(400, "invalid_request", "'prompt' is required and must be a string.", "prompt")
        prompt = text = raw
        chars = len(raw)
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise ClientError(400, "invalid_request", "'stream' must be true or false.", "stream")
    max_tokens = payload.get("max_tokens", payload.get("max_completion_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0):
        raise ClientError(400, "invalid_request", "'max_tokens' must be a non-negative integer.", "max_tokens")
    return ParsedRequest(payload, model, messages, prompt, text, chars, _tools(payload.get("tools")), stream,
                         max_tokens)


def _messages(value: Any, max_messages: int) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise ClientError(400, "invalid_request", "'messages' is required and must be a non-empty list.", "messages")
    if len(value) > max_messages:
        raise ClientError(400, "too_many_messages", f"At most {max_messages} messages per request.", "messages")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or m["role"] not in ROLES:
            raise ClientError(400, "invalid_request", f"messages[{i}] must be an object with a role among "
                              f"{sorted(ROLES)}.", f"messages[{i}]")
        c = m.get("content")
        if isinstance(c, list):
            c = "\n".join(p["text"] for p in c if isinstance(p, dict) and isinstance(p.get("text"), str))
        elif c is not None and not isinstance(c, str):
            raise ClientError(400, "invalid_request", f"messages[{i}].content must be text, null or a list of "
                              "content parts.", f"messages[{i}].content")
        out.append({"role": m["role"], "content": c})
    return out


def _tools(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    names = []
    for t in value:
        fn = t.get("function", t) if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return names


_NOT_PARAMS = frozenset({"messages", "prompt", "tools", "model", "input", "instructions"})


def params_json(payload: dict[str, Any]) -> str | None:
    """The sampling parameters of a request as sorted JSON (what the log's `params` holds)."""
    params = {k: v for k, v in payload.items() if k not in _NOT_PARAMS}
    return orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode() if params else None


def read_response(data: bytes) -> tuple[str | None, int | None, int | None]:
    """(completion text, prompt tokens, completion tokens) of a non-streamed response body."""
    try:
        obj = orjson.loads(data)
        choice = obj["choices"][0]
        text = choice["message"].get("content") if "message" in choice else choice.get("text")
        usage = obj.get("usage") or {}
        # coerced into the log contract: content parts joined, token counts non-negative int64 or None
        return contract.text(text), contract.count(usage.get("prompt_tokens")), \
            contract.count(usage.get("completion_tokens"))
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return None, None, None


def read_sse(chunks: list[bytes]) -> tuple[str | None, int | None, int | None]:
    """(completion text, prompt tokens, completion tokens) of a streamed response's SSE events."""
    parts: list[str] = []
    pt = ct = None
    for line in b"".join(chunks).split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            continue
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        for choice in obj.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            piece = (choice.get("delta") or {}).get("content") if "delta" in choice else choice.get("text")
            if isinstance(piece, str):
                parts.append(piece)
        usage = obj.get("usage")
        if isinstance(usage, dict):
            pt, ct = usage.get("prompt_tokens", pt), usage.get("completion_tokens", ct)
    return ("".join(parts) if parts else None), contract.count(pt), contract.count(ct)


REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")


def edit_json(data: bytes, edit: Callable[[Any], None]) -> bytes:
    """A JSON body after `edit` changed its parsed form in place; unchanged if it is not JSON."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    edit(obj)
    return orjson.dumps(obj)


def strip_reasoning(data: bytes) -> bytes:
    """A response body without reasoning content (degrade); unchanged if it is not JSON."""
    return edit_json(data, _strip)


def _strip(obj: Any) -> None:
    for choice in (obj.get("choices") or []) if isinstance(obj, dict) else []:
        for part in ("message", "delta"):
            m = choice.get(part) if isinstance(choice, dict) else None
            if isinstance(m, dict):
                for f in REASONING_FIELDS:
                    m.pop(f, None)


class SSEReasoningFilter:
    """Drop reasoning content from an SSE stream event by event (events may straddle chunks)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> bytes:
        """Complete events of `chunk` (plus what was buffered), with reasoning removed."""
        self._buf += chunk
        cut = self._buf.rfind(b"\n\n")
        if cut < 0:
            return b""
        ready, self._buf = self._buf[: cut + 2], self._buf[cut + 2:]
        return b"".join(self._event(e) for e in ready.split(b"\n\n") if e) + b""

    def flush(self) -> bytes:
        """Whatever is left at the end of the stream."""
        rest, self._buf = self._buf, b""
        return rest

    @staticmethod
    def _event(event: bytes) -> bytes:
        lines = []
        for line in event.split(b"\n"):
            if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
                try:
                    obj = orjson.loads(line[5:])
                except orjson.JSONDecodeError:
                    lines.append(line)
                    continue
                _strip(obj)
                line = b"data: " + orjson.dumps(obj)
            lines.append(line)
        return b"\n".join(lines) + b"\n\n"
