# The two commands of the README's quick start, and a few more for contributors.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: serve test check bench fuzz clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

## serve: set up .venv and run the broker with embedded defaults (TCP 127.0.0.1:61613)
serve: $(VENV)/.installed
	$(VENV)/bin/stompbox serve

## test: set up .venv and run the whole suite: ruff, mypy and pytest
test: $(VENV)/.installed
	PATH="$(abspath $(VENV))/bin:$$PATH" scripts/check

## bench: print the protocol and broker benchmark figures
bench: $(VENV)/.installed
	$(PY) benchmarks/protocol.py
	$(PY) benchmarks/broker.py

## fuzz: run the parser fuzz target for a minute (FUZZ_SECONDS to change)
fuzz: $(VENV)/.installed
	$(PY) fuzz/fuzz_parser.py --seconds $${FUZZ_SECONDS:-60}

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
