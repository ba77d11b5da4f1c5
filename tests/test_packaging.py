"""The wheel and sdist build, and the core wheel installs light and runs in a fresh virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "pyspark", "playwright", "litellm", "transformers")


def _run(*cmd: str | Path, cwd: Path | None = None) -> str:
    # not the caller's PYTHONPATH: a source tree on it (with its egg-info) is an installed distillguard to pip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=900, env=env)
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
    _run(py, "-c", "import distillguard, distillguard.detection, distillguard.report, distillguard.simulate")
    installed = _run(py, "-m", "pip", "list", "--format=freeze").lower()
    for heavy in HEAVY:
        assert f"\n{heavy}==" not in "\n" + installed, f"the core install pulled {heavy}"


# -- the lock file: every requirement pinned with hashes, and the install step uses it ----------------------
LOCK = ROOT / "requirements.lock"


def _lock_pins() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from requirements.lock."""
    from packaging.utils import canonicalize_name

    pins: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in LOCK.read_text().splitlines():
        s = line.strip().rstrip("\\").strip()
        if not s or s.startswith("#"):
            continue
        if "==" in s and not s.startswith("--"):
            n, v = s.split("==", 1)
            name = canonicalize_name(n.split("[")[0])
            pins[name] = (v.split(";")[0].strip(), [])
        elif s.startswith("--hash=sha256:") and name:
            pins[name][1].append(s.removeprefix("--hash=sha256:"))
    return pins


def test_lock_pins_every_requirement_with_hashes() -> None:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = _lock_pins()
    assert len(pins) > 100
    assert all(len(h) >= 1 and all(len(x) == 64 for x in h) for _, h in pins.values()), "a pin without a hash"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    reqs += [line.split("#")[0].strip() for line in (ROOT / "requirements" / "ci.in").read_text().splitlines()]
    stale = []
    for text in filter(None, reqs):
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name == "distillguard" or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        if name not in pins or not req.specifier.contains(pins[name][0], prereleases=True):
            stale.append(f"{text} (locked: {pins.get(name, ('nothing',))[0]})")
    assert not stale, f"requirements.lock is stale, run `make lock`: {stale}"


def test_install_step_uses_the_lock_with_hashes() -> None:
    make = (ROOT / "Makefile").read_text()
    rule = make.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "requirements.lock" in rule.splitlines()[0]  # a new lock reinstalls
    assert "--require-hashes -r requirements.lock" in rule and "--no-deps" in rule
    assert "\nlock:" in make and "--generate-hashes" in make.split("\nlock:", 1)[1].split("\n\n", 1)[0]


def test_installed_versions_match_the_lock() -> None:
    """The environment the tests run in is the locked one (a pip install outside the lock shows up here)."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.version import Version

    differ = []
    for name, (pin, _) in _lock_pins().items():
        try:
            have = version(name)
        except PackageNotFoundError:
            continue
        if Version(have) != Version(pin):
            differ.append(f"{name} {have} (locked {pin})")
    assert not differ, f"installed packages differ from requirements.lock (run `make` after `make lock`): {differ}"


# -- the CI audit step: its decisions, with a stand-in pip_audit that answers like the real one ---------------
FAKE_PIP_AUDIT = """
import json, os, sys
service = sys.argv[sys.argv.index("-s") + 1]
answer = json.loads(os.environ["FAKE_AUDIT"]).get(service)
if answer is None:
    sys.exit("requests.exceptions.ConnectionError: Failed to resolve 'api.osv.dev'")
print(json.dumps({"dependencies": answer, "fixes": []}))
"""


@pytest.mark.parametrize("case", ["clean", "vulnerable", "unreachable", "unreachable-strict", "osv-fills-in"])
def test_ci_audit_fails_on_vulnerabilities_and_shouts_when_nothing_was_audited(tmp_path: Path, case: str) -> None:
    import json
    import os

    (tmp_path / "pip_audit").mkdir()
    (tmp_path / "pip_audit" / "__init__.py").write_text("")
    (tmp_path / "pip_audit" / "__main__.py").write_text(FAKE_PIP_AUDIT)
    lock = tmp_path / "req.lock"
    lock.write_text("a==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\nb==2.0 \\\n    --hash=sha256:" + "1" * 64 + "\n")
    ok = [{"name": "a", "version": "1.0", "vulns": []}, {"name": "b", "version": "2.0", "vulns": []}]
    skip = [{"name": n, "skip_reason": f"Dependency not found on PyPI and could not be audited: {n}"} for n in "ab"]
    vuln = [ok[0], {"name": "b", "version": "2.0", "vulns": [{"id": "PYSEC-1", "fix_versions": ["2.1"],
                                                               "aliases": ["CVE-1"]}]}]
    answers = {"clean": {"pypi": ok}, "vulnerable": {"pypi": vuln}, "unreachable": {"pypi": skip},
               "unreachable-strict": {"pypi": skip}, "osv-fills-in": {"pypi": skip, "osv": ok}}[case]
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "FAKE_AUDIT": json.dumps(answers),
           "DG_AUDIT_STRICT": "1" if case.endswith("strict") else "0"}
    res = subprocess.run([sys.executable, str(ROOT / ".ci" / "audit.py"), str(lock)], env=env, capture_output=True,
                         text=True, timeout=60)
    expect = {"clean": 0, "vulnerable": 1, "unreachable": 0, "unreachable-strict": 1, "osv-fills-in": 0}[case]
    assert res.returncode == expect, res.stdout + res.stderr
    if case == "vulnerable":
        assert "VULNERABLE b==2.0: PYSEC-1 (CVE-1) fixed in: 2.1" in res.stdout
    if case.startswith("unreachable"):
        assert "could NOT audit 2 of 2" in res.stdout and "osv: no answer" in res.stdout
    if case in ("clean", "osv-fills-in"):
        assert "2 of 2 pinned packages audited" in res.stdout and "audit: clean" in res.stdout


# -- the system packages: `make test` installs them itself, CI sets up nothing more ---------------------------
def test_make_test_brings_its_system_packages_and_ci_adds_no_setup() -> None:
    make = (ROOT / "Makefile").read_text()
    assert "\ntest: system " in make and "requirements/system.sh" in make.split("\nsystem:", 1)[1].split("\n\n")[0]
    script = (ROOT / "requirements" / "system.sh").read_text()
    for package in ("redis-server", "chromium", "default-jre-headless"):
        assert f"need+=({package})" in script
    ci = (ROOT / ".ci" / "run").read_text()
    assert "apt-get" not in ci and "pip install" not in ci and "make test" in ci


def test_system_script_is_idempotent() -> None:
    """With everything present (make test ran it first) it installs nothing and says nothing."""
    res = subprocess.run([str(ROOT / "requirements" / "system.sh")], capture_output=True, text=True, timeout=60)
    assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
