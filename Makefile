# The two commands of the README's quick start, and a few more for contributors.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: serve test check services bench bench-report fuzz examples docs dist clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

## serve: set up .venv and run the broker with embedded defaults
##        (STOMP over TCP on 127.0.0.1:61613, over WebSocket on ws://127.0.0.1:15674/ws)
serve: $(VENV)/.installed
	$(VENV)/bin/stompbox serve

## test: set everything up (venv, npm packages, Chromium, RabbitMQ, ActiveMQ) and run
##       the whole suite
test: $(VENV)/.installed node_modules/.installed services
	PATH="$(abspath $(VENV))/bin:$$PATH" scripts/check

## services: install and start what the interop and browser tests talk to
services:
	scripts/browser.sh
	scripts/rabbitmq.sh start
	scripts/activemq.sh start

## check: ruff, mypy and pytest only (tests needing RabbitMQ, ActiveMQ or Chromium skip
##        without them)
check: $(VENV)/.installed
	PATH="$(abspath $(VENV))/bin:$$PATH" scripts/check

## examples: run the chat example on http://127.0.0.1:8000/
examples: $(VENV)/.installed node_modules/.installed
	$(PY) examples/chat/app.py

## bench: print the protocol and broker benchmark figures
bench: $(VENV)/.installed
	$(PY) benchmarks/protocol.py
	$(PY) benchmarks/broker.py

## bench-report: measure stompbox beside RabbitMQ and regenerate docs/performance.md's table
##               and plots (BENCH_ARGS for broker.py, e.g. BENCH_ARGS="--seconds 2")
BENCH_JSON ?= build/bench/broker.json
bench-report: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[bench]'
	scripts/rabbitmq.sh start
	$(PY) benchmarks/broker.py --json $(BENCH_JSON) $(BENCH_ARGS)
	$(PY) benchmarks/report.py $(BENCH_JSON) --plots docs --doc docs/performance.md

## fuzz: run the parser fuzz target for a minute (FUZZ_SECONDS to change)
fuzz: $(VENV)/.installed
	$(PY) fuzz/fuzz_parser.py --seconds $${FUZZ_SECONDS:-60}

## docs: build the docs site (docs/*.md and the API reference) into build/site, strictly
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

## dist: build the sdist and the wheel into dist/ (pip install dist/stompbox-*.whl)
dist: $(VENV)/.installed
	rm -rf dist
	$(PY) -m build --outdir dist

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache .hypothesis
