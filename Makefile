# Odoo Peak — the two commands of the README, plus lint and helpers.
#   make run    the local stack on embedded defaults (Ctrl-C stops it)
#   make test   every test, from a clean clone
SHELL := /bin/bash
PEAK_VENV ?= $(CURDIR)/.venv
export PEAK_VENV
PY := $(PEAK_VENV)/bin/python
DEV := PATH="$(PEAK_VENV)/bin:$$PATH" PYTHONPATH="$(CURDIR)/scripts" $(PY) -m

.PHONY: bootstrap run test lint lint-python lint-deploy clean bench

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	@$(DEV) peak_dev.run

test: bootstrap
	@$(DEV) peak_dev.test $(TESTS)

lint: bootstrap lint-python lint-deploy

lint-python:
	@$(PEAK_VENV)/bin/ruff check .
	@$(PEAK_VENV)/bin/ruff format --check .

lint-deploy:
	@bash scripts/bootstrap.sh --lint
	@PATH="$(PEAK_VENV)/bin:$$PATH" bash scripts/lint-deploy.sh

clean:
	rm -rf .state

# The headline benchmark (~50 min, 3 runs): writes bench/results/peak_contention.*
bench: bootstrap
	@PATH="$(PEAK_VENV)/bin:$$PATH" $(PY) bench/peak_contention.py
