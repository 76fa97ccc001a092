# The platform's commands. `make run` and `make test` bootstrap everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := services/kit services/roles services/budget services/evaluation gateway
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: run test lint format bench demo migrate validate-deploy clean lock

$(STAMP): requirements.txt $(PYPROJECTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation $(addprefix -e ,$(PACKAGES))
	@touch $(STAMP)

## run: migrate and seed every database, then serve the gateway (:8000) and the services (:8001-8003)
run: $(STAMP)
	$(BIN)/python -m tools.run

## migrate: bring every service's database to head (seeding the catalogue)
migrate: $(STAMP)
	$(BIN)/python -m tools.run --migrate-only

## test: lint, type-check and run the whole suite (PostgreSQL tests are mandatory when CI=true)
# In TEST_WORKERS processes (pytest-xdist), each test module in one of them (its fixtures stay together).
TEST_WORKERS ?= 2
test: $(STAMP) lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@# Each app's tests/ is checked on its own: they share the module name `tests`.
	for dir in $(wildcard services/*/tests gateway/tests); do $(BIN)/mypy $$dir || exit 1; done

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## validate-deploy: check docker-compose.yml, the Dockerfile and deploy/k8s offline
validate-deploy: $(STAMP)
	$(BIN)/python -m pytest tests/contract/test_deploy.py -q

## bench: the benchmarks in bench/ (results go to bench/RESULTS.md)
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## demo: load the national synthetic data set through a running platform (GATEWAY_URL; SMALL=1: two ICBs); README "A national data set"
demo: $(STAMP)
	$(BIN)/python -m tools.demo

# --all keeps setuptools pinned: the editable installs above build with the venv's own (--no-build-isolation).
lock: $(STAMP)
	{ echo "# Every dependency of the platform and its tests, pinned. Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --all --exclude-editable | grep -v -e '^-e' -e '^pip=='; } > requirements.txt

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
