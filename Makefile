# wassml: the two commands of the README are `make demo` and `make test`.
# Both create .venv and install everything they need on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FMNIST := /usr/share/datasets/fashion-mnist
export JAX_COMPILATION_CACHE_DIR ?= $(CURDIR)/.cache/jax
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0.5
export PYTHONUNBUFFERED := 1

.PHONY: setup data demo test test-slow bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

# Fashion-MNIST is real data shipped by Debian; install it when we can (root + apt).
data:
	@if [ ! -f $(FMNIST)/train-images-idx3-ubyte.gz ] && [ -z "$$WASSML_DATA_DIR" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Fashion-MNIST: apt-get install -y dataset-fashion-mnist"; \
	    (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null)) || \
	     echo "WARNING: could not install dataset-fashion-mnist; Fashion-MNIST runs will say how to get it."; \
	  else \
	    echo "NOTE: Fashion-MNIST missing; run: sudo apt-get install dataset-fashion-mnist"; \
	  fi; \
	fi

setup: $(STAMP) data

# Main job: a tour of every wassml family on offline data, with an HTML report.
demo: setup
	$(BIN)/wassml tour --workdir runs/tour

# Test suite (fast; paper-scale runs are marked slow and excluded).
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

test-slow: setup
	$(BIN)/python -m pytest -m slow -q

bench: setup
	$(BIN)/python -m experiments.bench_ot.main --workdir runs/bench_ot

clean:
	rm -rf $(VENV) .cache runs
