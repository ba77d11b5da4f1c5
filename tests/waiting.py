"""Waiting for what another thread or process brings about, instead of sleeping a fixed time and hoping.

CI runs the suite on two loaded cores: a background thread, a child process or a server can lag by seconds.
A test waits for the condition itself, with a deadline far above any normal lag, then asserts on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEADLINE_S = 60.0


def eventually(cond: Callable[[], T], timeout_s: float = DEADLINE_S, every_s: float = 0.02) -> T:
    """Call `cond` until it returns something truthy or `timeout_s` has passed; return its last value, for the
    caller to assert on (`assert eventually(lambda: x.done), "x never finished"`)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = cond()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every_s)
