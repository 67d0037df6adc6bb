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

.PHONY: setup system-deps demo test bench-clients bench-fifo bench-pipeline bench-receiver bench-scale ui

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv==$(UV_VERSION)

setup: $(UV)  ## uv, the locked dependencies, and the local Dagster instance's dagster.yaml (kept if present)
	$(UV) sync --frozen
	@mkdir -p $(DAGSTER_HOME)
	@test -f $(DAGSTER_HOME)/dagster.yaml || cp smart_trader/deploy/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml

# Debian packages the integration tests drive: a PostgreSQL server (the production instance's
# storage) and Chromium (the UI test, through Playwright; no browser download). Installs only
# what is missing, so it is quick when all is there; `make test` calls it.
SYSTEM_PACKAGES := postgresql chromium fonts-liberation
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

demo: setup  ## run the whole graph for yesterday (UTC) on the embedded default, print the top wallets
	$(UV) run --frozen smart-trader demo $(if $(DAY),--day $(DAY))

test: setup system-deps  ## lint, types, `dg check defs` and the whole test suite
	$(UV) run --frozen ruff check smart_trader smart_trader_tests
	$(UV) run --frozen ruff format --check smart_trader smart_trader_tests
	$(UV) run --frozen mypy
	$(UV) run --frozen dg check defs
	$(UV) run --frozen pytest -n 2 --dist loadfile -q

ui: setup  ## the Dagster UI and daemon on http://127.0.0.1:3000
	$(UV) run --frozen dagster dev -h 127.0.0.1 -p 3000

bench-clients: setup
	$(UV) run --frozen python smart_trader_tests/benchmarks/client_benchmark.py

bench-fifo: setup
	$(UV) run --frozen python smart_trader_tests/benchmarks/fifo_benchmark.py

bench-pipeline: setup
	$(UV) run --frozen python smart_trader_tests/benchmarks/pipeline_benchmark.py

bench-receiver: setup  ## 100-item deliveries at 200 posts/s for 60 s over loopback: p50/p99 to the 200, lost, duplicated
	$(UV) run --frozen python smart_trader_tests/benchmarks/receiver_benchmark.py

bench-scale: setup  ## a steady-state day at 1x, 3x and 10x the default market: per step wall/CPU/RSS/rows, growth exponents
	$(UV) run --frozen python smart_trader_tests/benchmarks/scale_benchmark.py
