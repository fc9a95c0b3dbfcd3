# The index of what a contributor can run. Every target sets itself up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The benchmark's peers (peewee, SQLAlchemy) live in their own virtualenv: peewee ships a
# top-level `playhouse` package too, and .venv must never hold both (docs/install.md).
BENCH_VENV ?= .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: demo test bench bench-scaling lint typecheck-all docs reference clean pgreplica myreplica faultdb galera

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml setup.py
	@# an older `make bench` installed peewee here; its playhouse must not sit beside ours
	@if $(BIN)/pip show -q peewee >/dev/null 2>&1; then $(BIN)/pip uninstall -q -y peewee; fi
	$(BIN)/pip install -q -e '.[test,lint]'
	touch $(STAMP)

$(BENCH_STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --upgrade pip
	$(BENCH_VENV)/bin/pip install -q -e '.[bench]'
	touch $(BENCH_STAMP)

demo: $(STAMP)
	@for example in examples/*.py; do echo "== $$example"; $(BIN)/python $$example || exit 1; done

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks $(BENCH_ARGS)

# Time per row and peak memory as N grows (1k..1M): results/scaling.{json,md}, docs/img/scaling.png.
# BENCH_ARGS="--sizes 1000,10000,100000 --engines sqlite" to choose.
bench-scaling: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python -m benchmarks --scaling $(BENCH_ARGS)

# mypy and pyright (settings in pyproject.toml) on the package and on
# tests/typing/check_models.py, the types an editor shows and the mistakes it must report.
lint: $(STAMP)
	$(BIN)/ruff check tinyorm playhouse tests benchmarks examples scripts
	$(BIN)/ruff format --check tinyorm playhouse tests benchmarks examples scripts
	$(BIN)/python scripts/reference.py --check
	$(BIN)/mypy
	$(BIN)/pyright --pythonpath $(BIN)/python

# Report only: `mypy --strict` and pyright on every module, including those pyproject.toml
# still lists as not yet annotated (docs/typing.md).
typecheck-all: $(STAMP)
	-$(BIN)/mypy --config-file= --strict --python-version 3.10 tinyorm
	@# pyright takes no command-line override of pyproject's ignore list: a config of its own
	@echo '{"include": ["../tinyorm"], "pythonVersion": "3.10"}' > $(VENV)/pyright-all.json
	-$(BIN)/pyright --pythonpath $(BIN)/python -p $(VENV)/pyright-all.json

# The examples in docs/ run, and docs/reference/ matches the docstrings.
docs: $(STAMP)
	$(BIN)/python scripts/reference.py --check
	$(BIN)/python -m pytest tests/test_docs.py

# Rewrite docs/reference/ from the docstrings (run after changing a public docstring).
reference: $(STAMP)
	$(BIN)/python scripts/reference.py

pgreplica:
	bash scripts/pgreplica.sh up

myreplica:
	bash scripts/myreplica.sh up

faultdb:
	bash scripts/faultdb.sh up

galera:
	bash scripts/galera.sh up

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist *.egg-info .pytest_cache
