"""The OpenAI endpoints the gateway proxies, each as a typed `Endpoint`: how to read a request, its answer
(whole or streamed), how to cap its output tokens and drop reasoning (degrade).

- `/v1/chat/completions` and `/v1/completions` (see `openai.py`);
- `/v1/responses` (the Responses API): `instructions` is logged as a `developer` message, each input item
  with a role as a message (text parts joined with newlines), a `function_call_output` item as a `tool`
  message; the completion is the text of the `output_text` parts; usage `input_tokens`/`output_tokens`.
  A stream is the API's typed SSE events; it ends at `response.completed` (or `.incomplete`/`.failed`).
- `/v1/embeddings`: logged with `prompt` = the input (a list of strings joined with newlines; token-id
  input as its JSON text), no completion, `prompt_tokens` as billed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..schema import prompt_text
from .openai import (
    ClientError,
    ParsedRequest,
    SSEReasoningFilter,
    _tools,
    edit_json,
    error_body,
    load_payload,
    parse_request,
    read_response,
    read_sse,
    strip_reasoning,
)

Usage = tuple[str | None, int | None, int | None]  # (completion text, prompt tokens, completion tokens)
MAX_EMBEDDING_INPUTS = 2048  # OpenAI's own limit per request


@dataclass(frozen=True)
class Endpoint:
    """One proxied POST endpoint."""

    path: str
    parse: Callable[[bytes, int], ParsedRequest]  # (body, max_messages) -> request, or ClientError
    read: Callable[[bytes], Usage]  # a whole answer
    read_stream: Callable[[list[bytes]], Usage]  # the chunks of a streamed answer
    strip: Callable[[bytes], bytes]  # a whole answer without reasoning
    stream_filter: Callable[[], SSEReasoningFilter]  # a filter dropping reasoning from a stream
    done: re.Pattern[bytes]  # the end of a stream (what is journaled before it goes out)
    done_hint: bytes  # a cheap substring test before `done`
    max_tokens_field: Callable[[dict[str, Any]], str | None]  # where degrade caps output tokens


def _chat_cap(payload: dict[str, Any]) -> str:
    return "max_completion_tokens" if "max_completion_tokens" in payload else "max_tokens"


# the SSE end marker as a line of its own (a JSON string cannot hold a raw newline, so a completion that
# says "data: [DONE]" does not match and cannot end what is logged early)
_SSE_DONE = re.compile(rb"(?:^|\n)data: ?\[DONE\]")
CHAT = Endpoint("/v1/chat/completions", lambda b, m: parse_request(b, True, m), read_response, read_sse,
                strip_reasoning, SSEReasoningFilter, _SSE_DONE, b"[DONE]", _chat_cap)
COMPLETIONS = Endpoint("/v1/completions", lambda b, m: parse_request(b, False, m), read_response, read_sse,
                       strip_reasoning, SSEReasoningFilter, _SSE_DONE, b"[DONE]", lambda p: "max_tokens")


# -- /v1/responses ------------------------------------------------------------------------------------


def _parts_text(content: Any, where: str) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    raise ClientError(400, "invalid_request", f"{where}.content must be text or a list of content parts.",
                      f"{where}.content")


def _stream_flag(payload: dict[str, Any]) -> bool:
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise ClientError(400, "invalid_request", "'stream' must be true or false.", "stream")
    return stream


def parse_responses(body: bytes, max_messages: int) -> ParsedRequest:
    """Validate a Responses API request; its input as chat messages (see the module doc)."""
    payload = load_payload(body)
    raw = payload.get("input")
    messages: list[dict[str, Any]] = []
    instructions = payload.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise ClientError(400, "invalid_request", "'instructions' must be a string.", "instructions")
    if instructions:
        messages.append({"role": "developer", "content": instructions})
    if isinstance(raw, str):
        messages.append({"role": "user", "content": raw})
    elif isinstance(raw, list):
        if len(raw) > max_messages:
            raise ClientError(400, "too_many_messages", f"At most {max_messages} input items per request.", "input")
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ClientError(400, "invalid_request", f"input[{i}] must be an object.", f"input[{i}]")
            role = item.get("role")
            if isinstance(role, str):
                if role not in ("user", "assistant", "system", "developer"):
                    raise ClientError(400, "invalid_request", f"input[{i}].role must be user, assistant, system or "
                                      "developer.", f"input[{i}].role")
                messages.append({"role": role, "content": _parts_text(item.get("content"), f"input[{i}]")})
            elif item.get("type") == "function_call_output":
                out = item.get("output")
                out = out if isinstance(out, str) else orjson.dumps(out).decode()
                messages.append({"role": "tool", "content": out})
            # other items (function calls, reasoning, references) carry no new user text
    elif raw is not None or not payload.get("previous_response_id"):
        raise ClientError(400, "invalid_request", "'input' is required and must be a string or a list of items.",
                          "input")
    text = prompt_text(messages, None)
    max_tokens = payload.get("max_output_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0):
        raise ClientError(400, "invalid_request", "'max_output_tokens' must be a non-negative integer.",
                          "max_output_tokens")
    return ParsedRequest(payload, payload["model"], messages or None, None, text,
                         sum(len(m["content"] or "") for m in messages), _tools(payload.get("tools")),
                         _stream_flag(payload), max_tokens)


def _response_usage(obj: Any) -> Usage:
    if not isinstance(obj, dict):
        return None, None, None
    parts = [c["text"] for item in obj.get("output") or [] if isinstance(item, dict) and item.get("type") == "message"
             for c in item.get("content") or [] if isinstance(c, dict) and isinstance(c.get("text"), str)]
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
    return ("".join(parts) if parts else None), usage.get("input_tokens"), usage.get("output_tokens")


def read_responses(data: bytes) -> Usage:
    """(output text, input tokens, output tokens) of a whole Responses API answer."""
    try:
        return _response_usage(orjson.loads(data))
    except orjson.JSONDecodeError:
        return None, None, None


_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def read_responses_stream(chunks: list[bytes]) -> Usage:
    """(output text, input tokens, output tokens) of a streamed Responses API answer."""
    parts: list[str] = []
    final: Usage = (None, None, None)
    for line in b"".join(chunks).split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        try:
            obj = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        kind = obj.get("type")
        if kind == "response.output_text.delta" and isinstance(obj.get("delta"), str):
            parts.append(obj["delta"])
        elif kind in _TERMINAL:
            final = _response_usage(obj.get("response"))
    return ("".join(parts) if parts else final[0]), final[1], final[2]


def _is_reasoning(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("type") == "reasoning"


def _strip_response(obj: Any) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("output"), list):
        obj["output"] = [item for item in obj["output"] if not _is_reasoning(item)]
        if isinstance(obj.get("reasoning"), dict):
            obj["reasoning"].pop("summary", None)


def strip_responses(data: bytes) -> bytes:
    """A Responses API answer without its reasoning items (degrade); unchanged if it is not JSON."""
    return edit_json(data, _strip_response)


class ResponsesReasoningFilter(SSEReasoningFilter):
    """Drop reasoning events (and reasoning items of the final response) from a Responses API stream."""

    @staticmethod
    def _event(event: bytes) -> bytes:
        lines = []
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                try:
                    obj = orjson.loads(line[5:])
                except orjson.JSONDecodeError:
                    lines.append(line)
                    continue
                if isinstance(obj, dict):
                    kind = obj.get("type")
                    reasoning = isinstance(kind, str) and kind.startswith("response.reasoning")
                    if reasoning or _is_reasoning(obj.get("item")):
                        return b""  # the whole event goes
                    if isinstance(obj.get("response"), dict):
                        _strip_response(obj["response"])
                        line = b"data: " + orjson.dumps(obj)
            lines.append(line)
        return b"\n".join(lines) + b"\n\n"


RESPONSES = Endpoint("/v1/responses", parse_responses, read_responses, read_responses_stream, strip_responses,
                     ResponsesReasoningFilter,
                     re.compile(rb'(?:^|\n)data: ?\{[^\n]*"type": ?"response\.(?:completed|incomplete|failed)"'
                                rb'[^\n]*\n'),
                     b"response.", lambda p: "max_output_tokens")


# -- /v1/embeddings -----------------------------------------------------------------------------------
def parse_embeddings(body: bytes, max_messages: int) -> ParsedRequest:
    """Validate an embeddings request; its input as one prompt (see the module doc)."""
    payload = load_payload(body)
    raw = payload.get("input")
    bad = ClientError(400, "invalid_request", "'input' is required: a string, a list of strings, or token ids.",
                      "input")
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, list) and raw:
        if len(raw) > MAX_EMBEDDING_INPUTS:
            raise ClientError(400, "too_many_inputs", f"At most {MAX_EMBEDDING_INPUTS} inputs per request.", "input")
        if all(isinstance(x, str) for x in raw):
            text = "\n".join(raw)
        elif all(isinstance(x, int) and not isinstance(x, bool) for x in raw) or all(
                isinstance(x, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in x) for x in raw):
            text = orjson.dumps(raw).decode()
        else:
            raise bad
    else:
        raise bad
    if payload.get("stream"):
        raise ClientError(400, "invalid_request", "Embeddings cannot be streamed.", "stream")
    return ParsedRequest(payload, payload["model"], None, text, text, len(text), None, False, None)


def read_embeddings(data: bytes) -> Usage:
    """(None, prompt tokens, None) of an embeddings answer (the vectors are not logged)."""
    try:
        obj = orjson.loads(data)
        usage = obj.get("usage") or {}
        return None, usage.get("prompt_tokens"), None
    except (orjson.JSONDecodeError, AttributeError):
        return None, None, None


EMBEDDINGS = Endpoint("/v1/embeddings", parse_embeddings, read_embeddings, lambda chunks: (None, None, None),
                      lambda data: data, SSEReasoningFilter, _SSE_DONE, b"[DONE]", lambda p: None)


# -- everything else: OpenAI-shaped errors ----------------------------------------------------------
async def _http_error(request: Any, exc: Any) -> Any:
    from starlette.responses import Response

    status = getattr(exc, "status_code", 500)
    if status == 404:
        code, message = "not_found", (f"Unknown request URL: {request.method} {request.url.path}. See /openapi.json "
                                      "for the endpoints this gateway serves.")
    elif status == 405:
        code, message = "method_not_allowed", f"{request.method} is not allowed for {request.url.path}."
    else:
        code, message = f"http_{status}", str(getattr(exc, "detail", "")) or None
    return Response(error_body(status, code, message), status, headers=getattr(exc, "headers", None),
                    media_type="application/json")


async def server_error(request: Any, exc: Exception) -> Any:
    """OpenAI's 500 `internal_error` (the details stay in the gateway's log)."""
    from starlette.responses import Response

    return Response(error_body(500, "internal_error"), 500, media_type="application/json")


def error_handlers() -> dict[Any, Any]:
    """Starlette exception handlers answering 404, 405, other HTTP errors and 500 in OpenAI's error shape."""
    from starlette.exceptions import HTTPException

    return {HTTPException: _http_error, Exception: server_error}
