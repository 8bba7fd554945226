# The two commands of the README: `make run` starts the whole platform, `make test` runs
# every check. Both first install what is missing, so they work on a fresh Debian/Ubuntu.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# What `ems up` runs: the gateway, and a database and broker when none answers.
# chromium drives the browser tests; docker-compose only validates deploy/compose.yaml.
DEBIAN_PACKAGES := nginx postgresql rabbitmq-server chromium docker-compose wrk
# uv from PATH, else the one `pip install uv` just added (its scripts folder may not be on
# PATH, e.g. under pyenv before a rehash). Expanded at each use, so after the install too.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: help run test lint setup system-packages uv venv web chaos diagrams api-types screenshots \
	swarm-up swarm-down swarm-test fuzz fuzz-results bench

help:
	@echo "make run          start the whole platform (gateway at http://localhost:8080)"
	@echo "make test         lint, type-check and run the whole test suite"
	@echo "make lint         ruff and mypy only"
	@echo "make api-types    regenerate web/src/api/generated from the services' OpenAPI"
	@echo "make screenshots  rewrite docs/screenshots/ (make test keeps its pictures elsewhere)"
	@echo "make chaos        kill the broker, a replica, the balancer, the database under load; multi-host"
	@echo "make fuzz         the broker fuzz tests with 20 times the cases of make test (~10 min)"
	@echo "make bench        every benchmark, short, on a quiet machine: docs/results/bench.json (~10 min)"
	@echo "make swarm-up     build the images, deploy on Docker Swarm (gateway at http://localhost:8090)"
	@echo "make swarm-test   swarm-up, then end to end, rescaling and killed containers under load"
	@echo "make swarm-down   remove the stack (EMS_SWARM_PURGE=1: its volumes and secrets too)"

run: setup
	$(UV) run ems up

test: setup
	$(UV) run ruff check src tests
	$(UV) run ruff format --check src tests
	@# mypy checks src/ (strict) and tests/ (pyproject: [[tool.mypy.overrides]] tests.*).
	$(UV) run mypy
	$(UV) run python -m ems.openapi | node $(API_TYPES_TOOL)/generate.mjs --check $(API_TYPES)
	cd web && npm run lint && npm test
	@# A skip outside the opt-in suites (chaos, multihost, swarm) fails: see .ci/skips.py.
	report=$$(mktemp); trap 'rm -f "$$report"' EXIT; \
	$(UV) run pytest -rs --junitxml="$$report"; \
	$(UV) run python .ci/skips.py "$$report"

# The web app's API types, generated from the services' OpenAPI (built in-process, nothing
# started): run after changing a schema, and commit the result; `make test` fails until then.
API_TYPES := web/src/api/generated/api.ts
API_TYPES_TOOL := web/scripts/api-types
api-types: venv web
	$(UV) run python -m ems.openapi | node $(API_TYPES_TOOL)/generate.mjs $(API_TYPES)

# Rewrites docs/screenshots/ from a fresh stack (make test writes its pictures elsewhere).
screenshots: setup
	EMS_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(UV) run pytest tests/e2e -q -k screenshots

# Failure tests: private PostgreSQL/RabbitMQ, SIGKILLs, network namespaces (root); ~4 min.
# Their last results are kept in docs/results/.
chaos: setup
	EMS_CHAOS=1 EMS_MULTIHOST=1 EMS_RESULTS_DIR=docs/results $(UV) run pytest tests/chaos tests/multihost -q -s

# The broker fuzz tests of `make test` (a few thousand cases) with EMS_FUZZ_SCALE times as
# many; EMS_FUZZ_SHRINK=1 also shrinks a failing batch (slow: it replays through the pipeline).
fuzz: setup
	EMS_FUZZ_SCALE=$${EMS_FUZZ_SCALE:-20} $(UV) run pytest tests/monitoring/test_fuzz.py tests/realtime/test_fuzz.py -q -o timeout=7200

# schemathesis over every service's OpenAPI through the gateway (part of `make test`), with
# its figures written to docs/results/schemathesis.md; a plain test run writes nothing.
# Every benchmark with short settings (bench/run_all.py), on a quiet machine only (each one
# refuses to start over a 1-minute load average of 1.5): writes docs/results/bench.json.
# FORCE=1 runs them anyway, to check that they work (the figures then mean nothing).
bench: setup
	$(UV) run python bench/run_all.py $(if $(FORCE),--force,)

fuzz-results: setup
	EMS_RESULTS_DIR=docs/results $(UV) run pytest tests/security/test_schemathesis.py -q
# Docker Swarm on this machine (ems swarm, src/ems/stack/swarm/): installs and starts Docker
# when missing, builds the images from Debian packages, deploys stack `ems`. Opt-in, like chaos;
# swarm-test's last results are kept in docs/results/swarm.md.
swarm-up: venv web
	$(UV) run ems swarm up

swarm-down: venv
	$(UV) run ems swarm down

swarm-test: swarm-up
	EMS_SWARM_TEST=1 EMS_RESULTS_DIR=docs/results $(UV) run pytest tests/swarm -q -s

diagrams:
	dot -Tsvg docs/diagrams/deployment.dot -o docs/diagrams/deployment.svg
	dot -Tpng -Gdpi=110 docs/diagrams/deployment.dot -o docs/diagrams/deployment.png

lint: venv
	$(UV) run ruff check src tests
	$(UV) run ruff format --check src tests
	$(UV) run mypy

setup: system-packages venv web

# Installs missing Debian packages when root; otherwise prints the command to run, and goes
# on: `ems up` uses a PostgreSQL and a RabbitMQ that already answer, whatever is installed.
system-packages:
	@command -v dpkg-query >/dev/null || { echo "not Debian: install $(DEBIAN_PACKAGES) yourself"; exit 0; }; \
	missing=""; \
	for package in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "missing Debian packages:$$missing; install them with:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	fi

uv:
	@command -v uv >/dev/null || python3 -m uv --version >/dev/null 2>&1 || \
	  python3 -m pip install --quiet uv || \
	  python3 -m pip install --quiet --user --break-system-packages uv

venv: uv
	$(UV) sync --frozen

web:
	@if [ ! -f web/package.json ]; then \
	  echo "no web app yet: the gateway serves a placeholder page"; exit 0; \
	fi; \
	command -v npm >/dev/null || { echo "the web app needs Node.js: apt-get install nodejs npm"; exit 1; }; \
	cd web; \
	if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then \
	  npm ci --no-audit --no-fund; \
	fi; \
	tool=scripts/api-types; \
	if [ ! -d $$tool/node_modules ] || [ $$tool/package-lock.json -nt $$tool/node_modules ]; then \
	  npm ci --prefix $$tool --no-audit --no-fund; \
	fi; \
	npm run build
