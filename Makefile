# The index of what a contributor can run. Every target sets itself up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint docs clean pgreplica

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python setup.py
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@for example in examples/*.py; do echo "== $$example"; $(BIN)/python $$example || exit 1; done

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/pip install -q ruff
	$(BIN)/ruff check tinyorm playhouse tests benchmarks examples
	$(BIN)/ruff format --check tinyorm playhouse tests benchmarks examples

docs: $(STAMP)
	$(BIN)/python -m pytest tests/test_docs.py

pgreplica:
	bash scripts/pgreplica.sh up

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
