"""Longer fuzzing than `make test` runs: coverage-guided (atheris) on the parsers, then the hypothesis suites.

    .venv/bin/python bench/fuzz.py [--seconds 30] [--examples 2000] [--targets request,exchange,...]

1. atheris (libFuzzer), `--seconds` per target, each in its own process, on what parses outside input:
   - `request`:  the gateway's request parsing (`gateway.openai.parse_request`, chat and completions)
   - `exchange`: a log record as ingest validates it (`schema.validate_exchange` on decoded JSON)
   - `policy`:   policy files (`policy.parse_policy`, TOML and JSON)
   - `mapping`:  log mapping files (`mapping.load_mapping`) and applying one to a record
   - `stix`:     STIX 2.1 / MISP intel documents (`intel.importer.read_stix`, `misp_import.read_events`)
   An input fails if it raises anything but the documented error (ClientError / DistillGuardError /
   FieldError); the crashing input is written to `bench/out/fuzz-crash-<target>-*`.
2. the hypothesis suites of tests/test_reliability_fuzz.py and test_reliability_schemathesis.py with
   `--examples` examples per property (DG_FUZZ_EXAMPLES).
Prints one row per target: inputs tried, seconds, failures.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
TARGETS = ("request", "exchange", "policy", "mapping", "stix")


def _target(name: str):  # type: ignore[no-untyped-def]
    """The one-input function of a target (runs inside the atheris process)."""
    import json
    from datetime import UTC, datetime

    import orjson

    from distillguard.errors import DistillGuardError
    from distillguard.schema import FieldError

    if name == "request":
        from distillguard.gateway.openai import ClientError, parse_request

        def one(data: bytes) -> None:
            for chat in (True, False):
                try:
                    parse_request(data, chat, 16)
                except ClientError:
                    pass
        return one
    if name == "exchange":
        from distillguard.schema import validate_exchange

        def one(data: bytes) -> None:
            try:
                rec = orjson.loads(data)
            except orjson.JSONDecodeError:
                return
            try:
                validate_exchange(rec)
            except (FieldError, DistillGuardError):
                pass
        return one
    if name == "policy":
        from distillguard.policy import parse_policy

        def one(data: bytes) -> None:
            text = data.decode("utf-8", "replace")
            for js in (False, True):
                try:
                    parse_policy(text, "fuzz", json_format=js)
                except DistillGuardError:
                    pass
        return one
    if name == "mapping":
        from distillguard.mapping import load_mapping

        tmp = Path(tempfile.mkdtemp()) / "m.toml"

        def one(data: bytes) -> None:
            head, _, rec = data.partition(b"\n---\n")
            tmp.write_bytes(head)
            try:
                m = load_mapping(tmp)
            except DistillGuardError:
                return
            try:
                m.apply(orjson.loads(rec))
            except (orjson.JSONDecodeError, FieldError, DistillGuardError):
                pass
        return one
    if name == "stix":
        from distillguard.intel import misp_import
        from distillguard.intel.importer import read_stix

        now = datetime(2026, 6, 1, tzinfo=UTC)

        def one(data: bytes) -> None:
            try:
                doc = json.loads(data)
            except (ValueError, RecursionError):
                return
            if misp_import.is_misp(doc):
                misp_import.read_events(doc, now, 30)
            elif isinstance(doc, dict) and isinstance(doc.get("type"), str):
                read_stix(doc, now)
        return one
    raise SystemExit(f"unknown target {name}")


SEEDS = {
    "request": [b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": true}',
                b'{"model": "m", "prompt": ["a", "b"], "tools": [{"function": {"name": "f"}}]}'],
    "exchange": [b'{"request_id": "r", "ts": "2026-05-01T00:00:00Z", "account_id": "a", "ip": "1.2.3.4", '
                 b'"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}], '
                 b'"params": {"temperature": 0.2}, "prompt_tokens": 3, "status": 200}'],
    "policy": [(ROOT / "src/distillguard/policy.py").read_bytes().split(b'DEFAULT_POLICY_TOML = """')[-1]
               .split(b'"""')[0]],
    "mapping": [b'[fields]\nrequest_id = "id"\nts = "t"\naccount_id = "user.id"\nmodel = "m"\n[defaults]\nip = ""\n'
                b'[ts]\nformat = "epoch_ms"\n---\n{"id": "1", "t": 1700000000000, "user": {"id": "u"}, "m": "x"}'],
    "stix": [b'{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "spec_version": "2.1", '
             b'"id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "created": "2026-01-01T00:00:00Z", '
             b'"modified": "2026-01-01T00:00:00Z", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", '
             b'"pattern": "[ipv4-addr:value = \'203.0.113.5\']"}]}',
             b'{"Event": {"info": "c", "Attribute": [{"type": "ip-src", "value": "203.0.113.9"}]}}'],
}


def run_atheris(name: str, seconds: int) -> tuple[int, float, int, str]:
    """Fuzz one target in a child process; (inputs tried, seconds, failures, where the crash went)."""
    OUT.mkdir(parents=True, exist_ok=True)
    corpus = Path(tempfile.mkdtemp(prefix=f"dg-fuzz-{name}-"))
    for i, s in enumerate(SEEDS[name]):
        (corpus / f"seed{i}").write_bytes(s)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, __file__, "--child", name, f"-max_total_time={seconds}", "-rss_limit_mb=4096",
                        f"-artifact_prefix={OUT}/fuzz-crash-{name}-", "-max_len=4096", str(corpus)],
                       capture_output=True, text=True, timeout=seconds + 120)
    runs = [int(m) for m in re.findall(r"#(\d+)\s", p.stderr)]
    crash = re.search(r"Test unit written to (\S+)", p.stderr)
    return (max(runs) if runs else 0), time.monotonic() - t0, int(p.returncode != 0), crash.group(1) if crash else ""


def child(name: str) -> None:
    """Inside the atheris process."""
    import atheris

    with atheris.instrument_imports(include=["distillguard"]):
        one = _target(name)
    atheris.Setup(sys.argv[:1] + sys.argv[3:], one)
    atheris.Fuzz()


def main() -> None:
    """Run every target and the hypothesis suites; print the table."""
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=30, help="atheris time per target")
    ap.add_argument("--examples", type=int, default=2000, help="hypothesis examples per property")
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--skip-hypothesis", action="store_true")
    a = ap.parse_args()
    rows = []
    try:
        import atheris  # noqa: F401
        have_atheris = True
    except ImportError:
        have_atheris = False
        print("atheris is not installed (pip install atheris): coverage-guided part skipped")
    if have_atheris:
        for name in a.targets.split(","):
            runs, secs, fails, crash = run_atheris(name, a.seconds)
            rows.append((f"atheris:{name}", runs, secs, fails, crash))
    if not a.skip_hypothesis:
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                            "tests/test_reliability_fuzz.py", "tests/test_reliability_schemathesis.py"],
                           cwd=ROOT, env={**os.environ, "DG_FUZZ_EXAMPLES": str(a.examples)},
                           capture_output=True, text=True)
        failed = re.search(r"(\d+) failed", p.stdout)
        tried = re.search(r"requests tried per operation (\{.*?\})", p.stdout)
        rows.append(("hypothesis (5 properties)", a.examples * 5, time.monotonic() - t0,
                     int(failed.group(1)) if failed else 0, ""))
        if tried:
            rows.append((f"schemathesis {tried.group(1)}", 0, 0.0, 0, ""))
        if p.returncode:
            print(p.stdout[-4000:])
    print(f"\n{'target':<34} {'inputs':>10} {'seconds':>8} {'failures':>8}  crash file")
    for name, runs, secs, fails, crash in rows:
        print(f"{name:<34} {runs:>10} {secs:>8.1f} {fails:>8}  {crash}")


if __name__ == "__main__":
    main()
