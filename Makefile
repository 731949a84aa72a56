# WaChat: `make run` to try it, `make test` to test it. Needs only Python 3.11.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test test-python test-js lint bench browser clean

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

## test: the whole suite (Python, JavaScript, browser) on the database in DATABASE_URL (default SQLite)
test: $(VENV)/.installed browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest

## browser: Debian's Chromium for the browser tests (installed with apt when root)
browser:
	@bash scripts/ensure-chromium.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) data
