# Two commands: `make run` (install, demo data, server) and `make test` (install, tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_URL ?= sqlite://demo.db
DEMO_SECRET ?= .rls-demo/secret
ADDR ?= :3000
FUZZ_REQUESTS ?= 34000

.PHONY: run demo test bench bench-faults bench-guard bench-orm bench-rest fuzz fuzz-http mutation lint install clean

$(BIN)/rest: pyproject.toml
	@echo "==> [1/3] creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "==> [2/3] upgrading pip"
	$(BIN)/python -m pip install --upgrade pip
	@echo "==> [3/3] installing rls with its test and benchmark tools (about a minute the first time)"
	$(BIN)/python -m pip install -e ".[test,bench]"
	@touch $@

install: $(BIN)/rest  ## create the virtual environment and install rls with its test tools

demo: install  ## set up the demo database (auth on: alice, bob, an admin, policies) and print ready requests
	$(BIN)/rest -db.url $(DEMO_URL) -addr $(ADDR) -auth.secret-file $(DEMO_SECRET) demo

run: demo  ## install, set up the demo, serve it on $(ADDR) with row-level security on
	@echo "==> serving the demo on $(ADDR) with auth on (Ctrl-C stops it); run the commands above in another shell"
	$(BIN)/rest -db.url $(DEMO_URL) -addr $(ADDR) -auth.enabled -auth.secret-file $(DEMO_SECRET) serve

test: install  ## install, then run the whole suite on SQLite, PostgreSQL and MariaDB
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest benchmarks -q -p no:cacheprovider --benchmark-disable

bench: install  ## micro benchmarks, then the HTTP load benchmark; results in benchmarks/results/ and benchmarks/RESULTS.md
	@# The load benchmark and the page run even when a micro benchmark fails; make still fails then.
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-json=benchmarks/results/micro.json; \
	status=$$?; $(BIN)/python -m benchmarks.load && exit $$status

bench-faults: install  ## database restart and crash under load on private PostgreSQL and MariaDB instances; results in benchmarks/results/faults.json and benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.faults

fuzz: install  ## differential fuzz: 10,000 generated statements, guard vs native PostgreSQL RLS (MariaDB, SQLite cross-checked)
	$(BIN)/python -m tests.fuzz.runner --cases $(or $(FUZZ_CASES),10000) --seed $(or $(FUZZ_SEED),1) --report fuzz-report.jsonl --summary fuzz-summary.json

fuzz-http: install  ## HTTP fuzzer, full run: FUZZ_REQUESTS generated requests on each database, in parallel (FUZZ_SEED to repeat one)
	@seed=$${FUZZ_SEED:-$$(date +%s)}; echo "fuzz-http: seed $$seed, $(FUZZ_REQUESTS) requests per database"; \
	pids=""; for b in sqlite postgres mysql; do \
	  FUZZ_REQUESTS=$(FUZZ_REQUESTS) FUZZ_SEED=$$seed $(BIN)/python -m pytest tests/test_fuzz_http.py \
	    -q -p no:cacheprovider -s -k $$b > .fuzz-http-$$b.log 2>&1 & pids="$$pids $$!"; \
	done; status=0; for p in $$pids; do wait $$p || status=1; done; \
	grep -h -A30 "^fuzz-http" .fuzz-http-*.log; exit $$status

bench-guard: install  ## the guard at 1,000,000 rows on PostgreSQL, MariaDB and SQLite, and its rewrite costs; results in benchmarks/results/guard_scale.json and benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.guard_scale

bench-orm: install  ## one SQLAlchemy page (list + create) with and without the guard, per database; results in benchmarks/results/orm_request.json and benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.orm_request

bench-rest: install  ## REST reads (GET by key, paged GET) at 1,000,000 rows against hand-written SQL; results in benchmarks/results/rest_scale.json
	$(BIN)/python -m benchmarks.rest_scale

mutation: install  ## remove each security rule of the guard (a test must fail), then mutmut; see tests/MUTATION.md
	$(BIN)/python tests/mutation/run.py rules
	$(BIN)/python tests/mutation/run.py mutmut --show

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo.db demo.db-wal demo.db-shm .rls-demo fuzz-report.jsonl fuzz-summary.json .fuzz-http-*.log
