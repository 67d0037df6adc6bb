# The two commands of the README: `make demo` and `make test`. Everything else they need
# (uv, the virtual environment, the locked dependencies) is installed by `make setup`.
SHELL := /bin/bash
UV_VERSION := 0.13.8
# uv from PATH, else a private copy in .tools/ (a venv works where `pip install --user` is
# refused, e.g. an externally managed system Python).
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(CURDIR)/.tools/bin/uv
endif
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: setup demo test bench-clients bench-fifo bench-pipeline ui

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv==$(UV_VERSION)

setup: $(UV)
	$(UV) sync --frozen
	@mkdir -p $(DAGSTER_HOME)

demo: setup  ## run the whole graph for yesterday (UTC) on the embedded default, print the top wallets
	$(UV) run --frozen smart-trader demo $(if $(DAY),--day $(DAY))

test: setup  ## the whole test suite, lint and types
	$(UV) run --frozen ruff check smart_trader smart_trader_tests
	$(UV) run --frozen ruff format --check smart_trader smart_trader_tests
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest -n 2 --dist loadfile -q

ui: setup  ## the Dagster UI and daemon on http://127.0.0.1:3000
	$(UV) run --frozen dagster dev -h 127.0.0.1 -p 3000

bench-clients: setup
	$(UV) run --frozen python smart_trader_tests/benchmarks/client_benchmark.py

bench-fifo: setup
	$(UV) run --frozen python smart_trader_tests/benchmarks/fifo_benchmark.py

bench-pipeline: setup
	$(UV) run --frozen python smart_trader_tests/benchmarks/pipeline_benchmark.py
