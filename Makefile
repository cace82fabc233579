# Slipway: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SANDBOX_IMAGE ?= slipway-sandbox:latest
# Two processes (the machines this runs on have two cores); a file's tests stay together.
PYTEST_ARGS ?= -n 2 --dist loadfile
export SLIPWAY_SANDBOX_IMAGE ?= $(SANDBOX_IMAGE)

.PHONY: run test setup deps system sandbox-image web worker beat lint bench clean

## run: set up what is missing, then start web, worker and beat (Ctrl-C stops them all)
run: deps system
	$(PY) scripts/run.py

## test: install what the tests need and run the whole suite against the real services
test: deps
	@$(PY) -m playwright --version >/dev/null
	@scripts/provision.sh --ci
	@$(MAKE) --no-print-directory sandbox-image
	$(VENV)/bin/ruff check agents platform tests bench scripts
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

deps: $(VENV)/.installed

## system: install system packages (bubblewrap, git, ripgrep, docker) where we may
system:
	@scripts/provision.sh || true

## sandbox-image: build the sandbox image offline (mmdebstrap from Debian packages, then docker import)
sandbox-image:
	@agents/sandbox/build_image.sh $(SANDBOX_IMAGE)

web: deps
	$(VENV)/bin/uvicorn config.asgi:application --app-dir platform --host 127.0.0.1 --port 8000

worker: deps
	cd platform && ../$(VENV)/bin/celery -A config worker -Q agents,default -l info

beat: deps
	cd platform && ../$(VENV)/bin/celery -A config beat -l info -s ../var/celerybeat-schedule

lint: deps
	$(VENV)/bin/ruff check agents platform tests bench scripts
	$(VENV)/bin/lint-imports

bench: deps
	$(PY) bench/sandbox.py && $(PY) bench/workspace.py && $(PY) bench/agent_loop.py

## lock: refresh requirements.lock from pyproject.toml's ranges
lock:
	rm -rf /tmp/slipway-lock && $(PYTHON) -m venv /tmp/slipway-lock
	/tmp/slipway-lock/bin/pip install -q --upgrade pip && /tmp/slipway-lock/bin/pip install -q '.[test,bench]'
	/tmp/slipway-lock/bin/pip freeze --exclude slipway > requirements.lock

clean:
	rm -rf var/workspaces var/static
