# Two commands for users: `make run` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format lock messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Runtime dependencies, exactly as locked (hashes checked), then the project itself.
$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(STAMP)-dev: $(STAMP) requirements-dev.lock
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	touch $@

run: $(STAMP)
	$(BIN)/minyi db upgrade
	$(BIN)/minyi seed demo
	$(BIN)/minyi run

test: $(STAMP)-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the lock files after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --quiet -o requirements.lock
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet -o requirements-dev.lock

# Refresh the message catalogue after changing user-facing text; then translate the new entries.
messages: $(STAMP)-dev
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --omit-header --no-wrap -o var/messages.pot .
	$(BIN)/pybabel update -i var/messages.pot -d shared/translations --no-wrap --ignore-obsolete

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
