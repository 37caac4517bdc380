# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean system-deps interop-deps tour

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# `make demo DEMO_ARGS="--port 18001"`: fedlab demo's options (--port, --host).
DEMO_ARGS ?=
demo: $(STAMP)
	$(BIN)/fedlab demo $(DEMO_ARGS)

# Debian's chromium (for the browser tests), redis-server (for the Redis session
# tests) and wrk (make bench's load client), installed with apt when missing and
# we are root.
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! command -v redis-server >/dev/null || \
	    ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium redis-server wrk >/dev/null; \
	  else echo "chromium, redis-server or wrk missing: their tests will skip, make bench falls back to Python threads"; fi; \
	fi

# oidc-provider for the interop tests (tests/interop/), from its committed
# lockfile, again only when the lockfile changed; without node and npm those
# tests skip (and fail under CI=true).
INTEROP := tests/interop/oidc-provider
interop-deps:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "node or npm missing: the interop tests against oidc-provider will skip"; \
	elif [ ! -f $(INTEROP)/node_modules/.package-lock.json ] || \
	     [ $(INTEROP)/package-lock.json -nt $(INTEROP)/node_modules/.package-lock.json ]; then \
	  cd $(INTEROP) && npm ci --no-audit --no-fund --loglevel=error; \
	fi

test: $(STAMP) system-deps interop-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# The README's tour: the browser tests' screenshots (test-artifacts/screenshots/,
# written by `make test`) of the pages it shows, copied into docs/tour/. It runs no
# test itself, and stops naming what is missing rather than copy half of them.
SHOTS := test-artifacts/screenshots
TOUR := home-signed-out standin-cognito-signin standin-consent account-signed-in \
	credentials-signed-in storage-private-signed-in sign-in-picture-signed-in \
	diagnostics-signed-in
tour:
	@missing=""; for page in $(TOUR); do for width in 375 1280; do \
	  [ -f $(SHOTS)/$$page-$$width.png ] || missing="$$missing $$page-$$width.png"; \
	done; done; \
	if [ -n "$$missing" ]; then \
	  echo "make tour: not in $(SHOTS)/:$$missing" >&2; \
	  echo "make tour: run make test first (its browser tests write them)" >&2; exit 1; \
	fi
	mkdir -p docs/tour
	for page in $(TOUR); do cp $(SHOTS)/$$page-375.png $(SHOTS)/$$page-1280.png docs/tour/; done
	@echo "make tour: copied $(words $(TOUR)) pages at 375 and 1280 px into docs/tour/"

# ruff, then the layer contracts of pyproject.toml's [tool.importlinter].
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# A bounded load run on loopback (bench/load.py): sign-ins, then 20 s of browsing.
load: $(STAMP)
	$(BIN)/python bench/load.py

# The benchmark suite (bench/run.py), about 10 minutes: ours against the Auth0
# quickstart and a bare route (bench/peers/). Writes bench/results/report.md and
# report.json (committed) and rewrites the README's quoted figures from them.
bench: $(STAMP) system-deps
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) instance build dist test-artifacts .pytest_cache .ruff_cache .import_linter_cache $(INTEROP)/node_modules
