"""The data contracts of ../shared/SCHEMA.md (version 1) in code.

Arrow schemas for the stored forms of exchanges, accounts, labels and detection output, and the
validation of one raw exchange record (as parsed from JSON) into its stored form.
Unknown extra fields are ignored; a record that breaks the contract raises a field-level error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

SCHEMA_VERSION = 1
DEFAULT_ENDPOINT = "/v1/chat/completions"
DEFAULT_STATUS = 200
MAX_STATUS = 999
MAX_INT64 = 2**63 - 1
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
CAPABILITIES = ("reasoning", "coding", "tool_use", "other")

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
TS_TYPE = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Field:
    """One field of a contract: its name, stored Arrow type and whether input must carry it."""

    name: str
    type: pa.DataType
    required: bool = False


EXCHANGE_FIELDS: tuple[Field, ...] = (
    Field("request_id", pa.string(), True),
    Field("ts", TS_TYPE, True),
    Field("account_id", pa.string(), True),
    Field("api_key_id", pa.string()),
    Field("org_id", pa.string()),
    Field("ip", pa.string(), True),
    Field("user_agent", pa.string()),
    Field("model", pa.string(), True),
    Field("endpoint", pa.string()),
    Field("messages", pa.list_(MESSAGE_TYPE)),
    Field("prompt", pa.string()),
    Field("tools", pa.list_(pa.string())),
    Field("params", pa.string()),  # stored as JSON text; parsed where needed
    Field("completion", pa.string()),
    Field("prompt_tokens", pa.int64()),
    Field("completion_tokens", pa.int64()),
    Field("status", pa.int32()),
    Field("conversation_id", pa.string()),
)
EXCHANGE_SCHEMA = pa.schema([pa.field(f.name, f.type, nullable=not f.required) for f in EXCHANGE_FIELDS])
EXCHANGE_COLUMNS = tuple(f.name for f in EXCHANGE_FIELDS)
REQUIRED_EXCHANGE = tuple(f.name for f in EXCHANGE_FIELDS if f.required)

ACCOUNT_FIELDS: tuple[Field, ...] = (
    Field("account_id", pa.string(), True),
    Field("created_at", TS_TYPE),
    Field("email_domain", pa.string()),
    Field("payment_fingerprint", pa.string()),
    Field("signup_ip", pa.string()),
    Field("country", pa.string()),
    Field("verified", pa.bool_()),
    Field("tier", pa.string()),
)
ACCOUNT_SCHEMA = pa.schema([pa.field(f.name, f.type, nullable=not f.required) for f in ACCOUNT_FIELDS])


class FieldError(ValueError):
    """A field of one record breaks the contract (caught by ingest, which adds file and line)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def parse_ts(value: Any, field: str = "ts") -> datetime:
    """Parse an ISO-8601 time (offset or `Z`; naive means UTC) into an aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip())
        except ValueError:
            raise FieldError(field, f"not an ISO-8601 time: {_clip(value)!r}") from None
    else:
        raise FieldError(field, f"expected an ISO-8601 string, got {_json_type(value)}")
    try:
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except OverflowError:
        raise FieldError(field, f"time out of range: {_clip(value)!r}") from None


def validate_exchange(rec: Any) -> dict[str, Any]:
    """Check one raw exchange record against the contract; return its stored form or raise FieldError."""
    if not isinstance(rec, dict):
        raise FieldError("record", f"expected a JSON object, got {_json_type(rec)}")
    out: dict[str, Any] = {}
    for name in ("request_id", "account_id", "model"):
        out[name] = _required_str(rec, name)
    out["ts"] = parse_ts(rec.get("ts")) if rec.get("ts") is not None else _missing("ts")
    ip = rec.get("ip")
    if ip is None:
        _missing("ip")
    out["ip"] = _str(ip, "ip")
    for name in ("api_key_id", "org_id", "user_agent", "completion", "conversation_id"):
        out[name] = _opt_str(rec, name)
    out["endpoint"] = _opt_str(rec, "endpoint") or DEFAULT_ENDPOINT
    out["messages"] = _messages(rec.get("messages"))
    out["prompt"] = _opt_str(rec, "prompt")
    if out["messages"] is None and out["prompt"] is None:
        raise FieldError("messages", "one of 'messages' or 'prompt' is required")
    out["tools"] = _tools(rec.get("tools"))
    out["params"] = canonical_params(rec.get("params"))
    out["prompt_tokens"] = _opt_int(rec, "prompt_tokens", 0, MAX_INT64)
    out["completion_tokens"] = _opt_int(rec, "completion_tokens", 0, MAX_INT64)
    status = _opt_int(rec, "status", 0, MAX_STATUS)
    out["status"] = DEFAULT_STATUS if status is None else status
    return out


def validate_account(rec: Any) -> dict[str, Any]:
    """Check one raw account record (from JSON, CSV text or Parquet); return its stored form or raise."""
    if not isinstance(rec, dict):
        raise FieldError("record", f"expected an object, got {_json_type(rec)}")
    out: dict[str, Any] = {"account_id": _required_str(rec, "account_id")}
    created = rec.get("created_at")
    out["created_at"] = None if created is None or created == "" else parse_ts(created, "created_at")
    for name in ("email_domain", "payment_fingerprint", "signup_ip", "country", "tier"):
        out[name] = _opt_str(rec, name)
    out["verified"] = _bool(rec.get("verified"), "verified")
    return out


def _bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        if not word:
            return None
    raise FieldError(name, f"expected true or false, got {_clip(value)!r}")


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def canonical_params(value: Any) -> str | None:
    """The stored form of `params`: compact JSON, keys sorted, null members dropped, 1.0 written as 1.

    Accepts an object or a string holding one; raises FieldError otherwise. Two spellings of the same
    sampling parameters give the same text, whichever reader (fast columnar or per line) parsed them.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise FieldError("params", "a string that does not hold JSON") from None
    if not isinstance(value, dict):
        raise FieldError("params", f"expected an object, got {_json_type(value)}")
    return orjson.dumps(_clean(value), option=orjson.OPT_SORT_KEYS).decode()


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def content_text(content: Any, field: str = "messages.content") -> str | None:
    """Text of an OpenAI message content: a string, null, or a list of parts whose text parts are joined."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return "\n".join(texts)
    raise FieldError(field, f"expected text, null or a list of content parts, got {_json_type(content)}")


# The prompt-text rule: what a request's "prompt" is, for fingerprinting, matching and enforcement alike.
# The completions `prompt` when there is one; else the content of the last user message whose content is
# not null, even when it is empty (a trailing empty user turn is an empty prompt, not the turn before it);
# else ''. Content parts are joined by newlines (content_text). Python (prompt_text) and SQL (prompt_sql)
# spell the same rule; detection, intel, the gateway, the LiteLLM hook and the backtest use one of them.


def prompt_sql(prompt: str = "prompt", messages: str | None = "messages") -> str:
    """The rule in DuckDB SQL over a `prompt` VARCHAR and a `messages` LIST(STRUCT(role, content)) expression
    (None: no messages column). The lambda runs only for the rare exchange whose last message is not a
    user's (CASE evaluates a branch for the rows that reach it): a quarter of the cost of filtering every
    message list."""
    if messages is None:
        return f"coalesce({prompt}, '')"
    last = f"{messages}[-1]"
    return (f"CASE WHEN {prompt} IS NOT NULL THEN {prompt} WHEN {last}.role = 'user' AND {last}.content IS NOT NULL "
            f"THEN {last}.content ELSE coalesce(list_filter({messages}, lambda m: m.role = 'user' "
            "AND m.content IS NOT NULL)[-1].content, '') END")


# over the stored exchanges' columns
PROMPT_SQL = prompt_sql()

# Message-derived keys of an exchange, SQL over its `prompt` and `messages`: what detection's slim table
# (`detection.features.slim_select`) needs of the messages. The store computes them once, when a part is
# written, and keeps them in the part (`store.KEY_FIELDS`), so a detect run need not decode every message list.
# the roles of an exchange's messages (the same expression twice in a SELECT is computed once)
ROLES_SQL = "list_transform(messages, lambda m: m.role)"
# the conversation's opening user message (a follow-up's problem): the first or second message nearly always
OPENER_SQL = ("CASE WHEN messages[1].role = 'user' THEN messages[1].content WHEN messages[2].role = 'user' "
              "THEN messages[2].content ELSE list_filter(messages, lambda m: m.role = 'user')[1].content END")
SYSTEM_SQL = ("CASE WHEN messages[1].role IN ('system', 'developer') THEN messages[1].content "
              "ELSE list_filter(messages, lambda m: m.role IN ('system', 'developer'))[1].content END")
# words in the system prompt (spaces + 1; 0 without one): a client's one-line default persona is short, an
# operator's or an app's instructions are not
SYSTEM_WORDS_SQL = (f"coalesce(length(trim({SYSTEM_SQL})) - length(replace(trim({SYSTEM_SQL}), ' ', '')) + 1, 0)"
                    "::INTEGER")
# (column of the slim table, SQL, Arrow type)
MESSAGE_KEYS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("text_hash", f"hash({PROMPT_SQL})", pa.uint64()),
    ("sys_hash", f"hash(coalesce({SYSTEM_SQL}, ''))", pa.uint64()),
    ("sys_words", SYSTEM_WORDS_SQL, pa.int32()),
    ("user_turns", f"coalesce(len(list_filter({ROLES_SQL}, lambda r: r = 'user')), 1)::INTEGER", pa.int32()),
    ("multi_turn", f"coalesce(list_contains({ROLES_SQL}, 'assistant'), false)", pa.bool_()),
    ("open_hash", f"CASE WHEN list_contains({ROLES_SQL}, 'assistant') THEN hash({OPENER_SQL}) END", pa.uint64()),
)


# Provenance keys (detection.provenance): the hash of the completion an exchange received, and of the text it
# sends last — the last message when a user's or a tool's (what the request answers: a tool result fed back,
# a pasted text), else the completions `prompt` — each stripped of surrounding whitespace, NULL when shorter than
# PROVENANCE_MIN_CHARS
# (a short text — "OK", '{"status": "ok"}' — is everybody's). One account's completion sent back verbatim by
# another is one's output recycled into the other's input. Stored in the parts beside MESSAGE_KEYS but not in
# the slim table: only the provenance stage reads them.
PROVENANCE_MIN_CHARS = 32
FED_SQL = "coalesce(prompt, CASE WHEN messages[-1].role IN ('user', 'tool') THEN messages[-1].content END)"


_WHITESPACE = ("chr(32)", "chr(10)", "chr(13)", "chr(9)")


def _long_hash(text: str) -> str:
    """The hash of `text` with its surrounding whitespace stripped, NULL below PROVENANCE_MIN_CHARS. The strip
    runs only for a text that starts or ends with whitespace (byte tests): DuckDB's trim over every fed text
    was 6× the cost of the whole key."""
    padded = " OR ".join(f"{f}({text}, {c})" for c in _WHITESPACE for f in ("prefix", "suffix"))
    stripped = f"trim({text}, chr(32) || chr(10) || chr(13) || chr(9))"
    return (f"CASE WHEN length({text}) >= {PROVENANCE_MIN_CHARS} THEN CASE WHEN {padded} THEN hash({stripped}) "
            f"ELSE hash({text}) END END")


PROVENANCE_KEYS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("comp_hash", _long_hash("completion"), pa.uint64()),
    ("fed_hash", _long_hash(FED_SQL), pa.uint64()),
)
# every key a part stores (`store.KEY_FIELDS`), over `prompt`, `messages` and `completion`
STORED_KEYS = MESSAGE_KEYS + PROVENANCE_KEYS


def message_keys_sql(prefix: str = "", keys: tuple[tuple[str, str, pa.DataType], ...] = MESSAGE_KEYS) -> str:
    """The message-derived keys as a SELECT list over `prompt` and `messages` (and `completion`, for
    STORED_KEYS), named as in the slim table (after `prefix`: a stored part's `_k_` columns)."""
    return ",\n  ".join(f"{sql} AS {prefix}{name}" for name, sql, _ in keys)


def prompt_text(messages: list[dict[str, Any]] | None, prompt: str | None) -> str:
    """The rule in Python: `messages` as OpenAI message objects (content a string, null or content parts)."""
    if prompt is not None:
        return prompt
    for m in reversed(messages or []):
        if isinstance(m, dict) and m.get("role") == "user":
            text = content_text(m.get("content"))
            if text is not None:
                return text
    return ""


def _messages(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise FieldError("messages", f"expected a list of {{role, content}}, got {_json_type(value)}")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise FieldError(f"messages[{i}]", f"expected an object, got {_json_type(m)}")
        role = m.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise FieldError(f"messages[{i}].role", f"expected one of {sorted(ROLES)}, got {_clip(role)!r}")
        out.append({"role": role, "content": content_text(m.get("content"), f"messages[{i}].content")})
    return out


def _tools(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise FieldError("tools", f"expected a list of tool names, got {_json_type(value)}")
    names = []
    for t in value:
        if isinstance(t, str):
            names.append(t)
        elif isinstance(t, dict):  # tolerate OpenAI tool objects: keep the function name
            fn = t.get("function")
            name = (fn if isinstance(fn, dict) else t).get("name")
            if isinstance(name, str):
                names.append(name)
        else:
            raise FieldError("tools", f"expected tool names (strings), got {_json_type(t)}")
    return names


def _missing(name: str) -> Any:
    raise FieldError(name, "required field is missing")


def _required_str(rec: dict[str, Any], name: str) -> str:
    value = rec.get(name)
    if value is None:
        _missing(name)
    s = _str(value, name)
    if not s:
        raise FieldError(name, "must not be empty")
    return s


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise FieldError(name, f"expected a string, got {_json_type(value)}")
    return value


def _opt_str(rec: dict[str, Any], name: str) -> str | None:
    value = rec.get(name)
    return None if value is None else _str(value, name)


def _opt_int(rec: dict[str, Any], name: str, lo: int, hi: int) -> int | None:
    value = rec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, f"expected an integer, got {_json_type(value)}")
    if not lo <= value <= hi:
        raise FieldError(name, f"{_clip(value)} is out of range [{lo}, {hi}]")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _clip(value: Any, n: int = 60) -> str:
    s = str(value)
    return s if len(s) <= n else s[:n] + "…"
