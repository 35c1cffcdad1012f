# The test command of the README: `make test` works on a fresh clone.
# It creates .venv with the pinned toolchain, then runs the static checks and
# every test tier. Tiers that need what this machine lacks (a Dagger engine)
# skip with the reason printed in the summary.

PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test check pytest install clean

test: check pytest

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# pytest exits 5 when it collects nothing: treat that as the failure it is.
pytest: install
	$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
