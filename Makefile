# Two commands on a fresh machine: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_HOME ?= .gridledger-demo
# The demo's API port: make run PORT=8700
PORT ?= 8645
# The demo chain's keystore passphrase; set your own for anything beyond a local trial.
export GRIDLEDGER_PASSPHRASE ?= gridledger-local-demo

.PHONY: run test install lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed
	bash scripts/ensure-system-packages.sh mosquitto chromium fonts-wqy-microhei etcd-server etcd-client

# The demo community on a new chain, then its API until Ctrl-C; --reset replaces the demo chain
# an earlier `make run` left in $(DEMO_HOME) (and nothing else).
run: install
	$(BIN)/gridledger demo --home $(DEMO_HOME) --port $(PORT) --reset --serve

test: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

bench: install
	$(BIN)/gridledger bench ledger --txs 50000 --scale-accounts 1000000 --json
	$(BIN)/gridledger bench ingest --readings 1000000 --json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
