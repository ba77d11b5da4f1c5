"""API keys: a small JSON file of hashed keys mapped to accounts.

A key looks like `dg-<key_id>-<secret>`; only the SHA-256 of the secret is stored, and it is compared
in constant time. The file is rewritten atomically (temp file + rename), so `distillguard keys create`
can run while the gateway is serving; the gateway reloads the file when it changes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError

KEYS_VERSION = 1


@dataclass(frozen=True)
class KeyRecord:
    """One API key (never the key itself: the hash of its secret)."""

    key_id: str
    account_id: str
    secret_sha256: str
    created_at: str
    org_id: str | None = None
    verified: bool = False
    revoked_at: str | None = None
    label: str = ""

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as."""

    account_id: str
    key_id: str
    org_id: str | None
    verified: bool


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """Hashed API keys in a JSON file; `authenticate` is what the gateway calls per request.

    >>> import tempfile, pathlib
    >>> ks = KeyStore(pathlib.Path(tempfile.mkdtemp()) / "keys.json")
    >>> key = ks.create("acct-1")
    >>> ks.authenticate(key).account_id, ks.authenticate(key + "x")
    ('acct-1', None)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._records: dict[str, KeyRecord] = {}
        self._mtime: float | None = None
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> bool:
        """Re-read the file if it changed since the last read; return whether it was re-read."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            changed = self._mtime is not None
            self._records, self._mtime = {}, None
            return changed
        if mtime == self._mtime:
            return False
        try:
            raw = json.loads(self.path.read_text())
            recs = {r["key_id"]: KeyRecord(**r) for r in raw["keys"]}
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{self.path}: not a DistillGuard keys file ({e}); create keys with "
                              "`distillguard keys create`") from None
        self._records, self._mtime = recs, mtime
        return True

    def authenticate(self, key: str) -> Principal | None:
        """The principal of an active key, or None (unknown, malformed or revoked)."""
        parts = key.split("-", 2)
        if len(parts) != 3 or parts[0] != "dg":
            return None
        rec = self._records.get(parts[1])
        # compare even when the id is unknown, so timing does not tell which ids exist
        expected = rec.secret_sha256 if rec is not None else "0" * 64
        ok = hmac.compare_digest(_hash(parts[2]), expected)
        if rec is None or not ok or not rec.active:
            return None
        return Principal(rec.account_id, rec.key_id, rec.org_id, rec.verified)

    def create(self, account_id: str, org_id: str | None = None, verified: bool = False, label: str = "") -> str:
        """Create a key for an account; return the key (shown once, never stored)."""
        if not account_id:
            raise ConfigError("keys create: --account must not be empty")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        rec = KeyRecord(key_id, account_id, _hash(secret), _now(), org_id, verified, None, label)
        self._update(lambda recs: {**recs, key_id: rec})
        return f"dg-{key_id}-{secret}"

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key by id (or by the full key); return its record."""
        if key_id.startswith("dg-"):
            key_id = key_id.split("-", 2)[1]
        found: list[KeyRecord] = []

        def change(recs: dict[str, KeyRecord]) -> dict[str, KeyRecord]:
            rec = recs.get(key_id)
            if rec is None:
                raise ConfigError(f"{self.path}: no key with id {key_id!r}; see `distillguard keys list`")
            found.append(replace(rec, revoked_at=rec.revoked_at or _now()))
            return {**recs, key_id: found[0]}

        self._update(change)
        return found[0]

    def list(self) -> list[KeyRecord]:
        """All key records, oldest first."""
        self.reload()
        return sorted(self._records.values(), key=lambda r: r.created_at)

    def _update(self, change) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.reload()
            recs = change(dict(self._records))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            body = json.dumps({"version": KEYS_VERSION, "keys": [asdict(r) for r in recs.values()]}, indent=1)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
            with os.fdopen(fd, "w") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
            self._records, self._mtime = recs, None
            self.reload()


def default_keys_path(db: str | Path) -> Path:
    """The keys file that goes with a store: `<db>.keys.json` next to it."""
    p = Path(db)
    return p.with_name(p.name + ".keys.json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
