# Odoo Peak — the two commands of the README, plus lint and helpers.
#   make run    the local stack on embedded defaults (Ctrl-C stops it)
#   make test   every test, from a clean clone
SHELL := /bin/bash
PEAK_VENV ?= $(CURDIR)/.venv
export PEAK_VENV
PY := $(PEAK_VENV)/bin/python
DEV := PATH="$(PEAK_VENV)/bin:$$PATH" PYTHONPATH="$(CURDIR)/scripts" $(PY) -m

.PHONY: bootstrap run test lint lint-python lint-deploy clean bench rehearsal bench-real \
	images image-test

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

# The Odoo and governor images, built offline with buildah on a local Debian
# base (root; scripts/images.sh): cached, tagged from the git revision.
images:
	@bash scripts/images.sh

# Those images run for real against the host's PostgreSQL, a private Redis
# and SeaweedFS (tests/image_runtime.py; not part of `make test`).
image-test: bootstrap images
	@PATH="$(PEAK_VENV)/bin:$$PATH" PYTHONPATH="$(CURDIR)/scripts" \
		$(PY) -m pytest -p no:odoo tests/image_runtime.py $(PYTEST_ARGS)

# The headline benchmark (~50 min, 3 runs): writes bench/results/peak_contention.*
bench: bootstrap
	@PATH="$(PEAK_VENV)/bin:$$PATH" $(PY) bench/peak_contention.py

# A pre-peak rehearsal against `make run` (start it first, in another
# terminal): seeds the stack's database once, then runs PROFILE (default the
# 5-minute distributor day) and writes rehearsal-report/.
REHEARSAL := $(CURDIR)/.venv-rehearsal/bin/peak-rehearsal
PROFILE ?= distributor.yaml
SCALE ?= 1
rehearsal: bootstrap
	@PEAK_REHEARSAL_PASSWORD="$${PEAK_REHEARSAL_PASSWORD:-$${PEAK_ADMIN_PASSWORD:-admin}}" \
		$(REHEARSAL) seed --url "http://127.0.0.1:$${PEAK_HTTP_PORT:-8069}" --db "$${PEAK_DB:-peak}" --scale $(SCALE)
	@PEAK_REHEARSAL_PASSWORD="$${PEAK_REHEARSAL_PASSWORD:-$${PEAK_ADMIN_PASSWORD:-admin}}" \
		$(REHEARSAL) run --url "http://127.0.0.1:$${PEAK_HTTP_PORT:-8069}" --db "$${PEAK_DB:-peak}" \
		--profile "$$( [ -f "$(PROFILE)" ] && echo "$(PROFILE)" || echo rehearsal/peak_rehearsal/profiles/$(PROFILE))"

# The headline on real Odoo flows (~50 min): four modes of the rehearsal,
# writes bench/results/rehearsal/
bench-real: bootstrap
	@PATH="$(PEAK_VENV)/bin:$$PATH" $(PY) bench/rehearsal_real.py
