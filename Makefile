# Steun: the two commands are `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint typecheck bench venv lock system-deps npm-deps peer-deps clean help e2e-moodle

help:
	@echo "make demo   build the course packages, start the LRS and the tool on 127.0.0.1"
	@echo "make test   install everything the tests need and run the whole suite"
	@echo "make lint   ruff (lint + format check) and mypy"
	@echo "make bench  the launch beside its peers (pylti1p3, ltijs), then the other benchmark scripts"
	@echo "make lock   rebuild requirements.lock and requirements-dev.lock (hashes) from pyproject.toml"
	@echo "make e2e-moodle  the journey through a real Moodle 5.0.6 (not part of make test)"
	@echo "make adl-conformance ADL_SUITE=path  ADL's LRS conformance suite, 1.0.3 and 2.0, SQLite and PostgreSQL"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every dependency from the lock, each file checked against its hash; then Steun itself.
# requirements.lock is what a server installs; requirements-dev.lock adds the test tools.
$(STAMP): pyproject.toml requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

venv: $(STAMP)

# Rebuild both locks after a change of the dependencies in pyproject.toml (pip-tools runs in a
# venv of its own, so it never lands in the project's).
LOCK_TOOLS := var/lock-tools
PIP_COMPILE = $(LOCK_TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
lock:
	[ -x $(LOCK_TOOLS)/bin/pip-compile ] || { $(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install --quiet pip-tools; }
	CUSTOM_COMPILE_COMMAND="make lock" $(PIP_COMPILE) -o requirements.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(PIP_COMPILE) --extra dev -o requirements-dev.lock pyproject.toml

# apt-get that waits (up to 10 minutes) while another apt or unattended-upgrades holds the lock,
# instead of failing at once.
APT = apt-get -o DPkg::Lock::Timeout=600

# Debian packages the tests need: Chromium for browser tests, PostgreSQL server binaries,
# Node.js/npm for the SCORM player and schema files (npm packages live in node_modules/),
# R with lme4 for the R analysis starter (docs/analysis/steun_analysis.R).
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v Rscript >/dev/null 2>&1 || missing="$$missing r-base-core"; \
	[ -d /usr/lib/R/site-library/lme4 ] || [ -d /usr/lib/R/library/lme4 ] || missing="$$missing r-cran-lme4"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	command -v runuser >/dev/null 2>&1 || missing="$$missing util-linux"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq $$missing >/dev/null; \
	fi
	@$(MAKE) --no-print-directory npm-deps

# npm packages (the SCORM player for tests and the demo, axe-core): only when package.json exists.
npm-deps:
	@if [ -f package.json ]; then \
	  command -v npm >/dev/null 2>&1 || { $(APT) update -qq && DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq nodejs npm >/dev/null; }; \
	  if [ ! -d node_modules ] || [ package.json -nt node_modules ] || [ package-lock.json -nt node_modules ]; then \
	    npm ci --no-audit --no-fund --loglevel=error && touch node_modules; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy steun_lti scorm_package xapi

test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -p no:cacheprovider

demo: $(STAMP) npm-deps
	$(BIN)/steun demo

# The launch beside its peers first (benchmarks/lti_peers.py: the bare pylti1p3 tool comes with the
# dev lock, ltijs from npm here), then every other benchmark script.
LTIJS_PEER := benchmarks/peers/ltijs
bench: $(STAMP) system-deps peer-deps
	@for script in benchmarks/lti_peers.py $(filter-out benchmarks/lti_peers.py,$(sort $(wildcard benchmarks/*.py))); do \
	  echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

# ltijs 5.9 and ltijs-sequelize for the benchmark only (never part of `make test`).
peer-deps:
	@if [ ! -d $(LTIJS_PEER)/node_modules ] || [ $(LTIJS_PEER)/package-lock.json -nt $(LTIJS_PEER)/node_modules ]; then \
	  cd $(LTIJS_PEER) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules; \
	fi

# A real Moodle 5.0.6 with Steun behind TLS, driven in Chromium (docs/development.md,
# "Real Moodle end-to-end check"). Not part of `make test`; state in var/e2e-moodle/.
e2e-moodle: $(STAMP)
	bash scripts/e2e_moodle/run.sh

# ADL's LRS conformance suite (docs/lrs.md, "ADL conformance suite"): fetches nothing; clone it
# and run `npm install` there first, then give its path as ADL_SUITE. Fails on a failure that
# docs/lrs.md does not explain.
.PHONY: adl-conformance
adl-conformance: $(STAMP) system-deps
	@[ -n "$(ADL_SUITE)" ] || { echo "Set ADL_SUITE to a checkout of adlnet/lrs-conformance-test-suite (npm install done)"; exit 2; }
	$(BIN)/python scripts/adl_conformance.py "$(ADL_SUITE)"
	$(BIN)/python scripts/adl_conformance.py "$(ADL_SUITE)" --postgres

clean:
	rm -rf $(VENV) dist var node_modules $(LTIJS_PEER)/node_modules .mypy_cache .ruff_cache
