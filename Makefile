# Product Ops Workbook — every target creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := data/demo.duckdb
TEST_WORKERS ?= 2  # make test: pytest-xdist workers (files spread over them; 1 for one process)
PIP_FLAGS := --quiet --disable-pip-version-check --no-warn-script-location

.DEFAULT_GOAL := help
.PHONY: help run test test-fast validate serve lab bench lint format demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing the workbook into $(VENV) (first run takes a few minutes)"
	@$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip 2>/dev/null
	@$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
	@$(BIN)/python -c "import helpers, papermill, ibis" || (echo "install failed" >&2; exit 1)
	@$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

$(DEMO): | $(STAMP)
	$(BIN)/workbook demo-data --out $(DEMO)

demo: $(DEMO) ## build the embedded demo warehouse (data/demo.duckdb) if absent

run: $(STAMP) $(DEMO) ## run every team's notebooks (creates .venv and the demo warehouse first)
	$(BIN)/workbook run --all || [ $$? -eq 5 ]  # 5: everything was up to date

test: $(STAMP) ## run the whole test suite (lint included)
	$(BIN)/ruff check src tests notebooks benchmarks validation
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=20 $(PYTEST_ARGS)

test-fast: $(STAMP) ## unit tests only: no kernels, no browser, no server (under 2 minutes)
	$(BIN)/ruff check src tests notebooks benchmarks validation
	$(BIN)/python -m pytest -m "not slow" -q -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

validate: $(STAMP) ## the statistical validation suite: calibration tables written to docs/
	$(BIN)/python -m validation --jobs 2

serve: $(STAMP) ## serve the PM dashboards on Voila at http://127.0.0.1:8866
	$(BIN)/workbook serve

LAB_PORT ?= 8888
LAB_FLAGS ?=
lab: $(STAMP) ## JupyterLab on the notebooks (LAB_PORT=8888; LAB_FLAGS=--no-browser on a server)
	$(BIN)/jupyter lab notebooks --port=$(LAB_PORT) --ServerApp.port_retries=0 $(LAB_FLAGS) $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: $(STAMP) ## run the benchmarks (and the validation suite) and write benchmarks/results.md
	$(BIN)/python -m validation --jobs 2
	$(BIN)/python -m benchmarks

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check src tests notebooks benchmarks validation
	$(BIN)/ruff format --check src tests benchmarks validation

format: $(STAMP) ## ruff format in place
	$(BIN)/ruff format src tests benchmarks validation
	$(BIN)/ruff check --fix src tests notebooks benchmarks validation

clean: ## remove the venv and generated data (never outputs/)
	rm -rf $(VENV) $(DEMO) data/demo.truth.json
