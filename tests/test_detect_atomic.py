"""The detection output folder is replaced atomically: a failure or `kill -9` while `detect` writes its files
leaves the previous complete files byte for byte, and the next run cleans up and completes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import distillguard.detection.output as detect_output
from distillguard.detection import DetectConfig, detect_logs
from handbuilt import campaign, legit_users, write_jsonl

FAST = DetectConfig()
FILES = ("accounts.csv", "campaigns.json", "features.parquet", "links.parquet", "templates.csv",
         "infrastructure.csv", "timeline.csv")


def _snapshot(out: Path) -> dict[str, bytes]:
    return {n: (out / n).read_bytes() for n in FILES}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("logs")
    first = write_jsonl(legit_users(30) + campaign(12), d / "first.jsonl")
    second = write_jsonl(legit_users(20, seed=5) + campaign(8, prefix="other", seed=3), d / "second.jsonl")
    return first, second


@pytest.fixture(scope="module")
def first_out(logs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("first") / "out"
    detect_logs([logs[0]], out, config=FAST)
    return out


def test_failure_mid_write_leaves_previous_files_intact(logs: tuple[Path, Path], first_out: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = shutil.copytree(first_out, tmp_path / "out")
    before = _snapshot(out)
    assert b"camp-000" in before["accounts.csv"] and before["campaigns.json"].strip() != b"[]"
    real, calls = detect_output._copy_csv, []

    def failing_copy(con, sql, path):  # type: ignore[no-untyped-def]
        calls.append(path)
        real(con, sql, path)  # the file is written (to its temporary name) ...
        if len(calls) == 2:
            raise OSError("disk full (injected)")  # ... and the run dies before the last one

    monkeypatch.setattr(detect_output, "_copy_csv", failing_copy)
    with pytest.raises(OSError, match="injected"):
        detect_logs([logs[1]], out, config=FAST)
    assert len(calls) == 2 and all(p.parent == out and p.name.startswith(".") for p in calls)
    assert _snapshot(out) == before
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]  # temporary files removed


KILLED_RUN = """
import sys, time, pathlib
import distillguard.detection.output as o
from distillguard.detection import DetectConfig, detect_logs
real = o._copy_csv
def slow(con, sql, path):
    real(con, sql, path)
    if path.name.startswith(".timeline.csv"):  # every file is written but none renamed yet
        pathlib.Path(sys.argv[3]).write_text("ready")
        time.sleep(60)
o._copy_csv = slow
detect_logs([sys.argv[1]], sys.argv[2], config=DetectConfig())
"""


def test_kill_9_during_output_leaves_previous_files_intact(logs: tuple[Path, Path], first_out: Path,
                                                          tmp_path: Path) -> None:
    out, ready = shutil.copytree(first_out, tmp_path / "out"), tmp_path / "ready"
    before = _snapshot(out)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(logs[1]), str(out), str(ready)],
                            cwd=Path(__file__).parent, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        staged = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
        assert any(n.startswith(".accounts.csv.") for n in staged)  # the new files were there, complete
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _snapshot(out) == before
    detect_logs([logs[1]], out, config=FAST)  # the next run removes the dead run's leftovers and completes
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    after = _snapshot(out)  # and everything was replaced
    assert b"other-000" in after["accounts.csv"] and b"camp-000" not in after["accounts.csv"]
    assert all(after[n] != before[n] for n in ("accounts.csv", "campaigns.json", "features.parquet"))


def test_atomic_write_bytes_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    detect_output.atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"new content" and sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
