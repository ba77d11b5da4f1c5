"""The wheel and sdist build, and the core wheel installs light and runs in a fresh virtual environment."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pyspark", "playwright", "litellm", "transformers")


def _run(*cmd: str | Path, cwd: Path | None = None) -> str:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"{cmd}: {res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res.stdout


@pytest.mark.slow
def test_core_wheel_installs_light_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--wheel", "--sdist", "--outdir", dist, ROOT)
    wheels = list(dist.glob("distillguard-*.whl"))
    assert wheels and list(dist.glob("distillguard-*.tar.gz"))
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    _run(py, "-m", "pip", "install", "--quiet", wheels[0])
    assert "distillguard" in _run(env / "bin" / "distillguard", "--version")
    # the core stages import without the heavy extras
    _run(py, "-c", "import distillguard, distillguard.detect, distillguard.report, distillguard.simulate")
    installed = _run(py, "-m", "pip", "list", "--format=freeze").lower()
    for heavy in HEAVY:
        assert f"\n{heavy}==" not in "\n" + installed, f"the core install pulled {heavy}"
