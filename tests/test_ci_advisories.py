"""The CI's offline advisory check fails on a vulnerable pin and when it could check nothing, with no network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(lock: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / ".ci" / "advisories.py"), str(lock)], capture_output=True,
                          text=True, timeout=60)


def test_the_lock_is_checked_and_clean() -> None:
    r = run(ROOT / "requirements.lock")
    assert r.returncode == 0, r.stdout
    n = int(r.stdout.split()[1])
    assert n > 50 and "0 affected" in r.stdout


def test_a_vulnerable_pin_fails(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("h11==0.14.0 \\\n    --hash=sha256:00\nJinja2==3.1.5 \\\n    --hash=sha256:00\nidna==3.20\n")
    r = run(lock)
    assert r.returncode == 1
    assert "VULNERABLE h11==0.14.0: GHSA-vqfr-h8mv-ghfj (CVE-2025-43859)" in r.stdout
    assert "VULNERABLE Jinja2==3.1.5" not in r.stdout and "VULNERABLE jinja2==3.1.5" in r.stdout


def test_nothing_checked_fails_loudly(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# no pins\n")
    r = run(lock)
    assert r.returncode == 1 and "NOTHING CHECKED" in r.stdout
