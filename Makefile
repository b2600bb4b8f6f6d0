# Set-up and the two everyday commands. `make demo` and `make test` create .venv on
# first use: torch first (the CPU build when there is no NVIDIA GPU, so no CUDA
# wheels are downloaded), then minir1 with its test tools.
PYTHON ?= python3
VENV ?= .venv
TORCH_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# One retry, not pip's five, against the CPU index: where it cannot be reached, each of torch's
# dependencies would wait out five retries with back-off before falling back to PyPI.
TORCH_PIP_OPTS ?= --retries 1
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "minir1 needs Python 3.11 or newer; $(PYTHON) is missing or older:" \
		"make $(MAKECMDGOALS) PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if $(BIN)/python -c "import torch" 2>/dev/null; then echo "torch already installed"; \
	elif command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/python -m pip install -q "torch>=2.6"; \
	else $(BIN)/python -m pip install -q $(TORCH_PIP_OPTS) "torch==$(TORCH_VERSION)" --extra-index-url $(TORCH_CPU_INDEX); fi
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/minir1 demo --overwrite

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not real"

lint: setup
	$(BIN)/ruff check src tests bench

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
