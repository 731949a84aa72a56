# WaChat: `make run` to try it, `make test` to test it. Needs only Python 3.11.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench browser clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "WaChat needs $(PYTHON) (set PYTHON=... to use another)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: install, migrate, create the demo logins, serve web + worker + WhatsApp emulator
run: $(VENV)/.installed
	WACHAT_DEV=1 $(PY) manage.py migrate --no-input -v 0
	@echo "Demo logins:"
	@WACHAT_DEV=1 $(PY) manage.py demo_setup
	@WACHAT_DEV=1 $(PY) manage.py urls_banner
	WACHAT_DEV=1 exec $(PY) manage.py serve

JS_TESTS := wachat/widget/tests/js

## test: the whole suite (Python, JavaScript, browser) on the database in DATABASE_URL (default SQLite)
test: $(VENV)/.installed browser $(JS_TESTS)/node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	node --test $(JS_TESTS)/
	$(PY) -m pytest

# axe-core for the accessibility checks in the browser tests, from the lockfile.
$(JS_TESTS)/node_modules/.installed: $(JS_TESTS)/package-lock.json
	@command -v npm >/dev/null || { echo "The tests need Node.js 20+ and npm: sudo apt-get install -y nodejs npm"; exit 1; }
	npm ci --silent --no-audit --no-fund --prefix $(JS_TESTS)
	touch $@

## browser: Debian's Chromium for the browser tests (installed with apt when root)
browser:
	@bash scripts/ensure-chromium.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## bench: performance numbers (webhook ingest, widget size and speed); never part of `make test`
bench: $(VENV)/.installed browser $(JS_TESTS)/node_modules/.installed
	@bash scripts/ensure-wrk.sh
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) data
