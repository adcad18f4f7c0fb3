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

.PHONY: setup data demo test test-slow bench bench-train docs clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

# Offline real data shipped by Debian: Fashion-MNIST (IDX files) and the fortunes corpus (text).
# Installed when we can (root + apt); otherwise the loaders' errors give the command.
APT_DATA := dataset-fashion-mnist fortunes
data:
	@missing=""; \
	[ -f $(FMNIST)/train-images-idx3-ubyte.gz ] || [ -n "$$WASSML_DATA_DIR" ] || missing="$$missing dataset-fashion-mnist"; \
	[ -d /usr/share/games/fortunes ] && ls /usr/share/games/fortunes/science >/dev/null 2>&1 || missing="$$missing fortunes"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing offline data:$$missing"; \
	    (apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $$missing >/dev/null)) || \
	     echo "WARNING: could not install$$missing; the loaders will say how to get them."; \
	  else \
	    echo "NOTE: offline data missing; run: sudo apt-get install --no-install-recommends$$missing"; \
	  fi; \
	fi

setup: $(STAMP) data

# Main job: a tour of every wassml family on offline data, with an HTML report.
demo: setup
	$(BIN)/wassml tour --workdir runs/tour

# Test suite (fast; paper-scale runs are marked slow and excluded).
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile -q --durations=25

test-slow: setup
	$(BIN)/python -m pytest -m slow -q

bench: setup
	$(BIN)/python -m experiments.bench_ot.main --workdir runs/bench_ot

# Training speed against PyTorch (installs the bench extra, torch==2.13.0, into .venv).
bench-train: setup data
	$(BIN)/pip install -q -c constraints.txt -e ".[bench]"
	WASSML_PROGRESS=0 $(BIN)/python -m experiments.bench_train.main --workdir runs/bench_train

# API docs from the docstrings (pdoc) into site/, and the results page.
docs: setup
	$(BIN)/wassml results-page
	$(BIN)/python -m pdoc -o site wassml

clean:
	rm -rf $(VENV) .cache runs
