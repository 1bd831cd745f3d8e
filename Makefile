# The front door: `make demo` shows kefu working, `make check` runs the checks that need nothing
# but redis-server, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

LOCK := requirements.lock

.PHONY: test check demo lint typecheck system-deps-check system-deps-test system-deps-bench bench \
	clean lock

# Every runtime and dev dependency is installed from $(LOCK): exact versions, checked by hash.
# Whoever adds or changes a dependency in pyproject.toml runs `make lock` and commits $(LOCK);
# `pip check` below fails `make test` when the lock misses something pyproject.toml asks for.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Regenerates $(LOCK) from pyproject.toml (runtime and dev), keeping existing pins where they fit.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --generate-hashes --extra dev --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --output-file $(LOCK) pyproject.toml

# Tests that need a program besides redis-server carry one of these markers (pyproject.toml).
OUTSIDE := not (browser or nginx or systemd or podman)

# Test files run side by side (a file's tests stay together, in order): most of the suite's time
# is spent waiting on real gunicorn, Redis, browsers and timeouts, not on the CPU.
# TEST_JOBS=0 runs them one after another.
TEST_JOBS ?= 3
PARALLEL := $(if $(filter 0,$(TEST_JOBS)),-p no:xdist,-n $(TEST_JOBS) --dist loadfile)

test: system-deps-test lint typecheck
	$(BIN)/pytest $(PARALLEL)

check: system-deps-check lint typecheck
	$(BIN)/pytest $(PARALLEL) -m "$(OUTSIDE)" tests/unit tests/integration

# Installs what the tests run for real, or stops with one line saying what to install. Debian
# puts nginx in /usr/sbin, which a user's PATH may lack.
system-deps-check system-deps-test system-deps-bench:
	PATH="$$PATH:/usr/sbin:/sbin" scripts/system-deps $(@:system-deps-%=%)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/kefu demo

bench: system-deps-bench $(STAMP)
	$(BIN)/python -m pytest tests/bench -q -s

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
