# The whole set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
# test processes (pytest-xdist): one per core; a test file runs in one of them (its module fixtures once)
TEST_WORKERS ?= auto
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo-out

.PHONY: demo test lint fuzz clean lock system licenses

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The locked environment: every package pinned and hash-checked (requirements.lock, from `make lock`), then the
# project itself, editable, with no dependencies of its own and the locked setuptools as its build backend.
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Re-resolve requirements.lock after a dependency change: pyproject.toml with all extras plus requirements/ci.in,
# for this venv's Python and platform, from the same indexes as pip, with the sha256 of every file. Existing pins are
# kept where they still fit; to bump: `make lock LOCK_FLAGS='--upgrade-package NAME'` (or `--upgrade` for all).
lock: | $(BIN)/python
	$(BIN)/pip install --quiet 'uv==0.13.9'
	$(BIN)/uv pip compile pyproject.toml requirements/ci.in --all-extras --generate-hashes --python $(BIN)/python \
		--index-strategy unsafe-best-match $$($(BIN)/python requirements/pip_sources.py) \
		--custom-compile-command 'make lock' --quiet $(LOCK_FLAGS) -o requirements.lock

# The third-party licence listing, from the installed locked environment (tests/test_licenses.py checks it is current).
licenses: $(STAMP)
	$(BIN)/python requirements/licenses.py > THIRD_PARTY_LICENSES.md

demo: $(STAMP)
	$(BIN)/distillguard demo --out $(DEMO)

# The system packages the tests use for real (redis-server, Debian's chromium for Playwright, a Java runtime for
# PySpark): installed with apt-get when missing and root, else one line saying what to install (requirements/system.sh).
system:
	@requirements/system.sh

test: system $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

fuzz: $(STAMP)
	$(BIN)/python -c 'import atheris' 2>/dev/null || $(BIN)/pip install --quiet atheris
	$(BIN)/python bench/fuzz.py --seconds 60 --examples 2000

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) $(DEMO) build src/*.egg-info
