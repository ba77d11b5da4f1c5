"""The DistillGuard hook inside a real LiteLLM proxy, in front of a stub upstream on loopback."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distillguard.errors import ConfigError
from distillguard.gateway.stub import StubUpstream, ThreadedServer, free_port
from distillguard.store import Store
from waiting import eventually

# The proxy runs in a subprocess. Importing litellm.proxy here would put `../..` on sys.path for every
# later test (proxy_server does that at import), so only check that it is installed.
if importlib.util.find_spec("litellm") is None or importlib.util.find_spec("litellm.proxy") is None:
    pytest.skip("litellm[proxy] is not installed", allow_module_level=True)
from distillguard.integrations.litellm import HookConfig  # noqa: E402

MASTER = "sk-test-master"
POLICY = """
version = 1
[limits.account]
requests_per_minute = 6000
[limits.throttled_account]
requests_per_minute = 6000
[limits.campaign]
requests_per_minute = 0.001
request_burst = 2
[[campaign.rules]]
min_confidence = 0.8
action = "block"
[[campaign.rules]]
min_confidence = 0.5
action = "throttle"
"""


def _detect_dir(d: Path) -> Path:
    d.mkdir()
    with (d / "accounts.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["account_id", "score", "flagged", "campaign_id", "reasons"])
        w.writerows([("blocked-1", 0.99, "true", "CB", "shared-template"),
                     ("slow-1", 0.7, "true", "CT", "lockstep-timing"), ("slow-2", 0.7, "true", "CT", "lockstep-timing"),
                     ("legit", 0.01, "false", "", "")])
    (d / "campaigns.json").write_text(json.dumps([{"campaign_id": "CB", "accounts": 1, "confidence": 0.95},
                                                  {"campaign_id": "CT", "accounts": 2, "confidence": 0.6}]))
    return d


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    tmp = tmp_path_factory.mktemp("litellm")
    (tmp / "policy.toml").write_text(POLICY)
    detect = _detect_dir(tmp / "detect")
    db = tmp / "store.duckdb"
    with ThreadedServer(StubUpstream("sk-upstream")) as up:
        port = free_port()
        (tmp / "config.yaml").write_text(
            "model_list:\n  - model_name: frontier-1\n    litellm_params:\n"
            f"      model: openai/frontier-1\n      api_base: {up.url}/v1\n      api_key: sk-upstream\n"
            "litellm_settings:\n  callbacks: distillguard.integrations.litellm.proxy_handler_instance\n"
            f"general_settings:\n  master_key: {MASTER}\n")
        env = {**os.environ, "DISTILLGUARD_DB": str(db), "DISTILLGUARD_POLICY": str(tmp / "policy.toml"),
               "DISTILLGUARD_DETECT": str(detect), "DISTILLGUARD_ACCOUNT_FROM": "end_user",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
        litellm_bin = Path(sys.executable).parent / "litellm"
        log = (tmp / "proxy.log").open("wb")
        proc = subprocess.Popen([str(litellm_bin), "--config", str(tmp / "config.yaml"), "--port", str(port),
                                 "--host", "127.0.0.1"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(url + "/health/liveliness", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("LiteLLM proxy did not start:\n" + (tmp / "proxy.log").read_text()[-3000:])
                time.sleep(1)
            yield {"url": url, "db": db, "proc": proc, "log": tmp / "proxy.log"}
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()


def _chat(proxy: dict[str, object], user: str, content: str = "hello there") -> httpx.Response:
    return httpx.post(f"{proxy['url']}/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {MASTER}"},
                      json={"model": "frontier-1", "user": user, "messages": [{"role": "user", "content": content}]})


def _journal_empty(folder: Path) -> bool:
    """Whether every journaled row is committed: the journal holds only empty segments (committed ones are deleted)."""
    try:
        return all(p.stat().st_size == 0 for p in folder.glob("*.log"))
    except FileNotFoundError:  # a committed segment deleted while we looked
        return False


@pytest.mark.slow
def test_hook_logs_and_enforces_inside_litellm(proxy: dict[str, object]) -> None:
    ok = _chat(proxy, "legit", "what is the capital of France?")
    assert ok.status_code == 200, ok.text
    assert ok.json()["choices"][0]["message"]["content"]

    blocked = _chat(proxy, "blocked-1")
    assert blocked.status_code == 403, blocked.text
    assert "campaign" in blocked.text.lower() or "block" in blocked.text.lower()

    # two accounts of one throttled campaign share one bucket of 2 requests
    statuses = [_chat(proxy, a).status_code for a in ("slow-1", "slow-2", "slow-1", "slow-2")]
    assert statuses[:2] == [200, 200] and 429 in statuses[2:], statuses

    # the hook's log sink commits every 0.25 s and then empties its journal (later on a loaded machine); the
    # store cannot be read while the proxy holds it
    assert eventually(lambda: _journal_empty(Path(f"{proxy['db']}.journal")), every_s=0.1), "rows never committed"
    proc = proxy["proc"]
    assert isinstance(proc, subprocess.Popen)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    with Store.open(str(proxy["db"]), read_only=True) as store:
        got = store.con.execute("SELECT account_id, status FROM exchanges ORDER BY ts").fetchall()
        actions = store.con.execute("SELECT account_id, action FROM enforcement_events").fetchall()
    assert ("legit", 200) in got
    assert ("blocked-1", 403) in got
    assert sum(1 for a, s in got if a.startswith("slow-") and s == 429) >= 1
    assert {a for a, _ in actions} >= {"blocked-1"}


def test_hook_config_from_env_needs_a_store() -> None:
    with pytest.raises(ConfigError, match="DISTILLGUARD_DB"):
        HookConfig.from_env({})
    with pytest.raises(ConfigError, match="ACCOUNT_FROM"):
        HookConfig.from_env({"DISTILLGUARD_DB": "x.duckdb", "DISTILLGUARD_ACCOUNT_FROM": "nope"})
    assert HookConfig.from_env({"DISTILLGUARD_DB": "x.duckdb"}).account_from == "user_id"
