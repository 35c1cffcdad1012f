# The test command of the README: `make test` works on a fresh clone.
# It creates .venv with the pinned toolchain, then runs the static checks and
# every test tier. Tiers that need what this machine lacks (a Dagger engine)
# skip with the reason printed in the summary.

PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test hooks pytest install clean

# The git hooks are the static checks: ruff, mypy, yamllint, actionlint,
# schemas, hadolint, shellcheck, cfn-lint, the deploy/ checks and the docs
# build. CI runs exactly what a developer's commit runs.
test: hooks pytest

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# Node tools of the tests (npm-groovy-lint for the Jenkinsfile), pinned in
# package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The Node reference service's own dependencies (pg, ESLint), pinned in its
# package-lock.json: the integration tier and the service-lint-node hook run
# its suites and lint from examples/node-service, next to them, as its
# Dockerfile's test stage does in /app.
NODE_SERVICE := examples/node-service
$(NODE_SERVICE)/node_modules/.installed: $(NODE_SERVICE)/package.json $(NODE_SERVICE)/package-lock.json
	npm ci --prefix $(NODE_SERVICE) --no-audit --no-fund --ignore-scripts
	touch $@

# What pre-commit installs this repository's hooks from (.pre-commit-hooks.yaml:
# this package, its build backend and its pinned dependencies), downloaded once
# so the hooks' test (tests/integration/test_service_hooks.py) installs them
# offline, as a service repository's pre-commit does from PyPI.
WHEELHOUSE := build/wheelhouse
BUILD_BACKEND = $(shell $(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'])")
$(WHEELHOUSE)/.downloaded: pyproject.toml constraints.txt $(BIN)/.installed
	$(BIN)/python -m pip download --quiet --dest $(WHEELHOUSE) -c constraints.txt $(BUILD_BACKEND) .
	touch $@

install: $(BIN)/.installed node_modules/.installed $(NODE_SERVICE)/node_modules/.installed $(WHEELHOUSE)/.downloaded

hooks: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure

# pytest exits 5 when it collects nothing: treat that as the failure it is.
pytest: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$rc

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site $(NODE_SERVICE)/node_modules $(WHEELHOUSE)
