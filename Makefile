# looklook-graphql — the two commands a newcomer needs are `make dev` and `make test`.

UV_VERSION ?= 0.13.8
# uv on PATH if there is one, else the copy `ensure-uv` installs with pip.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen

.PHONY: dev test ensure-uv install install-python install-router compose check-schema lint fmt typecheck migrate bench bench-live clean

## dev: install everything, then run the whole system on embedded defaults (Ctrl-C stops it)
dev: install
	$(RUN) looklook dev

## test: the full test suite (TEST_DATABASE_URL / TEST_REDIS_URL select real servers)
test: install
	$(RUN) pytest

install: install-python install-router

ensure-uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet "uv==$(UV_VERSION)"

install-python: ensure-uv
	$(UV) sync --frozen

install-router: router/node_modules/.package-lock.json

router/node_modules/.package-lock.json: router/package-lock.json
	cd router && npm ci --no-audit --no-fund
	@touch $@

## compose: export every subgraph's SDL into schema/ and compose schema/supergraph.graphql
compose: install
	$(RUN) looklook export-schema
	cd router && node compose.mjs

## lint: ruff (lint + format check) and mypy
lint: install-python
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

fmt: install-python
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

migrate: install-python
	$(RUN) looklook migrate

## bench: measure the router, a subgraph and their ceilings on a private stack (≈1.5 min)
bench: install
	$(RUN) python -m bench.run

## bench-live: payment → paymentStatus event latency on a private stack (bench/live.py)
bench-live: install
	$(RUN) python -m bench.run live

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
