# The lab's entry points. The README shows two of them: `make lab` and `make test`.
# Everything runs from .venv, which these targets create and keep in step with pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ENV    ?= sim
CHROMIUM       := /usr/bin/chromium
CHROMIUM_STAMP := $(VENV)/.chromium-stamp

.PHONY: lab horizon test test-browser test-hub test-unit test-sim test-notebooks test-real tempest bench lint typecheck sim-up sim-down clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "labkit needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create $(VENV). On Debian/Ubuntu install the venv module: sudo apt install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## The dashboard's own environment: the real Horizon 23.0.0 (Zed) with Django 3.2 and Zed's
## clients, which clash with labkit's (labkit/horizon/venv.py). Built once, ~1.5-3 min.
HORIZON_STAMP := .venv-horizon/.labkit-horizon-stamp
$(HORIZON_STAMP): $(STAMP) labkit/horizon/requirements.txt labkit/horizon/venv.py
	$(BIN)/python -m labkit.horizon.venv
horizon: $(HORIZON_STAMP)

## Start the lab: the sim (or ENV=...) and JupyterLab on notebooks/.
lab: $(STAMP) $(HORIZON_STAMP)
	$(BIN)/labkit sim up --env $(ENV)
	$(BIN)/labkit lab --env $(ENV)

## Run every default test: lint, types, unit, sim (through the real clients), parity,
## notebooks (nbval + papermill). The notebooks' tests run in the notebook run
## (NOTEBOOK_RUN), not in the first: nbval's arc is one chain of kernels on one sim, about
## one core's work, and each notebook alone on a fresh sim (test_papermill.py) keeps the
## other core busy meanwhile.
NOTEBOOK_TESTS := tests/notebooks/arc_again.py tests/notebooks/test_papermill.py
NOTEBOOK_RUN   := $(BIN)/python -m pytest -n 2 --nbval notebooks $(NOTEBOOK_TESTS) \
                  --nbval-sanitize-with tests/notebooks/sanitize.cfg
## What the tests need besides .venv, made side by side: Horizon's environment is mostly
## pip waiting on the network, Chromium apt's, while lint and typecheck use the CPU.
## --output-sync keeps each one's lines together; any failure still stops make test.
test: $(STAMP)
	$(MAKE) --no-print-directory -j4 --output-sync=target $(HORIZON_STAMP) $(CHROMIUM_STAMP) lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadscope tests --ignore=tests/notebooks/test_papermill.py
	$(NOTEBOOK_RUN)

## The browser tests' Chromium comes from the distribution (Playwright drives it and never
## downloads one). Installed here when missing and we are root (a fresh CI machine); else the
## command to run is printed and tests/browser fail with the same words.
$(CHROMIUM_STAMP):
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's chromium for the browser tests (about a minute) ..."; \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null \
	  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; \
	else \
	  echo "The browser tests need Chromium at $(CHROMIUM): sudo apt-get install -y --no-install-recommends chromium"; \
	fi
	@if [ -x $(CHROMIUM) ]; then mkdir -p $(VENV) && touch $@; fi

test-browser: $(STAMP) $(CHROMIUM_STAMP)
	$(BIN)/python -m pytest tests/browser

## Opt-in: a real JupyterHub with two users, each running notebook 02 on their own sim.
test-hub: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,hub]'
	LABKIT_HUB=1 $(BIN)/python -m pytest tests/hub -p no:xdist -v

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

test-sim: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadscope tests/sim tests/parity

test-notebooks: $(STAMP)
	$(NOTEBOOK_RUN)

## Opt-in: real lab hosts on this machine (root, debootstrap, network namespaces).
test-real: $(STAMP)
	LABKIT_REAL=1 $(BIN)/python -m pytest tests/real -p no:xdist -v

## Opt-in: upstream tempest 47.0.0 (in its own .venv-tempest) against a sim of its own:
## counts per API area and each failure's first error line (tests/tempest/run.py).
TEMPEST_REGEX ?= tempest.api.compute|tempest.api.network|tempest.api.identity|tempest.api.image
tempest: $(STAMP)
	$(BIN)/python -m tests.tempest.run --regex '$(TEMPEST_REGEX)'

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
