"""The gateway server: an OpenAI-compatible Starlette app in front of any OpenAI-compatible upstream.

Per request: authenticate the key (failed attempts are rate-limited per client address), bound and
validate the body, fingerprint the prompt (cache, else background), ask the enforcement engine, forward
(streaming SSE chunk by chunk), then journal and queue the exchange and any enforcement action for the
store before the response is completed (for a stream: before its last chunk), so a `kill -9` loses no
answered exchange. Every response carries `X-Request-Id`, the `request_id` the store has for it.
Everything else (event sync between replicas, reloading keys, policy and detection output) runs in one
background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount, Route

from ..errors import JournalError
from ..policy import DEFAULT_POLICY_TOML, Action, Knowledge, load_detection, load_policy, parse_policy
from .actions import restore_actions
from .authguard import SCOPE_KEY, AuthFailures, RequestIds
from .contract import refused_prompt_note
from .control import AuditEntry, GatewayControl, Telemetry
from .degrade import completion_tokens, degrade_payload, output_reserve
from .endpoints import CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES, Endpoint, error_handlers, server_error
from .enforce import Decision, Enforcer
from .enforce import Request as EnfRequest
from .fingerprint import Fingerprinter, FingerprintWorker
from .httplimits import REFUSED
from .inflight import InFlight, Releasing
from .keys import KeyStore, Principal
from .limits import Limiter, MemoryLimiter, RedisLimiter, ResilientLimiter
from .logsink import LOG_UNAVAILABLE, ExchangeLog, LogConfig, exchange_row, utc
from .openai import ClientError, ParsedRequest, error_body, params_json
from .shared import EventBus, MemoryBus, RedisBus
from .upstream import UPSTREAM_AUTH_STATUSES, UpstreamAuthError, UpstreamError, UpstreamTimeout, make_upstream

log = logging.getLogger("distillguard.gateway")
WATERMARK_HEADER = "X-DistillGuard-Watermark"
CUT_STATUS = 499  # stored for an exchange cut before its end (as nginx logs a request the client closed)
OPENAPI = Path(__file__).with_name("openapi.json")


@dataclass(frozen=True)
class GatewayConfig:
    """Everything `distillguard serve` configures; the environment is read by the CLI, not here."""

    upstream: str
    keys: str
    upstream_key: str | None = None
    db: str = ":memory:"
    policy: str | None = None
    detect: str | None = None
    redis: str | None = None
    on_state_error: str = "open"
    client: str = "auto"
    log: LogConfig = field(default_factory=LogConfig)
    sync_interval_s: float = 0.2
    reload_interval_s: float = 1.0
    fingerprint_interval_s: float = 0.25
    fingerprint_workers: int = 1  # worker processes; 0 = fingerprint in a thread of this process
    dashboard: bool = False
    admin_token: str | None = None
    upstream_timeout_s: float = 600.0  # whole upstream request, streams included
    auth_failures: int = 20  # failed authentications per client address and window before 429 (0: no limit)
    auth_failure_window_s: float = 60.0
    max_in_flight_per_account: int = 64  # requests of one account in flight at once (0: no cap); more: 429
    settle_heap: bool = False  # serve: freeze the start-up heap and tune the GC once started (server.settle_heap)


class _Watched:
    """A file (or folder's file) whose modification time, size and inode are polled."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mtime = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        # not the time alone: it has the kernel's clock tick as resolution, so a file read half-written (truncated,
        # not yet filled in) and then finished within one tick would never be read again
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def changed(self) -> bool:
        m = self._stat()
        if m is None or m == self.mtime:
            return False
        self.mtime = m
        return True


class Gateway:
    """The running gateway's parts; `app` is the ASGI application."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.keys = KeyStore(config.keys)
        policy = load_policy(config.policy) if config.policy else parse_policy(DEFAULT_POLICY_TOML, "<default>")
        knowledge = load_detection(config.detect) if config.detect else Knowledge()
        limiter: Limiter = MemoryLimiter()
        bus: EventBus = MemoryBus()
        if config.redis:
            limiter = ResilientLimiter(RedisLimiter(config.redis), config.on_state_error)
            bus = RedisBus(config.redis)
        # with Redis, enforcement does network I/O: it runs in one thread of its own so that a slow or stalled
        # Redis (up to its 0.25 s timeout) never blocks the event loop; one thread keeps decisions in order
        self._state_thread = (ThreadPoolExecutor(1, thread_name_prefix="distillguard-state")
                              if config.redis else None)
        self._settles: deque[tuple[EnfRequest, Decision, int]] = deque()  # bills waiting for the state thread
        self._settle_queued = False
        self.telemetry = Telemetry()
        self.enforcer = Enforcer(policy, knowledge, limiter, bus, observer=self.telemetry)
        self.sink = ExchangeLog(config.db, config.log)
        self.control = GatewayControl(self.enforcer, self.telemetry, self._audit,
                                      backend="redis" if config.redis else "memory")
        restore_actions(self.sink.store.con, self.enforcer, self.control)  # a restart lifts no analyst action
        self.fingerprints = Fingerprinter(lambda a, ids, now: self.enforcer.learn_templates(a, ids, now),
                                          config.fingerprint_interval_s,
                                          workers=[FingerprintWorker() for _ in range(config.fingerprint_workers)],
                                          generic=self.enforcer.generic_templates)
        self.upstream = make_upstream(config.upstream, config.upstream_key, config.client, config.upstream_timeout_s)
        self.auth_failures = AuthFailures(config.auth_failures, config.auth_failure_window_s)
        self.inflight = InFlight(config.max_in_flight_per_account)
        self._watch_policy = _Watched(Path(config.policy)) if config.policy else None
        self._watch_detect = _Watched(Path(config.detect) / "accounts.csv") if config.detect else None
        self._task: asyncio.Task[None] | None = None
        self._openapi = OPENAPI.read_bytes()
        self._auth_warned = -1e9
        self.app = RequestIds(_Proxied(self._build_app(), self._proxy))

    # -- lifecycle -----------------------------------------------------------------------------------
    def _build_app(self) -> Starlette:
        routes: list[Any] = [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
            Route("/v1/responses", self.responses, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
        ]
        if self.config.dashboard:
            try:
                from ..dashboard import create_app as dashboard_app  # type: ignore[attr-defined]
            except ImportError:
                log.warning("--dashboard: distillguard.dashboard is not installed; serving without it")
            else:
                routes.append(Mount("/dashboard", dashboard_app(self.control, self.config.detect,
                                                                self.config.admin_token)))

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self._task = asyncio.create_task(self._background())
            if self.config.settle_heap:  # a process of its own (serve): its start-up heap is not scanned again
                from .server import settle_heap

                settle_heap()
            try:
                yield
            finally:
                await self.aclose()

        return Starlette(routes=routes, lifespan=lifespan, exception_handlers=error_handlers())

    async def aclose(self) -> None:
        """Stop background work, close the upstream, drain the log (SIGTERM ends here)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.upstream.close()
        if self._state_thread is not None:
            self._state_thread.shutdown(wait=True)
        self.fingerprints.close()
        self.sink.close()

    async def _background(self) -> None:
        last_reload = 0.0
        threaded = self.config.redis is not None
        while True:
            await asyncio.sleep(self.config.sync_interval_s)
            try:
                if threaded:
                    await asyncio.to_thread(self.enforcer.sync)
                else:
                    self.enforcer.sync()
            except Exception as e:  # Redis down: local state keeps working; say so once per interval
                log.warning("state sync failed: %s", e)
            if time.monotonic() - last_reload >= self.config.reload_interval_s:
                last_reload = time.monotonic()
                try:
                    self._reload()
                except Exception as e:  # a bad new file keeps the old one in force
                    log.error("reload failed, keeping the current configuration: %s", e)

    def _reload(self) -> None:
        self.keys.reload()
        if self._watch_policy is not None and self._watch_policy.changed():
            path = self._watch_policy.path
            text, json_format = path.read_text(), path.suffix.lower() == ".json"  # read once: checked is shared
            policy = parse_policy(text, str(path), json_format=json_format)
            self.enforcer.publish({"op": "policy", "text": text, "source": str(path), "json": json_format})
            log.info("policy reloaded from %s", policy.source)
        if self._watch_detect is not None and self._watch_detect.changed():
            self.enforcer.set_knowledge(load_detection(self._watch_detect.path.parent))
            log.info("detection output reloaded from %s", self._watch_detect.path.parent)

    def _audit(self, e: AuditEntry) -> None:
        self.sink.audit({"ts": e.ts, "actor": e.actor, "action": e.action, "target": e.target, "reason": e.reason})

    # -- endpoints -----------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        """Liveness and log backlog."""
        fp, sink = self.fingerprints, self.sink
        logging_ = sink.health()
        problems = logging_.pop("log_problems")
        if fp.workers and fp.workers_alive < len(fp.workers):
            problems.append(f"{len(fp.workers) - fp.workers_alive} of {len(fp.workers)} fingerprint workers down "
                            "(restarted within a fingerprint interval)")
        return Response(orjson.dumps({"ok": not problems, "problems": problems, **logging_,
                                      "auth_refused": self.auth_failures.refused,
                                      "fingerprint_batches": fp.batches, "fingerprint_dropped": fp.dropped,
                                      "fingerprint_cache": fp.cached, "requests": self.telemetry.total,
                                      **self._state_health()}),
                        503 if problems else 200, media_type="application/json")

    def _state_health(self) -> dict[str, Any]:
        e = self.enforcer
        fp = self.fingerprints
        return {"fingerprint_workers_alive": fp.workers_alive, "fingerprint_worker_restarts": fp.worker_restarts,
                "connections_refused": dict(REFUSED), "in_flight_refused": self.inflight.refused,
                "state_events_skipped": e.bad_events,
                "state_last_bad_event": e.last_bad_event,
                "state_events_unpublished": e.unpublished}

    async def openapi(self, request: Request) -> Response:
        """GET /openapi.json: the gateway's OpenAPI 3 description."""
        return Response(self._openapi, media_type="application/json")

    async def models(self, request: Request) -> Response:
        """GET /v1/models, forwarded."""
        who = self._auth(request)
        if not isinstance(who, Principal):
            return who
        try:
            resp = await self.upstream.send("GET", "/v1/models", None, {})
            data = await resp.read()
        except UpstreamError as e:
            status = _upstream_status(e)
            return _error(status, "upstream_timeout" if status == 504 else "upstream_error")
        if resp.status in UPSTREAM_AUTH_STATUSES:
            self._upstream_auth_refused(resp.status)
            return _error(502, "upstream_auth_failed")
        return Response(data, resp.status, media_type=resp.content_type)

    async def chat(self, request: Request) -> Response:
        """POST /v1/chat/completions."""
        return await self._proxy(request, CHAT)

    async def completions(self, request: Request) -> Response:
        """POST /v1/completions."""
        return await self._proxy(request, COMPLETIONS)

    async def responses(self, request: Request) -> Response:
        """POST /v1/responses (the Responses API)."""
        return await self._proxy(request, RESPONSES)

    async def embeddings(self, request: Request) -> Response:
        """POST /v1/embeddings."""
        return await self._proxy(request, EMBEDDINGS)

    # -- the proxy -----------------------------------------------------------------------------------
    async def _proxy(self, request: Request, ep: Endpoint) -> Response:
        now = time.time()
        rid: str = request.scope[SCOPE_KEY]
        who = self._auth(request, rid, now)
        if not isinstance(who, Principal):
            return who
        if not self.inflight.acquire(who.account_id):  # one account cannot hold the upstream for everyone
            self._refusal(rid, now, who.account_id, 429, "too_many_concurrent_requests",
                          f"{self.inflight.cap} requests of this account already in flight")
            return _error(429, "too_many_concurrent_requests",
                          f"At most {self.inflight.cap} requests of one account in flight at once.",
                          headers={"Retry-After": "1"})
        out = Releasing(None, lambda: self.inflight.release(who.account_id))
        try:
            out.response = await self._forward(request, ep, who, rid, now)
        except BaseException:
            out.release()
            raise
        return out  # type: ignore[return-value]

    async def _forward(self, request: Request, ep: Endpoint, who: Principal, rid: str, now: float) -> Response:
        path = ep.path
        if self.sink.failing:  # nothing is answered that cannot be journaled: fail before using the upstream
            return _error(503, *LOG_UNAVAILABLE)
        policy = self.enforcer.policy
        try:
            body = await _read_body(request, policy.max_body_bytes)
            pr = ep.parse(body, policy.max_messages)
        except ClientError as e:
            self._refusal(rid, now, who.account_id, e.status, e.code, e.message)
            return _error(e.status, e.code, e.message, e.param)
        except ClientDisconnect:
            return Response(status_code=400)
        ids = self.fingerprints.lookup(pr.text)
        ereq = EnfRequest(who.account_id, now, ids[0] if ids else 0, ids[1] if ids else 0, who.org_id,
                          who.verified, pr.chars // 4 + 1, pr.max_tokens, output_reserve(pr.max_tokens))
        if self._state_thread is None:
            d = self.enforcer.decide(ereq)
        else:
            d = await asyncio.get_running_loop().run_in_executor(self._state_thread, self.enforcer.decide, ereq)
        if ids is None and d.allowed:  # a refused request's prompt is neither queued nor cached
            self.fingerprints.submit(who.account_id, pr.text, now)
        meta = (rid, now, who, pr, ep, request, ids)
        if not d.allowed:
            with contextlib.suppress(JournalError):
                self._log(meta, d, d.status, None, None, None)
            headers = {"Retry-After": str(max(1, round(d.retry_after)))} if d.status == 429 else None
            return _error(d.status, d.code, headers=headers)
        headers = {"Content-Type": "application/json", "Accept": _header(request, b"accept") or "*/*"}
        if d.action == Action.DEGRADE:
            payload = degrade_payload(pr.payload, d.max_tokens or 0, ep.max_tokens_field(pr.payload))
            body = orjson.dumps(payload)
            if d.watermark:
                headers[WATERMARK_HEADER] = "force"
        try:
            resp = await self.upstream.send("POST", path, body, headers)
        except asyncio.CancelledError:  # shut down (or the client left) while the upstream was thinking: keep a row
            with contextlib.suppress(JournalError):
                self._log(meta, d, CUT_STATUS, None, None, None, "cancelled while waiting for the upstream")
            raise
        except UpstreamError as e:
            self._settle(ereq, d, 0)  # nothing was served: the reservation comes back
            return self._upstream_failed(meta, d, e)
        if pr.stream and resp.status == 200:
            return StreamingResponse(self._relay(resp.chunks, meta, d, ereq), resp.status,
                                     media_type=resp.content_type)
        try:
            data = await resp.read()
        except UpstreamError as e:
            self._settle(ereq, d, 0)  # nothing was served: the reservation comes back
            return self._upstream_failed(meta, d, e)
        if resp.status in UPSTREAM_AUTH_STATUSES:  # the operator's key, not the customer's: never relayed as such
            self._upstream_auth_refused(resp.status)
            return self._upstream_failed(meta, d, UpstreamAuthError(f"the upstream refused the gateway's key "
                                                                    f"(HTTP {resp.status})"))
        text, pt, ct = ep.read(data) if resp.status == 200 else (None, None, None)
        if d.drop_reasoning and resp.status == 200:
            data = ep.strip(data)
        try:
            self._log(meta, d, resp.status, text, pt, ct)
        except JournalError:
            return _error(503, *LOG_UNAVAILABLE)
        self._settle(ereq, d, completion_tokens(text, ct))
        ctype = resp.content_type
        if resp.status >= 400 and not _is_error_json(data):  # e.g. an HTML page from a proxy before the model
            data, ctype = error_body(resp.status, "upstream_error"), "application/json"
        return Response(data, resp.status, media_type=ctype)

    def _upstream_auth_refused(self, status: int) -> None:
        now = time.monotonic()
        if now - self._auth_warned >= 60:  # once a minute: every request fails alike until the key is fixed
            self._auth_warned = now
            log.error("the upstream refused the gateway's credential (HTTP %d): clients get 502 "
                      "upstream_auth_failed; check the upstream API key (serve --upstream-key-env)", status)

    def _upstream_failed(self, meta: tuple[Any, ...], d: Decision, e: UpstreamError) -> Response:
        status = _upstream_status(e)
        with contextlib.suppress(JournalError):
            self._log(meta, d, status, None, None, None, str(e))
        code = ("upstream_auth_failed" if isinstance(e, UpstreamAuthError) else
                "upstream_timeout" if status == 504 else "upstream_error")
        return _error(status, code)

    async def _relay(self, chunks: AsyncIterator[bytes], meta: tuple[Any, ...], d: Decision,
                     ereq: EnfRequest) -> AsyncIterator[bytes]:
        # the exchange is journaled before the chunk carrying `data: [DONE]` goes out (and in any case before
        # the response's last byte), so a client that saw the end of the stream has its exchange stored
        seen: list[bytes] = []
        ep: Endpoint = meta[4]
        filt = ep.stream_filter() if d.drop_reasoning else None
        status, err, logged, ended = 200, None, False, False
        try:
            async for chunk in chunks:
                seen.append(chunk)
                if filt is not None:
                    chunk = filt.feed(chunk)
                    if not chunk:
                        continue
                if not logged and ep.done_hint in chunk and ep.done.search(chunk):
                    logged = self._log_stream(meta, d, status, seen, None)
                yield chunk
            if filt is not None:
                rest = filt.flush()
                if rest:
                    if not logged:
                        logged = self._log_stream(meta, d, status, seen, None)
                    yield rest
            ended = True
        except UpstreamError as e:
            status, err, ended = _upstream_status(e), str(e), True
        except JournalError:  # not durable: cut the stream before its end, so it is not taken as answered
            logged = True
            raise
        finally:
            if not logged and not ended:  # cut before its end (client gone, server shutting down): not a clean 200
                status, err = CUT_STATUS, "stream cut before its end (client disconnected or server shut down)"
            if not logged:
                with contextlib.suppress(JournalError):
                    self._log_stream(meta, d, status, seen, err)
            text, _, ct = ep.read_stream(seen)
            self._settle(ereq, d, completion_tokens(text, ct))  # a stream without usage is charged too

    def _settle(self, ereq: EnfRequest, d: Decision, completion_tokens: int) -> None:
        if not d.allowed or completion_tokens == d.reserved:
            return
        if self._state_thread is None:
            self.enforcer.settle(ereq, d, completion_tokens)
        else:  # billing after the fact: the answer does not wait for it; one job drains what has queued up
            self._settles.append((ereq, d, completion_tokens))
            if not self._settle_queued:
                self._settle_queued = True
                try:
                    self._state_thread.submit(self._drain_settles)
                except RuntimeError:  # shutting down
                    self._drain_settles()

    def _drain_settles(self) -> None:
        self._settle_queued = False  # before draining: a bill queued from now on is drained here or by a new job
        while self._settles:
            self.enforcer.settle(*self._settles.popleft())

    def _log_stream(self, meta: tuple[Any, ...], d: Decision, status: int, seen: list[bytes],
                    err: str | None) -> bool:
        text, pt, ct = meta[4].read_stream(seen)
        self._log(meta, d, status, text, pt, ct, err)
        return True

    def _auth(self, request: Request, rid: str | None = None, now: float = 0.0) -> Principal | Response:
        """The key's principal, or the refusal to send: 401, or 429 after too many failures from this address."""
        client = request.client.host if request.client else ""
        wait = self.auth_failures.retry_after(client)
        if wait:
            return _error(429, "too_many_auth_failures", headers={"Retry-After": str(round(wait))})
        h = _header(request, b"authorization") or ""
        who = self.keys.authenticate(h[7:].strip()) if h[:7].lower() == "bearer " else None
        if who is None:
            self.auth_failures.failed(client)
            if rid is not None:
                self._refusal(rid, now, None, 401, "invalid_api_key", f"no valid API key from {client}")
            return _error(401, "invalid_api_key")
        return who

    def _refusal(self, rid: str, now: float, account_id: str | None, status: int, code: str, reason: str) -> None:
        """Log a request refused before it became an exchange (bad key, bad body) as an enforcement event."""
        with contextlib.suppress(JournalError):
            self._refusal_event(rid, now, account_id, status, code, reason)

    def _refusal_event(self, rid: str, now: float, account_id: str | None, status: int, code: str,
                       reason: str) -> None:
        self.sink.enforcement({"ts": utc(now or time.time()), "request_id": rid, "account_id": account_id,
                               "campaign_id": None, "action": "refuse", "code": code, "status": status,
                               "reason": reason[:500], "template_id": None, "score": None})

    def _log(self, meta: tuple[Any, ...], d: Decision, status: int, completion: str | None,
             pt: int | None, ct: int | None, error: str | None = None) -> None:
        rid, now, who, pr, ep, request, ids = meta
        pr_: ParsedRequest = pr
        client = request.client
        ts = utc(now)
        event = None
        if d.action != Action.ALLOW or not d.allowed or error:
            event = {
                "ts": ts, "request_id": rid, "account_id": who.account_id, "campaign_id": d.campaign_id,
                "action": d.action.label, "code": d.code if not error else "upstream_error", "status": status,
                "reason": d.reason if not error else f"{d.reason}; upstream: {error}",
                "template_id": ids[0] if ids else None, "score": d.score}
        messages, prompt = pr_.messages, pr_.prompt
        if event is not None and not d.allowed:  # refused: keep the prompt's size and digest, not the prompt
            event["reason"] = f"{event['reason']}; {refused_prompt_note(messages, prompt)}"
            messages = prompt = None
        self.sink.exchange(exchange_row(
            request_id=rid, ts=ts, account_id=who.account_id, api_key_id=who.key_id, org_id=who.org_id,
            ip=client.host if client else "", user_agent=_header(request, b"user-agent"), model=pr_.model,
            endpoint=ep.path, messages=messages, prompt=prompt, tools=pr_.tools,
            params=params_json(pr_.payload), completion=completion, prompt_tokens=pt, completion_tokens=ct,
            status=status), event)


class _Proxied:
    """ASGI: a POST to a proxied endpoint goes straight to `Gateway._proxy`; everything else to Starlette.

    Starlette's stack (two exception middlewares, the router's scan of every route, two `send` wrappers)
    cost ~8 us of the ~90 us this process spends on a request in the app. Its one effect on these routes is
    kept: an unexpected exception answers OpenAI's 500 `internal_error` (if nothing was sent yet), then
    reaches the server, which logs it.
    """

    def __init__(self, app: Starlette, proxy: Any) -> None:
        self.app = app
        self.proxy = proxy

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ep = (_PROXIED.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST"
              and not scope.get("root_path") else None)
        if ep is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def sender(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        request = Request(scope, receive, send)
        try:
            response = await self.proxy(request, ep)
            await response(scope, receive, sender)
        except Exception as exc:
            if not started:
                await (await server_error(request, exc))(scope, receive, send)
            raise


_PROXIED = {ep.path: ep for ep in (CHAT, COMPLETIONS, RESPONSES, EMBEDDINGS)}


def _header(request: Request, name: bytes) -> str | None:
    """One request header (lower-case name), read straight from the ASGI scope (Starlette's Headers
    object is rebuilt and scanned per lookup, which showed in profiles)."""
    for k, v in request.scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


async def _read_body(request: Request, limit: int) -> bytes:
    cl = _header(request, b"content-length")
    if cl is not None:
        if not cl.isdigit():
            raise ClientError(400, "invalid_request", "Content-Length is not a number.")
        if int(cl) > limit:
            raise ClientError(413, "request_too_large", f"The request body exceeds {limit} bytes.")
    parts, size = [], 0
    while True:
        msg = await request.receive()
        if msg["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ClientError(413, "request_too_large", f"The request body exceeds {limit} bytes.")
        parts.append(chunk)
        if not msg.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


def _upstream_status(e: UpstreamError) -> int:
    """504 when the upstream did not answer in time, 502 when it could not be reached or broke off."""
    return 504 if isinstance(e, UpstreamTimeout) else 502


def _is_error_json(data: bytes) -> bool:
    """Whether an upstream error body is already an OpenAI-style `{"error": ...}` object."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and "error" in doc


def _error(status: int, code: str, message: str | None = None, param: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, code, message, param), status, headers=headers,
                    media_type="application/json")


def create_app(config: GatewayConfig) -> RequestIds:
    """Build the gateway application (used by `distillguard serve` and by tests)."""
    return Gateway(config).app
