"""DistillGuard as a LiteLLM proxy hook: log every call into the store, enforce policy before each call.

The same enforcement engine as `distillguard serve` (per-account and per-campaign buckets, verification,
degrade, block) runs in LiteLLM's pre-call hook; refusals are LiteLLM's own error types, so clients see
ordinary 429 / 403 answers. Every call is logged in the contract's exchange form by the gateway's log sink.

LiteLLM config (the environment is read once, when LiteLLM loads the hook):

    litellm_settings:
      callbacks: distillguard.integrations.litellm.proxy_handler_instance

    DISTILLGUARD_DB=/var/lib/distillguard/store.duckdb      # required: the store to log into
    DISTILLGUARD_POLICY=/etc/distillguard/policy.toml       # optional: default policy otherwise
    DISTILLGUARD_DETECT=/var/lib/distillguard/detect-out    # optional: latest `distillguard detect` output
    DISTILLGUARD_ACCOUNT_FROM=user_id                       # user_id | end_user | team_id | key
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map at run time
import litellm  # noqa: E402
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

from ..errors import ConfigError
from ..gateway.enforce import Decision, Enforcer
from ..gateway.enforce import Request as EnfRequest
from ..gateway.fingerprint import Fingerprinter
from ..gateway.logsink import ExchangeLog, exchange_row, utc
from ..policy import DEFAULT_POLICY_TOML, Action, Knowledge, load_detection, load_policy, parse_policy
from ..schema import content_text, prompt_text

ACCOUNT_SOURCES = ("user_id", "end_user", "team_id", "key")
_META = "distillguard"


@dataclass(frozen=True)
class HookConfig:
    """Where the hook logs, which policy it enforces and how it names accounts."""

    db: str
    policy: str | None = None
    detect: str | None = None
    account_from: str = "user_id"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> HookConfig:
        """Read DISTILLGUARD_* variables (the hook's entry point is LiteLLM loading it)."""
        env = dict(os.environ if env is None else env)
        db = env.get("DISTILLGUARD_DB")
        if not db:
            raise ConfigError("DISTILLGUARD_DB is not set: point it at the DuckDB store the hook logs into")
        account_from = env.get("DISTILLGUARD_ACCOUNT_FROM", "user_id")
        if account_from not in ACCOUNT_SOURCES:
            raise ConfigError(f"DISTILLGUARD_ACCOUNT_FROM must be one of {ACCOUNT_SOURCES}, got {account_from!r}")
        return cls(db, env.get("DISTILLGUARD_POLICY") or None, env.get("DISTILLGUARD_DETECT") or None, account_from)


class DistillGuardHook(CustomLogger):  # type: ignore[misc]
    """A LiteLLM callback that enforces DistillGuard policy and logs exchanges.

    >>> hook = DistillGuardHook(HookConfig(db=":memory:"))  # doctest: +SKIP
    """

    def __init__(self, config: HookConfig) -> None:
        super().__init__()
        self.config = config
        policy = load_policy(config.policy) if config.policy else parse_policy(DEFAULT_POLICY_TOML, "<default>")
        knowledge = load_detection(config.detect) if config.detect else Knowledge()
        self.enforcer = Enforcer(policy, knowledge)
        self.sink = ExchangeLog(config.db)
        self.fingerprints = Fingerprinter(lambda a, ids, now: self.enforcer.learn_templates(a, ids, now),
                                          generic=self.enforcer.generic_templates)

    def close(self) -> None:
        """Stop background work and flush the log."""
        self.fingerprints.close()
        self.sink.close()

    # -- LiteLLM hooks --------------------------------------------------------------------------------
    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict[str, Any],
                                  call_type: Any) -> dict[str, Any]:
        """Decide before the upstream call: raise a LiteLLM error to refuse, or return (possibly capped) data."""
        now = time.time()
        account = self._account(user_api_key_dict, data)
        text = _prompt_text(data)
        ids = self.fingerprints.lookup(text)
        if ids is None:
            self.fingerprints.submit(account, text, now)
        req = EnfRequest(account, now, ids[0] if ids else 0, ids[1] if ids else 0,
                         getattr(user_api_key_dict, "team_id", None), False, len(text) // 4 + 1,
                         _int(data.get("max_tokens") or data.get("max_completion_tokens")))
        d = self.enforcer.decide(req)
        rid = f"litellm-{uuid.uuid4().hex}"
        meta = {"request_id": rid, "account_id": account, "ts": now, "decision": d,
                "api_key_id": getattr(user_api_key_dict, "token", None), "org_id": req.org_id, "request": req}
        if not d.allowed:
            self._log(meta, data, d.status, None, None, None)
            raise _refusal(d, str(data.get("model", "")))
        if d.action == Action.DEGRADE and d.max_tokens is not None:
            key = "max_completion_tokens" if "max_completion_tokens" in data else "max_tokens"
            data[key] = d.max_tokens
        data.setdefault("metadata", {})[_META] = meta
        return data

    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        """Log the answered exchange and charge its tokens to the account's and campaign's buckets."""
        meta = _meta(kwargs)
        if meta is None:
            return
        usage = getattr(response_obj, "usage", None)
        pt, ct = _int(getattr(usage, "prompt_tokens", None)), _int(getattr(usage, "completion_tokens", None))
        self._log(meta, kwargs, 200, _completion(response_obj), pt, ct)
        self.enforcer.settle(meta["request"], meta["decision"], ct or 0)

    async def async_log_failure_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                                      end_time: Any) -> None:
        """Log an exchange whose upstream call failed, with its status."""
        meta = _meta(kwargs)
        if meta is None:
            return
        exc = kwargs.get("exception")
        self._log(meta, kwargs, _int(getattr(exc, "status_code", None)) or 500, None, None, None)

    # -- helpers --------------------------------------------------------------------------------------
    def _account(self, key: Any, data: dict[str, Any]) -> str:
        source = self.config.account_from
        value = {
            "user_id": getattr(key, "user_id", None),
            "end_user": data.get("user") or getattr(key, "end_user_id", None),
            "team_id": getattr(key, "team_id", None),
            "key": getattr(key, "token", None) or getattr(key, "api_key", None),
        }[source]
        return str(value or getattr(key, "token", None) or getattr(key, "api_key", None) or "anonymous")

    def _log(self, meta: dict[str, Any], data: dict[str, Any], status: int, completion: str | None,
             pt: int | None, ct: int | None) -> None:
        d: Decision = meta["decision"]
        messages = _messages(data.get("messages"))
        prompt = data.get("prompt") if isinstance(data.get("prompt"), str) else None
        params = {k: data[k] for k in ("temperature", "top_p", "max_tokens", "n", "stream", "seed")
                  if isinstance(data.get(k), int | float | bool)}
        ts = utc(meta["ts"])
        self.sink.exchange(exchange_row(
            request_id=meta["request_id"], ts=ts, account_id=meta["account_id"], api_key_id=meta["api_key_id"],
            org_id=meta["org_id"], ip="", user_agent=None, model=str(data.get("model") or ""),
            endpoint="/v1/completions" if prompt is not None and messages is None else "/v1/chat/completions",
            messages=messages, prompt=prompt, params=_json(params), completion=completion,
            prompt_tokens=pt, completion_tokens=ct, status=status))
        if d.action != Action.ALLOW or not d.allowed:
            self.sink.enforcement({
                "ts": ts, "request_id": meta["request_id"], "account_id": meta["account_id"],
                "campaign_id": d.campaign_id, "action": d.action.label, "code": d.code, "status": status,
                "reason": d.reason, "template_id": meta["request"].template_id or None, "score": d.score})


def _refusal(d: Decision, model: str) -> Exception:
    """LiteLLM's own error for a refusal: 429 for throttling, 403 (PermissionDenied) otherwise."""
    message = f"distillguard: {d.code}: {d.reason}"
    if d.status == 429:
        return litellm.RateLimitError(message, llm_provider="distillguard", model=model,
                                      headers={"retry-after": str(max(1, round(d.retry_after)))})
    response = httpx.Response(d.status, request=httpx.Request("POST", "http://distillguard.invalid/"))
    return litellm.PermissionDeniedError(message, llm_provider="distillguard", model=model, response=response)


def _meta(kwargs: dict[str, Any]) -> dict[str, Any] | None:
    params = kwargs.get("litellm_params") or {}
    for holder in (params.get("metadata"), kwargs.get("metadata")):
        if isinstance(holder, dict) and isinstance(holder.get(_META), dict):
            return holder[_META]
    return None


def _prompt_text(data: dict[str, Any]) -> str:
    prompt = data.get("prompt")
    return prompt_text(data.get("messages") if isinstance(data.get("messages"), list) else None,
                       prompt if isinstance(prompt, str) else None)


def _messages(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    return [{"role": str(m.get("role")), "content": content_text(m.get("content"))}
            for m in value if isinstance(m, dict)]


def _completion(response: Any) -> str | None:
    try:
        choice = response.choices[0]
        return getattr(choice.message, "content", None) if hasattr(choice, "message") else choice.text
    except (AttributeError, IndexError, TypeError):
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _json(params: dict[str, Any]) -> str | None:
    return orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode() if params else None


_instance: DistillGuardHook | None = None


def __getattr__(name: str) -> Any:
    # LiteLLM resolves `callbacks: distillguard.integrations.litellm.proxy_handler_instance` by attribute:
    # build the hook then, from the environment, once.
    global _instance
    if name == "proxy_handler_instance":
        if _instance is None:
            _instance = DistillGuardHook(HookConfig.from_env())
        return _instance
    raise AttributeError(name)
