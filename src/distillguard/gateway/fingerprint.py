"""Online prompt fingerprints for the gateway: the same template / wrapper ids as `detect`.

`distillguard.fingerprints.fingerprint_texts` is vectorised over many texts and costs a fixed ~30 ms
per call plus ~0.1 ms per distinct text, so the request path never calls it. It looks the prompt up in
a cache of recently seen texts (campaigns reuse prompts across accounts) and queues it; a background
thread fingerprints the queue in batches every `interval_s` (0.25 s; batches grow under load)
and feeds the ids back to the enforcement engine, which counts matches to known campaign templates.
A fresh account that sends a campaign's templates is thus assigned to that campaign within a batch or
two of its first requests. The batch work runs in a worker process when one is given (the
gateway's default), so it never competes with the event loop for the GIL.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import orjson

log = logging.getLogger("distillguard.gateway")

Ids = tuple[int, int]  # (template_id, wrapper_id)


def fingerprint_ids(texts: Sequence[str]) -> list[Ids]:
    """(template_id, wrapper_id) per text, from `distillguard.fingerprints` (once per distinct text)."""
    from ..fingerprints.texts import fingerprint_texts

    if not texts:
        return []
    t = fingerprint_texts(list(texts))
    return list(zip(t.column("template_id").to_pylist(), t.column("wrapper_id").to_pylist(), strict=True))


def _worker_main() -> None:
    """Child loop: length-prefixed JSON lists of texts on stdin, lists of id pairs on stdout."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return
        texts = orjson.loads(inp.read(int.from_bytes(head, "little")))
        data = orjson.dumps(fingerprint_ids(texts))
        out.write(len(data).to_bytes(4, "little") + data)
        out.flush()


class FingerprintWorker:
    """A child process (`python -m distillguard.gateway.fingerprint`) that fingerprints batches.

    A plain subprocess rather than multiprocessing: it shares no locks or threads with the server and
    does not re-import the caller's main module.
    """

    def __init__(self) -> None:
        self.restarts = 0  # times the child was found dead (killed, crashed) and started again
        self._lock = threading.Lock()
        self._proc = self._spawn()

    @staticmethod
    def _spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "distillguard.gateway.fingerprint"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self._proc.poll() is None

    def supervise(self) -> bool:
        """Start the child again if it died; True if it is running now."""
        with self._lock:
            if self._proc.poll() is None:
                return True
            self._restart()
            return self._proc.poll() is None

    def _restart(self) -> None:
        code = self._proc.poll()
        with contextlib.suppress(Exception):
            self._stop(self._proc)
        log.error("fingerprint worker died (exit %s); starting a new one (restart %d)", code, self.restarts + 1)
        self._proc = self._spawn()
        self.restarts += 1  # counted once the new child is in place, so a reader never sees the count before it

    def __call__(self, texts: Sequence[str]) -> list[Ids]:
        """Fingerprint a batch in the child; blocks the calling (background) thread only. A dead child is
        replaced and the batch tried once more."""
        data = orjson.dumps(list(texts))
        with self._lock:
            for attempt in (1, 2):
                try:
                    got = self._ask(data)
                    break
                except (OSError, RuntimeError, ValueError):
                    if attempt == 2:
                        raise
                    self._restart()
        return [(int(t), int(w)) for t, w in got]

    def _ask(self, data: bytes) -> Any:
        p = self._proc
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write(len(data).to_bytes(4, "little") + data)
        p.stdin.flush()
        head = p.stdout.read(4)
        if len(head) < 4:
            raise RuntimeError("fingerprint worker exited")
        return orjson.loads(p.stdout.read(int.from_bytes(head, "little")))

    def close(self) -> None:
        """Stop the child (it holds nothing worth waiting for)."""
        self._stop(self._proc)

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


GENERIC_MIN_CHARS = 40  # a text shorter than this, or of fewer words, is generic ("hi", "continue", ...)
GENERIC_MIN_WORDS = 8
MAX_GENERIC_IDS = 100_000


def is_generic(text: str) -> bool:
    """Whether a prompt is too short to say anything about who sent it: its fingerprints are never learned
    online as a campaign's template (many unrelated accounts send "continue" or "What is 2+2?")."""
    words = text.split()
    return len(words) < GENERIC_MIN_WORDS or sum(len(w) for w in words) + len(words) - 1 < GENERIC_MIN_CHARS


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class Fingerprinter:
    """A text -> ids cache in front of background batch fingerprinting (one thread per worker process).

    `on_ids(account_id, ids, now)` is called from a background thread for each queued request.
    With no workers, batches are fingerprinted in this process (tests, small deployments).
    """

    def __init__(self, on_ids: Callable[[str, Ids, float], None], interval_s: float = 0.25,
                 cache_size: int = 200_000, max_queue: int = 100_000,
                 workers: Sequence[FingerprintWorker] = (), max_batch: int = 4096,
                 max_queue_bytes: int = 64 << 20, generic: set[int] | None = None) -> None:
        self.on_ids = on_ids
        self.workers = list(workers)
        self.interval_s = interval_s
        self.cache_size = cache_size
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes  # texts waiting, in characters: 1 MB prompts cannot pile up
        self.queued_bytes = 0
        self.generic = generic if generic is not None else set()  # ids of generic texts (`is_generic`)
        self._qlock = threading.Lock()
        self.max_batch = max_batch
        # keyed by a 16-byte digest of the text, not the text: the cache holds at most `cache_size` entries
        # of ~150 bytes whatever the prompts' size
        self._cache: dict[bytes, Ids] = {}
        self._queue: deque[tuple[str, str, float]] = deque()
        self._cache_lock = threading.Lock()
        self.dropped = 0
        self.batches = 0
        self.submitted = 0  # requests queued by `submit`
        self.settled = 0  # of those, handed to `on_ids` (or lost with a batch that failed)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w,), name="distillguard-fingerprint", daemon=True)
                         for w in (self.workers or [None])]
        for t in self._threads:
            t.start()

    @property
    def cached(self) -> int:
        """Texts in the cache (at most `cache_size`)."""
        return len(self._cache)

    def lookup(self, text: str) -> Ids | None:
        """Ids of a text seen recently, or None (then `submit` it)."""
        return self._cache.get(_digest(text))

    def submit(self, account_id: str, text: str, now: float) -> None:
        """Queue a request's prompt for fingerprinting in the background."""
        if len(self._queue) >= self.max_queue or self.queued_bytes + len(text) > self.max_queue_bytes:
            self.dropped += 1  # overload: enforcement still runs on detection output and buckets
            return
        with self._qlock:
            self.queued_bytes += len(text)
            self.submitted += 1
        self._queue.append((account_id, text, now))

    def drain(self, worker: FingerprintWorker | None = None) -> int:
        """Fingerprint up to `max_batch` queued requests; return how many were processed."""
        items = []
        with contextlib.suppress(IndexError):
            for _ in range(min(len(self._queue), self.max_batch)):
                items.append(self._queue.popleft())
        if not items:
            return 0
        with self._qlock:
            self.queued_bytes -= sum(len(t) for _, t, _ in items)
        texts = list(dict.fromkeys(t for _, t, _ in items))
        try:
            got = worker(texts) if worker is not None else fingerprint_ids(texts)
            ids = dict(zip(texts, got, strict=True))
        except Exception:
            log.exception("fingerprint: batch of %d texts failed", len(texts))
            with self._qlock:
                self.settled += len(items)
            return 0
        if len(self.generic) < MAX_GENERIC_IDS:
            for t, v in ids.items():
                if is_generic(t):
                    self.generic.update(i for i in v if i)
        with self._cache_lock:
            self._cache.update((_digest(t), v) for t, v in ids.items())
            while len(self._cache) > self.cache_size:
                self._cache.pop(next(iter(self._cache)))  # oldest first (insertion order)
        for account_id, text, now in items:
            self.on_ids(account_id, ids[text], now)
        with self._qlock:
            self.settled += len(items)
        self.batches += 1
        return len(items)

    @property
    def idle(self) -> bool:
        """Whether every queued request has been handed to `on_ids` (what `on_ids` did with it included)."""
        return self.settled == self.submitted

    def close(self) -> None:
        """Process what is queued and stop the threads and workers."""
        self._stop.set()
        for t in self._threads:
            t.join()
        while self.drain(self.workers[0] if self.workers else None):
            pass
        for w in self.workers:
            w.close()

    @property
    def worker_restarts(self) -> int:
        """Times a dead worker process was replaced."""
        return sum(w.restarts for w in self.workers)

    @property
    def workers_alive(self) -> int:
        """Worker processes running now."""
        return sum(w.alive for w in self.workers)

    def _run(self, worker: FingerprintWorker | None) -> None:
        if worker is not None:
            with contextlib.suppress(Exception):
                worker(["warm up"])  # the child imports the fingerprint code now, not on the first request
        while not self._stop.wait(self.interval_s):
            try:
                if worker is not None:
                    worker.supervise()  # a killed or crashed child is replaced within an interval
                while self.drain(worker) == self.max_batch and not self._stop.is_set():
                    pass
            except Exception:  # the thread must outlive any one failure
                log.exception("fingerprint: background loop error")


if __name__ == "__main__":
    _worker_main()
