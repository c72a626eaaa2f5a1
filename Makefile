# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_PORT ?= 8801
DEMO_DIR ?= results/demo

.PHONY: demo test test-fast lint bench deps clean

# Debian packages the project needs: a real Prometheus server (tests, demo), Chromium
# (the report's browser tests and the demo's screenshots; Playwright drives Debian's build)
# and espeak-ng (--audio-content speech).
deps:
	@command -v prometheus >/dev/null 2>&1 && test -x /usr/bin/chromium && command -v espeak-ng >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus chromium espeak-ng >/dev/null; }

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP) deps
	$(BIN)/python -m harness.devtools.demo --port $(DEMO_PORT) --report-dir $(DEMO_DIR)

test: $(STAMP) deps lint
	$(BIN)/python -m pytest -q --durations=15

# Style and types, as make test runs them (fails on any finding): ruff format + lint, mypy over harness/.
lint: $(STAMP)
	$(BIN)/ruff format --check --quiet harness tests bench scripts locustfiles
	$(BIN)/ruff check --quiet harness tests bench scripts locustfiles
	$(BIN)/mypy

# The inner loop: tests that start no process (pytest -m "not slow").
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/sim_capacity.py
	$(BIN)/python bench/client_fidelity.py
	$(BIN)/python bench/metrics_render.py
	$(BIN)/python bench/master_ingest.py
	$(BIN)/python bench/payload_build.py
	$(BIN)/python bench/soak.py
	$(BIN)/python bench/interval_coverage.py
	$(BIN)/python bench/speech_events.py

clean:
	rm -rf $(VENV) results .pytest_cache
