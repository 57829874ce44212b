# Two commands do all setup: `make demo` and `make test`. Each creates .venv if missing and installs
# the project with its dev extras first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint typecheck coverage clean bench-peers

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crossmargin check --compare examples/case_study.toml
	$(BIN)/crossmargin backtest case-study --mode both --plot out/case-study.html
	$(BIN)/crossmargin report examples/case_study.toml --pdf out/checklist.pdf --html out/checklist.html
	@echo "Risk Checklist: out/checklist.pdf (and out/checklist.html)"
	@echo "Dashboard: run '$(BIN)/crossmargin serve' and open http://127.0.0.1:8765/ (the case study is loaded)"

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

test: check
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report --include='src/crossmargin/margin/*,src/crossmargin/venues/*' --fail-under=100

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .coverage .hypothesis

# Peer benchmarks (benchmarks/peers.py) in their own venv, so the peers' pins never move .venv's numba or pandas.
bench-peers:
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --upgrade pip
	.venv-bench/bin/python -m pip install --quiet -e '.[dev,bench]'
	.venv-bench/bin/python benchmarks/peers.py
