# Library Kiosk. `make demo` runs the kiosk on a demo library; `make test` runs every test.
# Each sets itself up first: Debian packages (deploy/*.txt), then .venv from pyproject.toml.
# The tests also install the Debian packages only they need (deploy/packages-ci.txt).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench screenshots setup system-packages test-packages clean

demo: setup
	$(BIN)/library-server demo

test: setup test-packages
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# What a developer runs while working: everything but the tests marked slow, on every core.
test-fast: setup test-packages
	$(BIN)/python -m pytest -m "not slow" -n auto

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every benchmark; their figures go to bench/results.json and the table in README.md.
bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; \
		BENCH_RESULTS=bench/results.json $(BIN)/python $$b || exit 1; done
	$(BIN)/python bench/report.py --results bench/results.json --readme README.md

# Every screen of the touchscreen app in both languages at 800x480 (rendered without a display),
# and the office's pages at 1366x768 (in the system's headless Chromium).
screenshots: setup
	$(BIN)/python -m kiosk.ui.screenshots docs/screenshots
	$(BIN)/python -m tests.web.screenshots docs/screenshots/office

setup: system-packages $(STAMP)

system-packages:
	@deploy/install-packages deploy/packages-kiosk.txt

# PostgreSQL, Chromium and the like; without them their tests skip, saying which is missing.
test-packages:
	@deploy/install-packages deploy/packages-ci.txt

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
