# psops: `make run` serves the demo, `make test` runs the suite. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint bench worker demo clean deps

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt -e .
	touch $(STAMP)

# A development server: DEBUG on, and customer links on the port it serves (for every command of the target,
# the worker included). `PSOPS_DEBUG=0 make run` or another PSOPS_BASE_URL still win.
run: export PSOPS_DEBUG ?= 1
run: export PSOPS_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(STAMP)
	$(BIN)/psops migrate --noinput
	$(BIN)/psops demo
	$(BIN)/psops collectstatic --noinput --verbosity 0
	@echo "Serving psops on http://127.0.0.1:$(PORT)/ (task worker running beside it; Ctrl-C stops both)"
	@$(BIN)/psops worker --interval 5 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/psops runserver 127.0.0.1:$(PORT)

worker: $(STAMP)
	$(BIN)/psops worker

demo: export PSOPS_DEBUG ?= 1
demo: $(STAMP)
	$(BIN)/psops migrate --noinput
	$(BIN)/psops demo

deps: $(STAMP)

# PYTEST_ARGS narrows or widens a run, e.g. `make test PYTEST_ARGS="tests/web -x"`.
test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Speed at a real firm's size (docs/decisions/0010-benchmark.md): generates the data at SCALE (1 = full size, 0.1 a
# quick run) on DATABASE_URL (a database named *bench*) or SQLite in the temp directory, then prints one table.
# BENCH_REUSE=1 measures the database generated before again, without generating; BENCH_ONLY=pages (or load, ageing,
# billing, reminders, timers, comma-separated) measures only those parts.
SCALE ?= 1
BENCH_REUSE ?=
BENCH_ONLY ?=
bench: $(STAMP)
	SCALE=$(SCALE) BENCH_REUSE=$(BENCH_REUSE) BENCH_ONLY=$(BENCH_ONLY) $(BIN)/python bench/bench.py

lint: export PSOPS_DEBUG ?= 1
lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) psops.sqlite3 var .pytest_cache
