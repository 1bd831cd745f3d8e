# The front door: `make demo` shows kefu working, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

LOCK := requirements.lock

.PHONY: test demo lint typecheck unit bench clean lock

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

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The preview's tests drive real headless Chromium: without it, fail with how to install it.
unit: $(STAMP)
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { echo "make test needs headless Chromium: apt-get install -y chromium chromium-driver fonts-wqy-microhei" >&2; exit 1; }
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/kefu demo

bench: $(STAMP)
	$(BIN)/python -m pytest tests/bench -q -s

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
