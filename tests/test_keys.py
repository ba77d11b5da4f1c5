"""API keys at rest: HMAC-SHA256 with a server secret, migration of version-1 (plain SHA-256) files, the secret's
origin (environment or a 0600 file beside the keys file), and several writers at once."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from distillguard.cli import main
from distillguard.errors import ConfigError
from distillguard.gateway.app import Gateway, GatewayConfig
from distillguard.gateway.keys import SECRET_ENV, KeyStore, ServerSecret, load_secret, secret_path
from distillguard.gateway.stub import StubUpstream, ThreadedServer

SECRET_A = "a" * 16 + "-server-secret-A-0123456789"
SECRET_B = "b" * 16 + "-server-secret-B-0123456789"


@pytest.fixture(autouse=True)
def _no_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


def _doc(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())


def _v1_file(path: Path) -> dict[str, str]:
    """A version-1 keys file as the previous release wrote it; returns account -> key."""
    keys = {"old": "dg-0a0b0c0d0e0f-" + "s" * 43, "gone": "dg-111111111111-" + "t" * 43}
    recs = [{"key_id": k.split("-")[1], "account_id": a, "secret_sha256": hashlib.sha256(k.split("-", 2)[2].encode())
             .hexdigest(), "created_at": "2026-01-01T00:00:00+00:00", "org_id": "acme", "verified": a == "old",
             "revoked_at": "2026-01-02T00:00:00+00:00" if a == "gone" else None, "label": ""}
            for a, k in keys.items()]
    path.write_text(json.dumps({"version": 1, "keys": recs}, indent=1))
    return keys


def test_stored_hash_is_keyed_and_secret_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = KeyStore(path).create("acct", org_id="o")
    secret_part = key.split("-", 2)[2]
    doc = _doc(path)
    stored = doc["keys"][0]["secret_hmac"]
    assert doc["version"] == 2 and "secret_sha256" not in doc["keys"][0]
    assert stored not in (hashlib.sha256(secret_part.encode()).hexdigest(), hashlib.sha256(key.encode()).hexdigest())
    assert secret_part not in path.read_text()
    sfile = secret_path(path)
    assert sfile == tmp_path / "keys.json.secret" and sfile.stat().st_mode & 0o777 == 0o600
    assert path.stat().st_mode & 0o777 == 0o600
    secret = load_secret(path)
    assert secret is not None and doc["secret_id"] == secret.id and sfile.read_text().strip() not in path.read_text()
    assert stored == secret.digest(secret_part)
    # a fresh process (a new KeyStore) verifies it with the secret file; a wrong secret part does not
    again = KeyStore(path)
    assert again.authenticate(key).account_id == "acct" and again.authenticate(key[:-1] + "x") is None


def test_same_key_with_another_secret_does_not_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys.json"
    monkeypatch.setenv(SECRET_ENV, SECRET_A)
    key = KeyStore(path).create("acct")
    assert not secret_path(path).exists()  # the environment's secret is used; no file is made
    assert KeyStore(path).authenticate(key).account_id == "acct"
    monkeypatch.setenv(SECRET_ENV, SECRET_B)
    with pytest.raises(ConfigError, match="hashed with server secret id") as e:  # a wrong secret is loud
        KeyStore(path)
    assert SECRET_A not in str(e.value) and SECRET_B not in str(e.value)
    # even with the file's secret id forged to match, secret B does not verify a key hashed under secret A
    doc = _doc(path)
    doc["secret_id"] = ServerSecret(SECRET_B.encode(), "test").id
    path.write_text(json.dumps(doc))
    ks = KeyStore(path)
    assert ks.authenticate(key) is None
    monkeypatch.delenv(SECRET_ENV)  # and no secret at all is an error that says what to do
    with pytest.raises(ConfigError, match=f"set \\${SECRET_ENV}"):
        KeyStore(path)
    for text in (path.read_text(), *(p.read_text() for p in tmp_path.iterdir() if p.is_file())):
        assert SECRET_A not in text and SECRET_B not in text


def test_version_1_file_is_migrated_on_load_and_old_keys_keep_working(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys = _v1_file(path)
    ks = KeyStore(path)
    p = ks.authenticate(keys["old"])
    assert p is not None and (p.account_id, p.org_id, p.verified) == ("old", "acme", True)
    assert ks.authenticate(keys["gone"]) is None  # revoked stays revoked
    assert ks.authenticate(keys["old"] + "x") is None
    doc = _doc(path)
    assert doc["version"] == 2 and all("secret_sha256" not in r for r in doc["keys"])
    old_sha = hashlib.sha256(keys["old"].split("-", 2)[2].encode()).hexdigest()
    assert old_sha not in path.read_text()
    assert secret_path(path).stat().st_mode & 0o777 == 0o600
    again = KeyStore(path)  # the migrated file reads back; new keys go in beside the old ones
    new = again.create("new")
    assert again.authenticate(keys["old"]).account_id == "old" and again.authenticate(new).account_id == "new"
    assert [r.account_id for r in again.list()] == ["old", "gone", "new"]


def test_keys_cli_migrates_and_lists_a_version_1_file(tmp_path: Path) -> None:
    db = tmp_path / "gw.duckdb"
    path = tmp_path / "gw.duckdb.keys.json"
    keys = _v1_file(path)
    r = CliRunner().invoke(main, ["keys", "list", "--db", str(db)])
    assert r.exit_code == 0 and "old\tacme\ttrue" in r.output, r.output
    assert _doc(path)["version"] == 2 and (tmp_path / "gw.duckdb.keys.json.secret").exists()
    r = CliRunner().invoke(main, ["keys", "revoke", keys["old"].split("-")[1], "--db", str(db)])
    assert r.exit_code == 0 and KeyStore(path).authenticate(keys["old"]) is None


def test_gateway_serves_a_version_1_keys_file(tmp_path: Path) -> None:
    keys = _v1_file(tmp_path / "keys.json")
    with ThreadedServer(StubUpstream()) as up:
        gw = Gateway(GatewayConfig(upstream=up.url, keys=str(tmp_path / "keys.json"), db=str(tmp_path / "g.duckdb"),
                                   fingerprint_workers=0))
        with ThreadedServer(gw.app) as srv, httpx.Client(base_url=srv.url, timeout=10) as c:
            body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
            codes = [c.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {k}"}).status_code
                     for k in (keys["old"], keys["gone"], keys["old"] + "x")]
    assert codes == [200, 401, 401]
    assert _doc(tmp_path / "keys.json")["version"] == 2


@pytest.mark.parametrize("problem", ["short-env", "group-readable", "not-hex", "bad-record", "bad-version"])
def test_bad_secrets_and_files_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 problem: str) -> None:
    path = tmp_path / "keys.json"
    KeyStore(path).create("acct")
    sfile = secret_path(path)
    if problem == "short-env":
        monkeypatch.setenv(SECRET_ENV, "too-short-secret")
        match = "too short"
    elif problem == "group-readable":
        sfile.chmod(0o644)
        match = "chmod 600"
    elif problem == "not-hex":
        sfile.write_text("not a secret\n")
        match = "not a DistillGuard key secret"
    elif problem == "bad-record":
        doc = _doc(path)
        doc["keys"][0]["secret_hmac"] = 12345
        path.write_text(json.dumps(doc))
        match = "secret_hmac"
    else:
        doc = _doc(path)
        doc["version"] = 7
        path.write_text(json.dumps(doc))
        match = "unsupported version 7"
    with pytest.raises(ConfigError, match=match) as e:
        KeyStore(path)
    assert sfile.read_text().strip() not in str(e.value) or problem == "not-hex"


def test_concurrent_writers_from_several_processes_lose_no_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    _v1_file(path)  # every process starts on an unmigrated file: migration and creation race too
    code = ("import sys; from distillguard.gateway.keys import KeyStore\n"
            "ks = KeyStore(sys.argv[1])\n"
            "for i in range(5): print(ks.create(sys.argv[2] + str(i)))\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), f"p{n}-"], stdout=subprocess.PIPE, text=True)
             for n in range(3)]
    made = [line for p in procs for line in p.communicate(timeout=60)[0].split()]
    assert all(p.returncode == 0 for p in procs) and len(made) == 15
    ks = KeyStore(path)
    assert len(ks.list()) == 17
    assert all(ks.authenticate(k) is not None for k in made)


@pytest.mark.parametrize("key", [b"k" * 32, bytes(range(64)), b"long-env-secret-" * 9])
def test_precomputed_hmac_equals_the_standard_one(key: bytes) -> None:
    import hmac

    s = ServerSecret(key, "test")
    for secret in ("", "x", "s" * 43, "\udc80 surrogate"):
        sha = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
        assert s.digest(secret) == s.wrap(sha) == hmac.digest(key, sha, "sha256").hex()
