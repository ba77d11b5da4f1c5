"""API keys: a small JSON file of keyed hashes mapped to accounts.

A key looks like `dg-<key_id>-<secret>`. The file never holds the secret, nor a plain hash of it: it holds
`HMAC-SHA256(server_secret, SHA-256(secret))`, compared in constant time. A stolen keys file therefore
cannot confirm a leaked key offline without the server secret, and the check stays a couple of
microseconds per request (a slow KDF would add nothing here: key secrets are 256-bit random, not
passwords, and the gateway verifies one on every request).

The server secret comes from `$DISTILLGUARD_KEY_SECRET` (at least 32 characters) or, when that is unset,
from `<keys file>.secret` beside the keys file (64 hex characters, mode 0600), created once when the first
key is created. The file records the secret's id (an HMAC of a constant, not the secret), so a process
started with another secret fails with an error instead of silently refusing every key.

Version-1 files (plain SHA-256 of the secret) are migrated in place on first load: the stored SHA-256 is
wrapped in the HMAC, which is exactly what a version-2 file holds, so old keys keep working.

The file is rewritten atomically (temp file + rename) under an advisory lock (`<keys file>.lock`), so
`distillguard keys create` can run while the gateway is serving; the gateway reloads the file when it
changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError

KEYS_VERSION = 2
HASH_SCHEME = "hmac-sha256(server_secret, sha256(key_secret))"
SECRET_ENV = "DISTILLGUARD_KEY_SECRET"
MIN_ENV_SECRET = 32
_ID_LABEL = b"distillguard key-secret id v1"
_DUMMY = "0" * 64
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyRecord:
    """One API key (never the key itself: the keyed hash of its secret)."""

    key_id: str
    account_id: str
    secret_hmac: str
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


@dataclass(frozen=True)
class ServerSecret:
    """The HMAC key for API key hashes, and where it came from (never printed)."""

    key: bytes = field(repr=False)
    source: str
    # HMAC's inner and outer hash states after the padded key (RFC 2104), computed once: OpenSSL's one-shot
    # HMAC costs ~8 µs per call here, two copies of a primed SHA-256 under 3 µs
    _pads: tuple[hashlib._Hash, hashlib._Hash] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = self.key if len(self.key) <= 64 else hashlib.sha256(self.key).digest()
        key = key.ljust(64, b"\0")
        inner, outer = hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))
        object.__setattr__(self, "_pads", (inner, outer))

    @property
    def id(self) -> str:
        """A public tag of the secret (a truncated HMAC of a constant) to tell secrets apart."""
        return hmac.digest(self.key, _ID_LABEL, "sha256").hex()[:16]

    def digest(self, key_secret: str) -> str:
        """The stored form of a key's secret part."""
        return self.wrap(hashlib.sha256(key_secret.encode("utf-8", "surrogatepass")).digest())

    def wrap(self, sha256: bytes) -> str:
        """HMAC-SHA256 of a SHA-256 digest under the server secret (also how version-1 hashes are migrated)."""
        inner, outer = self._pads[0].copy(), self._pads[1].copy()
        inner.update(sha256)
        outer.update(inner.digest())
        return outer.hexdigest()


def secret_path(keys_path: str | Path) -> Path:
    """The secret file that goes with a keys file: `<keys file>.secret` next to it."""
    p = Path(keys_path)
    return p.with_name(p.name + ".secret")


def load_secret(keys_path: str | Path, create: bool = False) -> ServerSecret | None:
    """The server secret: `$DISTILLGUARD_KEY_SECRET`, else the secret file (made, mode 0600, if `create`)."""
    env = os.environ.get(SECRET_ENV, "")
    if env:
        raw = env.encode("utf-8", "surrogatepass")
        if len(raw) < MIN_ENV_SECRET:
            raise ConfigError(f"${SECRET_ENV} is too short ({len(raw)} bytes): use at least {MIN_ENV_SECRET} random "
                              "characters, e.g. from `python -c 'import secrets; print(secrets.token_hex(32))'`")
        return ServerSecret(raw, f"${SECRET_ENV}")
    path = secret_path(keys_path)
    if not path.exists():
        if not create:
            return None
        try:
            _create_secret_file(path)
        except OSError as e:
            raise ConfigError(f"{path}: cannot create the key secret ({e.strerror}); make its folder writable or "
                              f"set ${SECRET_ENV}") from None
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the key secret ({e.strerror}); fix its permissions or set "
                          f"${SECRET_ENV}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: the key secret is readable by other users; run `chmod 600 {path}`")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise ConfigError(f"{path}: not a DistillGuard key secret (expected 64 hex characters); restore it from "
                          f"a backup, or set ${SECRET_ENV} to the secret the keys were created with")
    return ServerSecret(key, str(path))


def _create_secret_file(path: Path) -> None:
    """Write a fresh secret to a temp file and hard-link it into place: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keysecret-")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _signature(path: Path) -> tuple[int, int, int]:
    """What tells a rewritten keys file from the one last read: not its time alone, which has the kernel's
    clock tick as resolution (two keys created within one tick would look like one change)."""
    st = path.stat()
    return st.st_mtime_ns, st.st_ino, st.st_size


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
        self._secret: ServerSecret | None = None
        self._mtime: tuple[int, int, int] | None = None  # the file as last read (`_signature`)
        self._lock = threading.RLock()
        self.reload()

    def reload(self) -> bool:
        """Re-read the file if it changed since the last read; return whether it was re-read."""
        with self._lock:
            try:
                mtime = _signature(self.path)
            except FileNotFoundError:
                changed = self._mtime is not None
                self._records, self._mtime = {}, None
                return changed
            if mtime == self._mtime:
                return False
            recs, secret, legacy = self._parse()
            if legacy:
                with self._exclusive():
                    recs, secret, legacy = self._parse()  # again, under the lock: another process may have won
                    if legacy:
                        try:
                            self._write(recs, secret)
                            log.info("%s: migrated %d API keys to %s", self.path, len(recs), HASH_SCHEME)
                        except OSError as e:  # read-only: keep serving from the migrated copy in memory
                            log.warning("%s: could not rewrite the migrated keys file (%s)", self.path, e.strerror)
                    mtime = _signature(self.path)
            self._records, self._secret, self._mtime = recs, secret, mtime
            return True

    def authenticate(self, key: str) -> Principal | None:
        """The principal of an active key, or None (unknown, malformed or revoked)."""
        parts = key.split("-", 2)
        secret = self._secret
        if len(parts) != 3 or parts[0] != "dg" or secret is None:
            return None
        rec = self._records.get(parts[1])
        # compare even when the id is unknown, so timing does not tell which ids exist
        expected = rec.secret_hmac if rec is not None else _DUMMY
        ok = hmac.compare_digest(secret.digest(parts[2]), expected)
        if rec is None or not ok or not rec.active:
            return None
        return Principal(rec.account_id, rec.key_id, rec.org_id, rec.verified)

    def create(self, account_id: str, org_id: str | None = None, verified: bool = False, label: str = "") -> str:
        """Create a key for an account; return the key (shown once, never stored)."""
        if not account_id:
            raise ConfigError("keys create: --account must not be empty")
        key_id, key_secret = secrets.token_hex(6), secrets.token_urlsafe(32)

        def add(recs: dict[str, KeyRecord], secret: ServerSecret) -> dict[str, KeyRecord]:
            rec = KeyRecord(key_id, account_id, secret.digest(key_secret), _now(), org_id, verified, None, label)
            return {**recs, key_id: rec}

        self._update(add)
        return f"dg-{key_id}-{key_secret}"

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key by id (or by the full key); return its record."""
        if key_id.startswith("dg-"):
            key_id = key_id.split("-", 2)[1]
        found: list[KeyRecord] = []

        def change(recs: dict[str, KeyRecord], secret: ServerSecret) -> dict[str, KeyRecord]:
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

    def _parse(self) -> tuple[dict[str, KeyRecord], ServerSecret | None, bool]:
        """Records (version-1 hashes already wrapped), the secret, and whether the file is version 1."""
        try:
            raw = json.loads(self.path.read_text())
            version = raw.get("version", 1)
            rows = raw["keys"]
            if version not in (1, KEYS_VERSION) or not isinstance(rows, list):
                raise ValueError(f"unsupported version {version!r}; this DistillGuard reads 1 and {KEYS_VERSION}")
            legacy = version == 1 and len(rows) > 0
            secret = load_secret(self.path, create=legacy)
            if rows and not legacy:
                self._check_secret(raw.get("secret_id"), secret)
            if legacy:
                assert secret is not None
                rows = [_migrate(r, secret) for r in rows]
            recs = {r["key_id"]: KeyRecord(**r) for r in rows}
            for r in recs.values():
                if not (isinstance(r.key_id, str) and isinstance(r.account_id, str) and isinstance(r.secret_hmac, str)
                        and len(r.secret_hmac) == 64):
                    raise ValueError(f"key {r.key_id!r}: key_id, account_id and a 64-character secret_hmac are needed")
        except ConfigError:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"{self.path}: not a DistillGuard keys file ({e}); create keys with "
                              "`distillguard keys create`") from None
        return recs, secret, legacy

    def _check_secret(self, secret_id: object, secret: ServerSecret | None) -> None:
        if secret is None:
            raise ConfigError(f"{self.path}: the keys are hashed with a server secret (id {secret_id}) and none was "
                              f"found: set ${SECRET_ENV} to the secret they were created with, or restore "
                              f"{secret_path(self.path)} (mode 0600); if it is lost, create new keys")
        if secret_id != secret.id:
            raise ConfigError(f"{self.path}: the keys were hashed with server secret id {secret_id}, but the secret "
                              f"from {secret.source} has id {secret.id}: use the secret the keys were created with "
                              f"(${SECRET_ENV}, or unset it to use {secret_path(self.path)})")

    def _update(self, change) -> None:  # type: ignore[no-untyped-def]
        with self._lock, self._exclusive():
            recs, secret = {}, None
            if self.path.exists():
                recs, secret, _ = self._parse()
            secret = secret or load_secret(self.path, create=True)
            assert secret is not None
            recs = change(dict(recs), secret)
            self._write(recs, secret)
            self._records, self._secret, self._mtime = recs, secret, _signature(self.path)

    def _write(self, recs: dict[str, KeyRecord], secret: ServerSecret | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": KEYS_VERSION, "hash": HASH_SCHEME, "secret_id": secret.id if secret else None,
               "keys": [asdict(r) for r in recs.values()]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(doc, indent=1))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """An advisory lock across processes that write this keys file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _migrate(row: dict[str, object], secret: ServerSecret) -> dict[str, object]:
    """A version-1 record (`secret_sha256`) as a version-2 one (`secret_hmac`)."""
    row = dict(row)
    sha = row.pop("secret_sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        raise ValueError(f"key {row.get('key_id')!r}: secret_sha256 is not a SHA-256 hex digest")
    row["secret_hmac"] = secret.wrap(bytes.fromhex(sha))
    return row


def default_keys_path(db: str | Path) -> Path:
    """The keys file that goes with a store: `<db>.keys.json` next to it."""
    p = Path(db)
    return p.with_name(p.name + ".keys.json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
