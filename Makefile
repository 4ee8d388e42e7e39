# custos — the two commands of the README: `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
UV_VERSION := 0.13.9
PG_URL  ?= postgres://postgres@127.0.0.1:5432/test
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: demo test test-sqlite test-postgres lint lock install clean bench

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --python $(BIN)/python -q requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e .
	touch $@

# The checks' compiled DuckDB functions (custos/checks/native); the engine runs the SQL alone
# (slower, same findings) where no C compiler is found.
install: $(VENV)/.installed
	@$(BIN)/python -c "from custos.checks import native; native.build()" \
	  || echo "custos_native not built (no C compiler?): the checks run on SQL alone"

# Re-pin after changing dependencies in pyproject.toml.
lock: | $(BIN)/python
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -q -o requirements.lock

lint: install
	$(BIN)/ruff check custos tests
	$(BIN)/ruff format --check custos tests

demo: install
	$(BIN)/custos demo

test: install
	$(BIN)/ruff check custos tests
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install
	CUSTOS_HOME=$(CURDIR)/var/test-sqlite $(BIN)/python -m pytest -n 2 --dist loadgroup -p no:cacheprovider -m "not postgres" $(PYTEST_ARGS)

# The whole suite again on PostgreSQL. Skipped with a reason when the server does not answer,
# except under CI=true, where that is a failure.
test-postgres: install
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  CUSTOS_HOME=$(CURDIR)/var/test-postgres CUSTOS_DATABASE_URL=$(PG_URL) CUSTOS_TEST_DATABASE_URL=$(PG_URL) \
	    $(BIN)/python -m pytest -n 2 --dist loadgroup -p no:cacheprovider -m "not browser and not spark" $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then echo "PostgreSQL at $(PG_URL) does not answer (CI=true: failing)"; exit 1; \
	else echo "SKIPPED: PostgreSQL at $(PG_URL) does not answer; PostgreSQL tests not run"; fi

clean:
	rm -rf var/test-sqlite var/test-postgres
