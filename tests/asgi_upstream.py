"""A piece shared by the tests' in-process ASGI upstreams."""

from __future__ import annotations

from typing import Any


async def read_request(scope: dict[str, Any], receive: Any, send: Any) -> bytes | None:
    """The whole request body of an HTTP call, or None once a lifespan scope has been answered to its end."""
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            await send({"type": m["type"] + ".complete"})
            if m["type"] == "lifespan.shutdown":
                return None
    body = b""
    while True:
        m = await receive()
        body += m.get("body", b"")
        if not m.get("more_body"):
            return body
