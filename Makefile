# Two commands set everything up on a fresh machine: `make lab` and `make test`.
# Both create .venv with Python 3.11 or newer and install the toolkit into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_PORT ?= 8888
DASHBOARD_PORT ?= 8866

.PHONY: lab dashboard test install lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# JupyterLab on 127.0.0.1 only, opened on the notebooks folder.
lab: $(STAMP)
	$(BIN)/python -m toolkit.lab --port $(LAB_PORT)

# The triage notebook as a web page without code (Voilà), with the sandbox, on 127.0.0.1 only.
dashboard: $(STAMP)
	$(BIN)/python -m toolkit.dashboard --port $(DASHBOARD_PORT)

lint: $(STAMP)
	$(BIN)/ruff check toolkit tests
	$(BIN)/mypy

# 1 when this machine can install the Debian packages (root with apt-get): then a
# missing or failing Dovecot or Postfix fails the tests instead of skipping them.
REQUIRE_REAL_SERVERS := $(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo 1 || echo 0)

# The whole suite: lint and types, unit and integration tests (the sandbox and real
# Dovecot and Postfix on 127.0.0.1), and every notebook under nbval.
test: $(STAMP) lint
	scripts/install-system-packages
	scripts/install-browser
	MAILDIAG_REQUIRE_REAL_SERVERS=$(REQUIRE_REAL_SERVERS) MAILDIAG_REQUIRE_BROWSER=$(REQUIRE_REAL_SERVERS) $(BIN)/pytest tests notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
