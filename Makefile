# The platform's commands. `make run` and `make test` bootstrap everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := services/kit services/roles services/budget services/evaluation gateway
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: run test lint format bench demo migrate validate-deploy clean lock

# The locks, each complete and every entry hashed (make lock): what the apps run (the image installs only
# this one), the build backend of the five packages, and what development adds (tests, lint, validators).
LOCKS := requirements.txt requirements-build.txt requirements-dev.txt

# pip installs exactly what the locks list (--no-deps) and checks every file against its hashes.
$(STAMP): $(LOCKS) $(PYPROJECTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps $(addprefix -r ,$(LOCKS))
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

## lock: rewrite the three locks with pip-compile, keeping every pin they hold (LOCK_ARGS=--upgrade moves them)
# The runtime lock comes from the apps' own `dependencies` (their pyproject.toml, less the arrs-* packages,
# which are the five themselves); requirements/build.in and requirements/dev.in are the other two's.
# All hashes of each pinned release are kept, so the image builds on any platform PyPI has wheels for.
APP_DEPENDENCIES := import sys, tomllib; print(*sorted({d for f in sys.argv[1:] for d in tomllib.load(open(f, "rb"))["project"]["dependencies"] if not d.startswith("arrs-")}), sep="\n")
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes --strip-extras \
	--no-emit-index-url --no-emit-find-links --allow-unsafe $(LOCK_ARGS)
lock: $(STAMP)
	$(BIN)/python -c '$(APP_DEPENDENCIES)' $(PYPROJECTS) > $(VENV)/runtime.in
	$(PIP_COMPILE) --output-file requirements.txt - < $(VENV)/runtime.in
	sed -e 's/-r -$$/an app'"'"'s pyproject.toml/' requirements.txt > requirements.txt.tmp && mv requirements.txt.tmp requirements.txt
	$(PIP_COMPILE) --output-file requirements-build.txt requirements/build.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements/dev.in

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
