"""The public Python API: what `import distillguard` offers, and its runnable examples."""

from __future__ import annotations

import doctest
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import distillguard
import distillguard.api

PUBLIC = {
    "ConfigError", "DetectResult", "DistillGuardError", "Evaluation", "IngestOptions", "IngestSummary",
    "InputError", "PolicyResult", "RecordError", "SimulationResult", "Store", "StoreError", "UsageError",
    "__version__", "backtest", "detect", "evaluate", "ingest", "read_detection_accounts", "simulate",
}


def test_public_api_is_exactly_all() -> None:
    assert set(distillguard.__all__) == PUBLIC
    for name in distillguard.__all__:
        assert hasattr(distillguard, name), name


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_name_imports_in_a_fresh_process(name: str) -> None:
    # the names load lazily (PEP 562): `from distillguard import X` must work as the first thing a program does
    code = f"from distillguard import {name} as x; import distillguard; assert x is getattr(distillguard, {name!r})"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_and_help_load_no_engine() -> None:
    # `import distillguard` and `distillguard --help` must not pay for numpy, scipy, DuckDB or Arrow
    code = ("import sys; from click.testing import CliRunner; import distillguard; from distillguard.cli import main;"
            " r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0 and 'ingest' in r.output, r.output;"
            " print(' '.join(m for m in ('numpy', 'scipy', 'duckdb', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == ""


@pytest.mark.parametrize("name", ["ingest", "simulate", "detect", "evaluate", "backtest"])
def test_pipeline_names_are_the_functions(name: str) -> None:
    import importlib

    module = {"detect": "detection"}.get(name, name)
    importlib.import_module(f"distillguard.{module}")  # importing the stage module must not shadow the function
    fn = getattr(distillguard, name)
    assert inspect.isfunction(fn), f"distillguard.{name} is {fn!r}"
    assert fn.__doc__ and fn.__doc__.strip()


def test_every_public_callable_has_a_docstring() -> None:
    for name in distillguard.__all__:
        obj = getattr(distillguard, name)
        if callable(obj):
            assert obj.__doc__, name


@pytest.mark.slow
def test_api_doctests_run(corpora: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the examples read ../shared/data relative to the repository root, as `make demo` does
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    if not Path("../shared/data").is_dir():
        pytest.skip("the examples need the corpora at ../shared/data")
    shutil.rmtree("/tmp/dg-doc", ignore_errors=True)
    for module in (distillguard, distillguard.api):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"{module.__name__}: {result.failed} doctest(s) failed"
        assert result.attempted > 0
