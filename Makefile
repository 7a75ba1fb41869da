# Shelter Watch: the one entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODELS ?= build/models
DATA   ?= ../shared/data/pets
SHARED_DATA ?= ../shared/data
CLASSIFIER := services/classifier
SOURCES := libs stack services tests tools bench

.PHONY: help venv model train eval run classify test test-fast lint format typecheck bench up down logs clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# Each step says what it does, prints a dot every 5 s while it runs, then how long it took.
$(VENV)/.installed: requirements-dev.txt services/*/requirements*.txt libs/*/pyproject.toml
	@set -e; \
	step() { \
	  printf '[%s] %s ...' "$$1" "$$2"; shift 2; t0=$$(date +%s%N); \
	  ( while sleep 5 >/dev/null; do printf .; done ) & dots=$$!; \
	  "$$@" && rc=0 || rc=$$?; kill $$dots; wait $$dots 2>/dev/null || true; \
	  ms=$$(( ($$(date +%s%N) - t0) / 1000000 )); \
	  printf ' %s %d.%d s\n' "$$( [ $$rc -eq 0 ] && echo done in || echo FAILED after)" \
	    $$((ms / 1000)) $$((ms % 1000 / 100)); \
	  return $$rc; \
	}; \
	if [ -x $(BIN)/python ]; then echo "[1/3] $(VENV) exists"; \
	else step 1/3 "creating $(VENV)" $(PYTHON) -m venv $(VENV); fi; \
	step 2/3 "upgrading pip" $(BIN)/python -m pip install --quiet --upgrade pip; \
	step 3/3 "installing pinned dependencies (a minute or two the first time)" \
	  $(BIN)/python -m pip install --quiet -r requirements-dev.txt; \
	touch $@

venv: $(VENV)/.installed ## create .venv with every pinned dependency

$(MODELS)/.built: $(VENV)/.installed $(wildcard $(CLASSIFIER)/tools/*.py) $(wildcard $(CLASSIFIER)/head/*)
	$(BIN)/python $(CLASSIFIER)/tools/build_model.py --out $(MODELS)
	@touch $@

model: $(MODELS)/.built ## build the ONNX models, Lite0 + the Lite2 candidate (no torch, pinned weights)

train: venv ## retrain the shipped heads (Lite0, Lite2) on the Oxford photos (needs ../shared/data)
	$(BIN)/python $(CLASSIFIER)/tools/train_head.py --data $(SHARED_DATA)/pets --data $(SHARED_DATA)/pets-train --out $(CLASSIFIER)/head
	$(MAKE) model

eval: model ## evaluate MODEL=<name> (unset: the default model) on DATA=<dir with cat/ dog/ none/>
	$(BIN)/python $(CLASSIFIER)/tools/evaluate.py --model-dir $(MODELS) --data $(DATA) $(if $(MODEL),--model $(MODEL))

run: model ## the whole stack as local processes, with Redis and simulated cameras
	$(BIN)/python -m stack

classify: ## classify the photos under DIR into OUT=predictions.csv (a batch job; needs `make run`)
	@test -n "$(DIR)" || { echo "usage: make classify DIR=path/to/photos [OUT=predictions.csv]"; exit 2; }
	PYTHONPATH=services/batch $(BIN)/python -m batch.cli "$(DIR)" "$(or $(OUT),predictions.csv)"

test: model lint typecheck ## lint, type-check and run every test (real Redis, real model, real HTTP)
	$(BIN)/python -m pytest

test-fast: model ## the tests without the slow (process-spawning, full-data) ones
	$(BIN)/python -m pytest -m "not slow"

# Debian's chromium, never a downloaded browser: installed here when missing and we are root.
CHROMIUM_CHECK = command -v chromium >/dev/null || { if [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "the browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

.PHONY: test-browser
test-browser: model ## the dashboard in a real chromium against a real stack (Playwright)
	@$(CHROMIUM_CHECK)
	$(BIN)/python -m pytest -m browser tests/browser

.PHONY: screenshots
screenshots: model ## regenerate docs/screenshots/*.png from a real stack in chromium
	@$(CHROMIUM_CHECK)
	$(BIN)/python -m tests.browser.screenshots docs/screenshots

.PHONY: test-reliability
test-reliability: model ## faults under load, hostile inputs, schemathesis, a 60 s load test, the authorisation matrix
	$(BIN)/python -m pytest -m reliability tests/reliability tests/hostile tests/fuzz

lint: venv ## ruff
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

format: venv ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

typecheck: venv ## mypy, strict
	$(BIN)/mypy libs/shelter-kit/src libs/shelter-kit/tests stack services tools bench tests

BENCH_VENV ?= build/bench-venv
BENCH_CAMERAS ?= 30
$(BENCH_VENV)/.installed: bench/requirements.txt libs/shelter-kit/pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r bench/requirements.txt
	@touch $@

bench: model $(BENCH_VENV)/.installed ## classifier vs in-process limits, BentoML, gateway; level 0 vs 1; pipeline soak; start-up (~12 min)
	$(BIN)/python -m bench.peers.compare --seconds 2 --repeats 2 --candidate
	$(BENCH_VENV)/bin/python bench/peers/plot.py build/bench/peers.json docs/img
	$(BIN)/python bench/pipeline.py --cameras $(BENCH_CAMERAS) --seconds 30 --fail-at 10 --fail-for 8
	$(BIN)/python bench/pipeline.py --cameras $(BENCH_CAMERAS) --seconds 300 --levels 1
	$(BIN)/python bench/startup.py --repeats 3

.PHONY: bench-soak
bench-soak: model ## the classifier's RSS every 30 s under 10 minutes of load (c=8, both models, both sizes)
	$(BIN)/python -m bench.peers.soak --seconds 600 --concurrency 8

.PHONY: bench-quick
bench-quick: model ## the classifier against its in-process limits at 640x480, c=1 and 8 (under a minute)
	$(BIN)/python -m bench.peers.compare --quick

up: certs ## build and start the containers (starts an engine as root if none), print URL and key
	tools/compose/run.sh up

down: ## stop the containers (the volumes stay)
	tools/compose/run.sh down

logs: ## follow the containers' logs
	tools/compose/run.sh logs

# The host's extra CA certificates (an intercepting proxy's, a corporate CA) for the image builds.
.PHONY: certs
certs:
	@mkdir -p certs; for f in /usr/local/share/ca-certificates/*.crt; do \
	  [ -e "$$f" ] && cp -u "$$f" certs/ || true; done

.PHONY: base-image
base-image: ## the local Debian + Python 3.11 base images (debootstrap, no registry; cached)
	tools/compose/base-image.sh

# Builds every image, starts compose.yaml as its own project on GATEWAY_PORT 18000, runs
# tests/compose against the published gateway, always tears down, keeps pytest's exit code.
.PHONY: test-compose
test-compose: venv certs ## the compose stack for real: pipeline, kill, restart, redeploy, scale
	tools/compose/run.sh test

clean: ## remove build outputs and local run state (keeps .venv)
	rm -rf build var .pytest_cache .mypy_cache .ruff_cache
