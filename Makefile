# Two commands for a newcomer: `make demo` and `make test`. Both build .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
ARGS ?=

.PHONY: help venv test test-postgres test-mariadb lint format migrations-check demo bench build clean

help:
	@echo "make demo        run the example shop against the sandbox provider (Ctrl-C stops it)"
	@echo "make demo ARGS=--once   the same flow, non-interactive and fast; exits 0 when it worked"
	@echo "make test        run the test suite with branch coverage (SQLite; DATABASE_URL=postgres://... for PostgreSQL)"
	@echo "make lint        ruff check and format check, mypy (settings in pyproject.toml)"
	@echo "make bench       run the benchmarks in bench/"

$(STAMP): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

venv: $(STAMP)

# pytest under coverage (settings in pyproject.toml): the subprocesses the tests start write
# data files of their own, combined here before the report. The report never fails the run:
# .ci/run holds the floor. COVERAGE=0 runs plain pytest (CI's runs on other databases).
COVERAGE ?= 1
test: venv
ifeq ($(COVERAGE),0)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
else
	@$(BIN)/coverage erase
	@status=0; $(BIN)/coverage run -m pytest $(PYTEST_ARGS) || status=$$?; \
	$(BIN)/coverage combine --quiet && $(BIN)/coverage report; exit $$status
endif

test-postgres: venv
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} $(MAKE) --no-print-directory test

test-mariadb: venv
	DATABASE_URL=$${DATABASE_URL:-mysql://root@127.0.0.1:3306/test} $(MAKE) --no-print-directory test

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: venv
	$(BIN)/python example_project/manage.py makemigrations --check --dry-run shipping_orders

demo: venv
	$(BIN)/python example_project/manage.py shipping_demo $(ARGS)

bench: venv
	@for script in bench/*.py; do echo "# $$script"; $(BIN)/python $$script || exit 1; done

build: venv
	$(BIN)/python -m pip install --quiet build
	$(BIN)/python -m build

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache test-artifacts
