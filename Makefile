# The lab's entry points. The README shows two of them: `make lab` and `make test`.
# Everything runs from .venv, which these targets create and keep in step with pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ENV    ?= sim
CHROMIUM       := /usr/bin/chromium
CHROMIUM_STAMP := $(VENV)/.chromium-stamp

.PHONY: lab horizon test test-browser test-hub test-unit test-sim test-notebooks test-real bench lint typecheck sim-up sim-down clean

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

## The notebook run: nbval takes the arc 00-99 through one private sim (conftest.py), then
## tests/notebooks/arc_again.py runs it a second time on that same lab.
NOTEBOOK_RUN := $(BIN)/python -m pytest --nbval notebooks tests/notebooks/arc_again.py --nbval-sanitize-with tests/notebooks/sanitize.cfg -p no:xdist

## Run every default test: lint, types, unit, sim (through the real clients), parity,
## notebooks (nbval + papermill).
##
## The notebook run goes beside the two xdist workers, not after them: it is one kernel
## talking to one sim, a cell at a time (one core at most: ~260 CPU-s for its ~255 s), and
## the xdist workers leave time idle (waiting on their sims' answers, guests' boots, the
## tests' own timeouts, the last modules of one worker while the other has finished), which
## it fills; run one after the other, the arc's ~4 min were added to the ~8 of the other
## tests. Its output is kept in a file and printed after theirs (the xdist run's progress
## stays live); the target fails if either run failed. A shell starts a background command
## with Ctrl-C ignored: $(INTERRUPTIBLE) gives it back, so that Ctrl-C stops both runs and
## each stops its sims as it would in the foreground.
INTERRUPTIBLE := $(BIN)/python -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])'
test: $(STAMP) $(HORIZON_STAMP) $(CHROMIUM_STAMP) lint typecheck
	@log=$$(mktemp); \
	  echo "$(NOTEBOOK_RUN) (beside the tests below; its output follows theirs)"; \
	  $(INTERRUPTIBLE) $(NOTEBOOK_RUN) >"$$log" 2>&1 & notebooks=$$!; \
	  $(BIN)/python -m pytest -n 2 --dist loadscope tests; tests=$$?; \
	  wait $$notebooks; notebooks=$$?; \
	  echo; echo "== $(NOTEBOOK_RUN)"; cat "$$log"; rm -f "$$log"; \
	  test $$tests -eq 0 && test $$notebooks -eq 0

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
