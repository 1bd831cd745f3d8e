# The front door: `make demo` shows kefu working, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: test demo lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

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
