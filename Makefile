# Set-up and the two main commands. Each target creates .venv when it is
# missing and installs the project with its extras. torch is pinned to the
# release whose CPU build the development machines carry locally.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# PyPI's Linux torch wheels are CUDA builds. Where no CPU wheel is at hand,
# pass PyTorch's CPU wheel index, e.g. `make test TORCH_INDEX_URL=<index>`.
TORCH_INDEX_URL ?=
TORCH_INDEX := $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL),)
STAMP := $(VENV)/.installed

.PHONY: install test benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e ".[sim,test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

benchmark: $(STAMP)
	$(BIN)/fm4npp-geo benchmark $(ARGS)

clean:
	rm -rf $(VENV) outputs
