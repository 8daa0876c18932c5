# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit chromium postgresql bench bench-tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/assay demo

# Debian's Chromium for the browser tests of the HTML report (Playwright cannot download one here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's PostgreSQL for the monitor's storage tests: tests/monitor/conftest.py starts a
# throw-away cluster from /usr/lib/postgresql/*/bin as user postgres, and stops it at the end.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the monitor's storage tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: $(STAMP) chromium postgresql lint typecheck unit

# Drift benchmark against Evidently, whylogs and a pyarrow read floor (bench/README.md).
# Peers live in their own venv: they need pandas < 3. Figures go to bench/RESULTS.md.
# `make bench BENCH_ARGS="--sizes 10k,100k --seeds 0,1"` for a quick run.
BENCH_VENV := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_ARGS ?=

$(BENCH_STAMP): bench/requirements-peers.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements-peers.txt
	touch $(BENCH_STAMP)

# Debian's nginx and wrk for the load generator's capacity bench (bench/capacity.py); only
# the bench needs them, never `make test`.
bench-tools:
	@{ command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; } && command -v wrk >/dev/null 2>&1 || { \
	  echo "installing Debian's nginx-light and wrk for the capacity benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null; }

bench: $(STAMP) $(BENCH_STAMP) bench-tools postgresql
	$(BENCH_VENV)/bin/python bench/drift.py $(BENCH_ARGS)
	$(BIN)/python bench/bootstrap.py
	$(BIN)/python bench/pii.py
	$(BIN)/python bench/capacity.py
	$(BIN)/python bench/monitor.py

clean:
	rm -rf $(VENV) .assay demo .pytest_cache .mypy_cache .ruff_cache .hypothesis bench/.venv bench/data
