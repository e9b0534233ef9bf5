# flowmon developer / CI entry points. GNU make.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

# Python writes its compiled modules (and pytest its rewritten test modules) to __pycache__: with
# PYTHONDONTWRITEBYTECODE set, as on this machine, every flowmon process the tests start compiled all of flowmon
# again, and every pytest worker rewrote every test module.
unexport PYTHONDONTWRITEBYTECODE

PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SRC := flowmon tests bench examples app.py
# The example node-type plugin, installed beside flowmon (tests and benchmarks use its node types and functions).
DEMO_NODES := examples/flowmon-demo-nodes
# JavaScript tools (ESLint, Prettier, Tailwind's compiler) from the npm registry, pinned by package-lock.json.
NODE_BIN := node_modules/.bin
NODE_STAMP := node_modules/.installed
# Tailwind's classes, compiled ahead of time into a sheet every page gets (flowmon/web/tailwind/__init__.py says why).
TAILWIND := flowmon/web/tailwind

.PHONY: install chromium postgresql run lint lint-then-fuzz test test-unit test-js test-e2e test-stalls fuzz bench format tailwind \
	clean

install: $(STAMP)

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Reinstall only when a pyproject.toml changed since the last successful install (entry points come from the
# installed metadata: an editable install sees a new one only after installing again). uv installs the same
# requirements from the Python Package Index, compiled as pip compiles them (else the first processes of the tests,
# started together, each compiled the same modules), in 15 s where pip took 40 s of a fresh clone's `make test`. uv
# does not read pip's configuration (extra indexes, constraints), so should it fail (an index it cannot reach, say),
# pip installs them as before.
$(STAMP): pyproject.toml $(DEMO_NODES)/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq uv && \
		$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[test]' -e $(DEMO_NODES) \
		|| $(BIN)/python -m pip install -q -e '.[test]' -e $(DEMO_NODES)
	touch $(STAMP)

# `npm ci` again only when the lock (or package.json) changed since the last successful one.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# Debian's Chromium (the UI benchmark's browser) and its headless shell (the e2e tests': tests/chromium.py says why)
chromium:
	@if command -v chromium >/dev/null 2>&1 && [ -x /usr/lib/chromium/chromium-headless-shell ]; then \
		echo "chromium: $$(command -v chromium), /usr/lib/chromium/chromium-headless-shell"; \
	else \
		SUDO=''; \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO='sudo'; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-headless-shell; \
	fi

# The tests run the store on SQLite and on a throwaway PostgreSQL server they start themselves (as the postgres user
# when run as root): its binaries come from Debian's postgresql package.
postgresql:
	@if compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then \
		echo "postgresql: $$(ls -d /usr/lib/postgresql/*/bin | tail -n1)"; \
	else \
		SUDO=''; \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO='sudo'; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql; \
	fi

run: install
	$(BIN)/python app.py

lint: install $(NODE_STAMP)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy flowmon
	$(BIN)/lint-imports
	$(NODE_BIN)/eslint --max-warnings 0 .
	$(NODE_BIN)/prettier --check .
	@compiled=$$(mktemp); trap 'rm -f "$$compiled"' EXIT; \
	NO_COLOR=1 $(NODE_BIN)/tailwindcss -i $(TAILWIND)/source.css -o "$$compiled" 2>"$$compiled.log" || \
		{ cat "$$compiled.log"; rm -f "$$compiled.log"; echo "$(TAILWIND)/source.css did not compile"; exit 1; }; \
	rm -f "$$compiled.log"; \
	cmp -s "$$compiled" $(TAILWIND)/tailwind.css || \
		{ echo "$(TAILWIND)/tailwind.css is not what its source compiles to now: make tailwind"; exit 1; }

# Compile the Tailwind sheet again: after adding or removing a Tailwind class in flowmon's code.
tailwind: $(NODE_STAMP)
	$(NODE_BIN)/tailwindcss -i $(TAILWIND)/source.css -o $(TAILWIND)/tailwind.css

# Two separate pytest runs: sync Playwright and asyncio tests do not mix in one process. The browser tests run in
# three pytest workers (each with its own flowmon server and Chromium): they mostly wait on the browser.
# Exit code 5 (no tests collected) is a failure for the unit/UI layer; for the e2e layer it is
# tolerated only when tests/e2e has no test files at all.
test-unit: install test-js postgresql
	$(BIN)/pytest -q -n 4 --dist loadfile --no-loadscope-reorder -m "not e2e" tests

# The browser components' own unit tests, with node's test runner (no npm packages needed).
test-js:
	node --import ./tests/js/import-map.js --test tests/js/*.test.js

test-e2e: install chromium
	@rc=0; $(BIN)/pytest -q -n 3 --dist loadfile --no-loadscope-reorder -m e2e tests/e2e || rc=$$?; \
	if [ $$rc -eq 5 ] && [ -z "$$(find tests/e2e -name 'test_*.py' -o -name '*_test.py' | head -n1)" ]; then \
		echo "e2e: no test files in tests/e2e"; rc=0; \
	fi; \
	exit $$rc

# Opt-in, not part of `make test`: the browser tests with processes stopped for a moment (tests/stalls.py), to find
# tests and pages that only work on an idle machine. STALL=click (the default: flowmon stopped as each test acts on
# the page), server (now and then), browser (Chromium's renderers now and then), or several: STALL=click,browser.
# STALL_SEED=<n> repeats a run's stalls (the seed is in the report's header).
test-stalls: install chromium
	FLOWMON_STALL=$(or $(STALL),click) FLOWMON_STALL_SEED=$(STALL_SEED) \
		$(BIN)/pytest -q -n 3 --dist loadfile --no-loadscope-reorder -m e2e tests/e2e

# schemathesis against a real `python app.py` (see tests/fuzz/run.sh): no 5xx with the token, only 401/404
# without it, no traceback in the server log. FUZZ_SECONDS_WITH_TOKEN / FUZZ_SECONDS_WITHOUT_TOKEN set the budgets.
fuzz: install
	BIN=$(BIN) bash tests/fuzz/run.sh

# Lint, then the fuzz run (one core each, one after the other) run beside the browser tests, which mostly wait on
# Chromium; each side's output is printed when it ends. Then the unit/UI/integration layer, which keeps both cores
# busy.
test: install chromium postgresql
	$(MAKE) --no-print-directory -j2 --output-sync=target lint-then-fuzz test-e2e
	$(MAKE) --no-print-directory test-unit

# Beside the browser tests the fuzzer gets a share of the machine, not all of it (about a sixth of the requests a
# second it sends alone): its budgets here (unless set by the caller) are twice `make fuzz`'s own. It still ends
# (with lint's 15 s before it) well before the browser tests' three minutes, which it slows a little: three times
# `make fuzz`'s budgets cost them about 25 s.
lint-then-fuzz: install
	$(MAKE) --no-print-directory lint
	FUZZ_SECONDS_WITH_TOKEN=$${FUZZ_SECONDS_WITH_TOKEN:-50} FUZZ_SECONDS_WITHOUT_TOKEN=$${FUZZ_SECONDS_WITHOUT_TOKEN:-12} \
		$(MAKE) --no-print-directory fuzz

bench: install
	$(BIN)/python -m bench

format: install $(NODE_STAMP) tailwind
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)
	$(NODE_BIN)/prettier --write .
	$(NODE_BIN)/eslint --fix .

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache test-output *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
