# The lab's entry points. The README shows two of them: `make lab` and `make test`.
# Everything runs from .venv, which these targets create and keep in step with pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ENV    ?= sim

.PHONY: lab test test-unit test-sim test-notebooks test-real bench lint typecheck sim-up sim-down clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labkit needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create $(VENV). On Debian/Ubuntu install the venv module: sudo apt install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Start the lab: the sim (or ENV=...) and JupyterLab on notebooks/.
lab: $(STAMP)
	$(BIN)/labkit sim up --env $(ENV)
	$(BIN)/labkit lab --env $(ENV)

## Run every default test: lint, types, unit, sim (through the real clients), parity,
## notebooks (nbval + papermill).
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 tests
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with tests/notebooks/sanitize.cfg -p no:xdist

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-sim: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests/sim tests/parity

test-notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with tests/notebooks/sanitize.cfg -p no:xdist

## Opt-in: real lab hosts on this machine (root, debootstrap, network namespaces).
test-real: $(STAMP)
	LABKIT_REAL=1 $(BIN)/python -m pytest tests/real -p no:xdist -v

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check labkit tests bench
	$(BIN)/ruff format --check labkit tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

sim-up: $(STAMP)
	$(BIN)/labkit sim up --env $(ENV)

sim-down: $(STAMP)
	$(BIN)/labkit sim down --env $(ENV)

clean:
	rm -rf $(VENV) build *.egg-info
