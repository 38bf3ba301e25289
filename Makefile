# Two commands: `make run` (set up, index the sample knowledge, serve on :8000) and `make test`;
# writers also use `make lint` and `make index`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run lint index test test-fast bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first, so nothing pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The demo page signs in a demo user (its checklist and next-step nudge; JISO_DEMO_USER, off in
# `jiso serve`) with a local-only secret unless you set your own JISO_IDENTITY_SECRET. `make run PORT=8080 HOST=0.0.0.0` serves elsewhere (default: JISO_HOST / JISO_PORT, else 127.0.0.1:8000).
run: install
	$(BIN)/jiso db upgrade
	$(BIN)/jiso index
	JISO_DEMO_USER="$${JISO_DEMO_USER:-true}" JISO_IDENTITY_SECRET="$${JISO_IDENTITY_SECRET:-local-demo-secret}" $(BIN)/jiso serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# For writers: check the knowledge, then index it (a running server picks the new index up).
lint: install
	$(BIN)/jiso lint

index: install
	$(BIN)/jiso index

test: install
	bash scripts/test-prereqs.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf var/
