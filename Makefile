# looklook-graphql — the two commands a newcomer needs are `make dev` and `make test`.

UV_VERSION ?= 0.13.8
# uv on PATH if there is one, else a private copy in .tools/venv, made with the standard
# venv module: Debian and Ubuntu refuse `pip install` outside a virtual environment.
PRIVATE_UV := .tools/venv/bin/uv
UV := $(shell command -v uv 2>/dev/null || echo $(PRIVATE_UV))
RUN := $(UV) run --frozen

.PHONY: dev test ensure-uv check-node install install-python install-router install-browser-tests compose check-schema lint lint-schema fmt typecheck migrate certs bench bench-live clean

## dev: install everything, then run the whole system on embedded defaults (Ctrl-C stops it)
dev: install
	$(RUN) looklook dev

## test: the full test suite (TEST_DATABASE_URL / TEST_REDIS_URL select real servers)
test: install install-browser-tests
	$(RUN) pytest

install: install-python install-router

ifeq ($(UV),$(PRIVATE_UV))
ensure-uv: $(PRIVATE_UV)
else
ensure-uv: ;
endif

$(PRIVATE_UV):
	@command -v python3 >/dev/null 2>&1 || { echo "python3 not found: install Python >= 3.11" >&2; exit 1; }
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "python3 is $$(python3 --version 2>&1); looklook needs Python >= 3.11" >&2; exit 1; }
	@echo "uv is not on PATH: installing uv $(UV_VERSION) into .tools/venv"
	@python3 -m venv .tools/venv >/dev/null 2>&1 || { rm -rf .tools/venv; \
		echo "python3 -m venv failed: install the venv module (Debian/Ubuntu: sudo apt install python3-venv)," >&2; \
		echo "or put uv on PATH (https://docs.astral.sh/uv/getting-started/installation/)" >&2; exit 1; }
	@.tools/venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install-python: .venv/.synced

# Synced again only when the lock or the project changes. Bytecode is compiled here, once,
# so no process compiles its imports at start (nor each time where PYTHONDONTWRITEBYTECODE
# is set, as in many containers and CI images).
.venv/.synced: uv.lock pyproject.toml | ensure-uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

## check-node: Node.js ≥ 20 with npm, to install the router (which runs on the Node.js pinned in router/package.json)
check-node:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
		|| { echo "node and npm not found: install Node.js 22 or 24 LTS (https://nodejs.org/en/download)" >&2; exit 1; }
	@major=$$(node -p 'process.versions.node.split(".")[0]'); \
		if [ "$$major" -lt 20 ]; then echo "node is $$(node --version); npm needs Node.js 20 or newer to install the router" >&2; exit 1; fi

install-router: router/node_modules/.package-lock.json

# `npm ci` also installs the router's own Node.js (the pinned `node` package; its install
# script fetches the matching node-<os>-<arch> build from the npm registry).
# --loglevel=error: on Node 20 npm would print two dozen EBADENGINE warnings.
router/node_modules/.package-lock.json: router/package-lock.json router/package.json
	@$(MAKE) --no-print-directory check-node
	cd router && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# playwright-core for the GraphiQL browser test; it drives the system's chromium
# (`apt-get install chromium`) and downloads no browser of its own.
install-browser-tests: tests/browser/node_modules/.package-lock.json

tests/browser/node_modules/.package-lock.json: tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund
	@touch $@

## compose: export every subgraph's SDL into schema/ and compose schema/supergraph.graphql
compose: install
	$(RUN) looklook export-schema
	cd router && node compose.mjs

## lint: ruff (lint + format check), mypy, and no breaking change in the supergraph
lint: install-python lint-schema
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

## lint-schema: schema/supergraph.graphql against SCHEMA_BASE (a git revision, default HEAD);
## a deliberate break (announced in CHANGELOG.md): ALLOW_BREAKING_SCHEMA=1
SCHEMA_BASE ?= HEAD
lint-schema: install-router
	router/node_modules/.bin/graphql-inspector diff "git:$(SCHEMA_BASE):schema/supergraph.graphql" \
		schema/supergraph.graphql || [ -n "$(ALLOW_BREAKING_SCHEMA)" ]

fmt: install-python
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

migrate: install-python
	$(RUN) looklook migrate

## certs: dev CA + per-process certificates for TLS_ENABLED (DATA_DIR/certs; keeps valid ones)
certs: install-python
	$(RUN) looklook certs

## bench: measure the router, a subgraph and their ceilings on a private stack (≈1.5 min)
bench: install
	$(RUN) python -m bench.run

## bench-live: payment → paymentStatus event latency on a private stack (bench/live.py)
bench-live: install
	$(RUN) python -m bench.run live

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache .tools
