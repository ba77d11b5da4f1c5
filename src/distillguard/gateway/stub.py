"""A tiny OpenAI-compatible upstream that answers at once: for tests, benchmarks and demos.

A raw ASGI app (no framework, so it costs the benchmark as little as possible). It answers chat and
completions requests (streamed as SSE when asked, with `reasoning_content` so degrade can be seen
stripping it), Responses API requests (a reasoning item and a message; streamed as the API's typed
events), embeddings (a 3-number vector per input), lists one model, requires `expected_key` when given,
and echoes the `max_tokens` and watermark header it received so tests can see what the gateway sent.

    python -m distillguard.gateway.stub --port 9000 [--key SECRET]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from typing import Any

import orjson

Scope = dict[str, Any]


async def lifespan(scope: Scope, receive: Any, send: Any) -> bool:
    """Answer an ASGI lifespan scope (start-up and shut-down); False for any other scope."""
    if scope["type"] != "lifespan":
        return False
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})
    return True


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI HTTP request."""
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            return body


class StubUpstream:
    """ASGI app answering like an OpenAI server; `requests` counts what it served."""

    def __init__(self, expected_key: str | None = None, chunks: int = 4, chunk_delay_s: float = 0.0) -> None:
        self.expected_key = expected_key
        self.chunks = chunks
        self.chunk_delay_s = chunk_delay_s
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """Serve one ASGI request."""
        if await lifespan(scope, receive, send):
            return
        headers = dict(scope["headers"])
        body = await read_body(receive)
        if self.expected_key and headers.get(b"authorization") != f"Bearer {self.expected_key}".encode():
            await _json(send, 401, {"error": {"message": "stub: wrong upstream key", "code": "invalid_api_key"}})
            return
        self.requests += 1
        path = scope["path"]
        if path.endswith("/models"):
            await _json(send, 200, {"object": "list", "data": [{"id": "stub-model", "object": "model"}]})
            return
        req = orjson.loads(body or b"{}")
        if path.endswith("/embeddings"):
            inputs = req.get("input")
            inputs = [inputs] if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)) else inputs
            await _json(send, 200, {"object": "list", "model": req.get("model"), "data": [
                {"object": "embedding", "index": i, "embedding": [0.5, -0.25, float(len(str(x)))]}
                for i, x in enumerate(inputs or [])], "usage": {"prompt_tokens": 5, "total_tokens": 5}})
            return
        if path.endswith("/responses"):
            await self._responses(req, headers, send)
            return
        chat = path.endswith("/chat/completions")
        mt = req.get("max_tokens", req.get("max_completion_tokens"))
        wm = headers.get(b"x-distillguard-watermark", b"").decode()
        words = ["The", " answer", " is", " 42."][: self.chunks]
        if req.get("stream"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            for i, w in enumerate(words):
                delta = {"content": w} if i else {"role": "assistant", "content": w, "reasoning_content": "hmm"}
                choice = {"index": 0, "delta": delta} if chat else {"index": 0, "text": w}
                event = {"id": "stub", "object": "chat.completion.chunk", "choices": [choice]}
                await send({"type": "http.response.body", "body": b"data: " + orjson.dumps(event) + b"\n\n",
                            "more_body": True})
                if self.chunk_delay_s:
                    await asyncio.sleep(self.chunk_delay_s)
            usage = {"prompt_tokens": 5, "completion_tokens": len(words), "total_tokens": 5 + len(words)}
            tail = b"data: " + orjson.dumps({"id": "stub", "choices": [], "usage": usage}) + b"\n\ndata: [DONE]\n\n"
            await send({"type": "http.response.body", "body": tail})
            return
        text = "".join(words)
        choice = ({"index": 0, "message": {"role": "assistant", "content": text, "reasoning_content": "hmm"},
                   "finish_reason": "stop"} if chat else {"index": 0, "text": text, "finish_reason": "stop"})
        await _json(send, 200, {"id": "stub", "object": "chat.completion" if chat else "text_completion",
                                "model": req.get("model"), "choices": [choice],
                                "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
                                "stub": {"max_tokens": mt, "watermark": wm}})

    async def _responses(self, req: dict[str, Any], headers: dict[bytes, bytes], send: Any) -> None:
        """The Responses API: a reasoning item, then a message (streamed as typed SSE events when asked)."""
        words = ["The", " answer", " is", " 42."][: self.chunks]
        text = "".join(words)
        mt = req.get("max_output_tokens")
        wm = headers.get(b"x-distillguard-watermark", b"").decode()
        reasoning = {"id": "rs_stub", "type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]}
        message = {"id": "msg_stub", "type": "message", "role": "assistant", "status": "completed",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}
        usage = {"input_tokens": 5, "output_tokens": len(words), "total_tokens": 5 + len(words)}
        resp = {"id": "resp_stub", "object": "response", "created_at": 0, "status": "completed",
                "model": req.get("model"), "output": [reasoning, message], "usage": usage,
                "stub": {"max_tokens": mt, "watermark": wm}}
        if not req.get("stream"):
            await _json(send, 200, resp)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        seq = 0

        async def event(obj: dict[str, Any], more: bool = True) -> None:
            nonlocal seq
            obj = {"type": obj.pop("type"), "sequence_number": seq, **obj}
            seq += 1
            data = b"event: " + obj["type"].encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"
            await send({"type": "http.response.body", "body": data, "more_body": more})

        start = {**resp, "status": "in_progress", "output": [], "usage": None}
        await event({"type": "response.created", "response": start})
        await event({"type": "response.output_item.added", "output_index": 0, "item": reasoning})
        await event({"type": "response.reasoning_summary_text.delta", "item_id": "rs_stub", "output_index": 0,
                     "summary_index": 0, "delta": "hmm"})
        await event({"type": "response.output_item.done", "output_index": 0, "item": reasoning})
        await event({"type": "response.output_item.added", "output_index": 1,
                     "item": {**message, "status": "in_progress", "content": []}})
        for w in words:
            await event({"type": "response.output_text.delta", "item_id": "msg_stub", "output_index": 1,
                         "content_index": 0, "delta": w, "logprobs": []})
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
        await event({"type": "response.output_item.done", "output_index": 1, "item": message})
        await event({"type": "response.completed", "response": resp}, more=False)


async def _json(send: Any, status: int, obj: Any) -> None:
    body = orjson.dumps(obj)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """Run an ASGI app under a real uvicorn server on 127.0.0.1 in a thread (tests, benchmarks).

    >>> with ThreadedServer(StubUpstream()) as srv:
    ...     srv.url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, app: Any, port: int | None = None, http: Any = "auto") -> None:
        import uvicorn

        # bound here and handed to uvicorn: a port found free and bound later could be taken in between
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind(("127.0.0.1", port or 0))
        except OSError:
            self._sock.close()
            raise
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="on", http=http))
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> ThreadedServer:
        """Start and wait until it accepts connections (up to 60 s: a loaded machine can be slow)."""
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful shutdown (runs the app's lifespan shutdown)."""
        self.server.should_exit = True
        self._thread.join(timeout=20)
        self._sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Run the stub with uvicorn."""
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--key", default=None)
    a = ap.parse_args()
    uvicorn.run(StubUpstream(a.key), host=a.host, port=a.port, log_level="warning", access_log=False,
                loop="auto", http="auto")


if __name__ == "__main__":
    main()
