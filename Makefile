# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres lint format bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies change.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/perflab demo

test: test-sqlite test-postgres

# pytest exits 5 when it collects nothing: that fails the build too, with a clear word.
NO_TESTS_IS_FAILURE = || { s=$$?; [ $$s -ne 5 ] || echo "pytest collected no tests" >&2; exit $$s; }

test-sqlite: $(STAMP)
	$(PY) -m pytest $(NO_TESTS_IS_FAILURE)

# The API and seeding tests again, on a throwaway PostgreSQL cluster.
test-postgres: $(STAMP)
	$(PY) -m perflab.testing.postgres -- $(PY) -m pytest -m database -p no:cacheprovider \
		$(NO_TESTS_IS_FAILURE)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/seed.py

clean:
	rm -rf $(VENV) .perflab .pytest_cache
