# Two commands: `make run` (install, demo data, server) and `make test` (install, tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_URL ?= sqlite://demo.db
ADDR ?= :3000

.PHONY: run test bench lint install clean mutation

$(BIN)/rest: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	@touch $@

install: $(BIN)/rest  ## create the virtual environment and install rls with its test tools

run: install  ## install, create the demo SQLite database, start the server on $(ADDR)
	$(BIN)/rest -db.url $(DEMO_URL) -addr $(ADDR) demo
	$(BIN)/rest -db.url $(DEMO_URL) -addr $(ADDR) serve

test: install  ## install, then run the whole suite on SQLite, PostgreSQL and MariaDB
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest benchmarks -q -p no:cacheprovider --benchmark-disable

bench: install  ## micro benchmarks, then the HTTP load benchmark; results in benchmarks/results/ and benchmarks/RESULTS.md
	@# The load benchmark and the page run even when a micro benchmark fails; make still fails then.
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-json=benchmarks/results/micro.json; \
	status=$$?; $(BIN)/python -m benchmarks.load && exit $$status

mutation: install  ## remove each security rule of the guard (a test must fail), then mutmut; see tests/MUTATION.md
	$(BIN)/python tools/mutation.py rules
	$(BIN)/python tools/mutation.py mutmut --show

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo.db demo.db-wal demo.db-shm
