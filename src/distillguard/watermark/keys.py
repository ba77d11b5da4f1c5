"""Watermark key files: one secret per deployment, per-account keys derived from it.

A key file is a small JSON document (mode 0600) holding a 256-bit secret and the scheme parameters
that generation and detection must agree on::

    {"format": "distillguard-watermark-key", "version": 1, "key_id": "…", "deployment": "prod",
     "secret": "<64 hex>", "gamma": 0.25, "delta": 2.0, "context_width": 4,
     "tokenizer": "bytes" | "/path/to/tokenizer.json", "tokenizer_sha256": "…" | null}

Per-account keys are never stored: `account_key(key, account_id)` derives them from the deployment
secret with keyed BLAKE2b, so the gateway can watermark each account's outputs differently and leak
tracing can re-derive 10,000 candidate keys in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import ConfigError

KEY_FORMAT = "distillguard-watermark-key"


@dataclass(frozen=True)
class WatermarkKey:
    """The secret and parameters of one watermark.

    >>> k = WatermarkKey.generate(deployment="prod")
    >>> account_key(k, "acct-42").account
    'acct-42'
    """

    secret: bytes
    deployment: str = "default"
    account: str | None = None
    gamma: float = 0.25
    delta: float = 2.0
    context_width: int = 4
    tokenizer: str = "bytes"
    tokenizer_sha256: str | None = None

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ConfigError("watermark key: secret must be at least 16 bytes; run `watermark keygen`")
        if not 0.0 < self.gamma < 1.0:
            raise ConfigError(f"watermark key: gamma must be in (0, 1), got {self.gamma}")
        if self.context_width < 0:
            raise ConfigError(f"watermark key: context_width must be >= 0, got {self.context_width}")

    @classmethod
    def generate(cls, deployment: str = "default", **params: object) -> WatermarkKey:
        """A fresh key with a random 256-bit secret."""
        return cls(secret=secrets.token_bytes(32), deployment=deployment, **params)  # type: ignore[arg-type]

    @property
    def key_id(self) -> str:
        """A public identifier of the key (hash of the secret), safe to print and log."""
        h = hashlib.blake2b(self.secret, digest_size=8, person=b"dg-wm-keyid").hexdigest()
        return f"{self.deployment}/{self.account}/{h}" if self.account else f"{self.deployment}/{h}"

    def subkey(self, purpose: str) -> int:
        """A 64-bit integer derived from the secret for one purpose (context hashing, green lists…)."""
        d = hashlib.blake2b(purpose.encode(), key=self.secret[:64], digest_size=8, person=b"dg-wm-sub")
        return int.from_bytes(d.digest(), "little")

    def to_json(self) -> str:
        """The key file's text."""
        d = asdict(self)
        d["secret"] = self.secret.hex()
        return json.dumps({"format": KEY_FORMAT, "version": 1, "key_id": self.key_id, **d}, indent=2)


def account_key(key: WatermarkKey, account_id: str) -> WatermarkKey:
    """The per-account key derived from a deployment key (same parameters, different secret)."""
    if key.account is not None:
        raise ConfigError(f"watermark key {key.key_id} is already an account key; derive from the deployment key")
    secret = hashlib.blake2b(account_id.encode(), key=key.secret[:64], digest_size=32,
                             person=b"dg-wm-account").digest()
    return replace(key, secret=secret, account=account_id)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file (used to pin the tokenizer a key was made for)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_key(key: WatermarkKey, path: str | Path, overwrite: bool = False) -> Path:
    """Write a key file readable by its owner only; refuses to overwrite unless asked."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise ConfigError(f"{p}: key file exists; pass --force to replace it (the old key is lost)")
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.to_json() + "\n")
    return p


def load_key(path: str | Path) -> WatermarkKey:
    """Read a key file written by `save_key` / `watermark keygen`."""
    p = Path(path)
    try:
        d = json.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: key file not found; create one with `distillguard watermark keygen`") from None
    except (OSError, ValueError) as e:
        raise ConfigError(f"{p}: not a readable JSON key file ({e})") from None
    if not isinstance(d, dict) or d.get("format") != KEY_FORMAT:
        raise ConfigError(f"{p}: not a DistillGuard watermark key (field 'format' must be {KEY_FORMAT!r})")
    try:
        secret = bytes.fromhex(d["secret"])
        return WatermarkKey(
            secret=secret, deployment=str(d.get("deployment", "default")), account=d.get("account"),
            gamma=float(d["gamma"]), delta=float(d["delta"]), context_width=int(d["context_width"]),
            tokenizer=str(d.get("tokenizer", "bytes")), tokenizer_sha256=d.get("tokenizer_sha256"),
        )
    except (KeyError, ValueError, TypeError) as e:
        raise ConfigError(f"{p}: field {e} is missing or invalid; regenerate with `watermark keygen`") from None
