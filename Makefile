# Two commands on a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres test-django6 django6-suite lint format bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies change. Django 5.2 here whatever `python3` is
# (on Python 3.12+ pip would pick 6.0): Django 6.0 has its own venv, `make test-django6`.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' 'Django>=5.2,<6.0'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/perflab demo

test: test-sqlite test-postgres test-django6

# pytest exits 5 when it collects nothing: that fails the build too, with a clear word.
NO_TESTS_IS_FAILURE = || { s=$$?; [ $$s -ne 5 ] || echo "pytest collected no tests" >&2; exit $$s; }

# Two parts: every test not marked `serial` on TEST_WORKERS pytest-xdist workers, real
# gunicorn and Locust runs included; then, alone on the machine, the `serial` ones, whose
# assertions hold only without other load (latency, throughput, CPU, wall-clock time).
# --dist loadscope: a module's tests share one worker, so a module's fixtures (a seeded
# database, a served site, 281 bad-input subprocesses) are made once.
TEST_WORKERS ?= 2
PARALLEL = -m "not serial" -n $(TEST_WORKERS) --dist loadscope
SERIAL = -m serial
# No processes started, nothing timed: run on every Django version.
UNIT = -m "not integration and not serial" -n $(TEST_WORKERS)

test-sqlite: $(STAMP)
	$(PY) -m pytest $(PARALLEL) $(NO_TESTS_IS_FAILURE)
	$(PY) -m pytest $(SERIAL) $(NO_TESTS_IS_FAILURE)

# The API and seeding tests again, on a throwaway PostgreSQL cluster.
test-postgres: $(STAMP)
	$(PY) -m perflab.testing.postgres -- $(PY) -m pytest -m database -p no:cacheprovider \
		$(NO_TESTS_IS_FAILURE)

# The suite again on Django 6.0, in its own venv, where this machine has a Python for it
# (Django 6.0 needs Python >= 3.12). The first of DJANGO6_PYTHONS that starts and is >= 3.12
# is used; a pyenv shim of a version that is installed but not selected (the shim then says
# "command not found") is resolved to that version's own interpreter.
DJANGO6_PYTHONS ?= python3.13 python3.12
VENV6 := .venv-django6
PY6 := $(VENV6)/bin/python
STAMP6 := $(VENV6)/.installed
FIND_DJANGO6_PYTHON = for c in $(DJANGO6_PYTHONS); do \
	for p in $$c $$(pyenv whence $$c 2>/dev/null \
			| sed "s|^|$$(pyenv root 2>/dev/null)/versions/|; s|$$|/bin/$$c|"); do \
		$$p -c 'import sys; assert sys.version_info >= (3, 12); print(sys.executable)' \
			2>/dev/null && exit 0; \
	done; \
done

test-django6:
	@py=$$($(FIND_DJANGO6_PYTHON)); \
	if [ -z "$$py" ]; then \
		echo "test-django6: skipped: Django 6.0 needs Python >= 3.12, and no Python >= 3.12" \
			"was found (tried $(DJANGO6_PYTHONS), and pyenv's installed versions)"; \
	else \
		$(MAKE) --no-print-directory django6-suite DJANGO6_PYTHON="$$py"; \
	fi

$(PY6):
	$(DJANGO6_PYTHON) -m venv $(VENV6)

$(STAMP6): pyproject.toml | $(PY6)
	$(PY6) -m pip install --quiet --upgrade pip
	$(PY6) -m pip install --quiet -e '.[dev]' 'Django>=6.0,<6.1'
	touch $(STAMP6)

# On Django 6.0: every test but the integration ones (real gunicorn and Locust runs, most of
# the suite's time) and those of code that imports no Django (the load runner, the report,
# capacity, the histogram, the command line's argument checks: DJANGO6_SKIPPED), then those
# that serve Django 6.0 for real: the demo seeded, served, load-tested and reported, the dev
# profile with the toolbar and silk, the Wagtail site.
# -p no:cacheprovider: these runs do not overwrite the main run's .pytest_cache.
DJANGO6_SERVED ?= tests/integration/test_serve.py tests/wagtail_site
DJANGO6_SKIPPED ?= tests/load tests/report tests/capacity tests/test_histogram.py \
	tests/commands/test_bad_input.py
django6-suite: $(STAMP6)
	$(PY6) -m pytest -p no:cacheprovider $(UNIT) \
		$(addprefix --ignore=,$(DJANGO6_SKIPPED)) $(NO_TESTS_IS_FAILURE)
	$(PY6) -m pytest -p no:cacheprovider -m "serial and not integration" \
		$(addprefix --ignore=,$(DJANGO6_SKIPPED)) $(NO_TESTS_IS_FAILURE)
	$(PY6) -m pytest -p no:cacheprovider $(DJANGO6_SERVED) $(NO_TESTS_IS_FAILURE)

# ruff, then the import contracts of pyproject's [tool.importlinter] (the layers).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/seed.py

clean:
	rm -rf $(VENV) $(VENV6) .perflab .pytest_cache
