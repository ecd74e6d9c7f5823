# The two commands of README.rst: `make demo` (the main job) and `make test`.
# Each creates .venv if it is absent and installs the package under constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= test,birdnet,opensmile,docs

.PHONY: demo test doc bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23" "setuptools>=61" wheel "numpy<2" -c constraints.txt

$(STAMP): $(BIN)/python setup.cfg constraints.txt pyproject.toml
	$(BIN)/python -m pip install --quiet -c constraints.txt "numpy<2" -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rbfm demo --out demo_output

test: $(STAMP)
	$(BIN)/python -m pytest

doc: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html doc doc/_build/html

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info doc/_build doc/auto_examples doc/generated
