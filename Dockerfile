# One image for the whole platform: the roles, budget and evaluation services, the gateway and their
# migrations. It starts nothing by itself: every container names its command (docker-compose.yml,
# deploy/k8s/), for example
#   uvicorn --factory roles.main:app --host 0.0.0.0 --port 8001 --loop uvloop --http httptools --no-access-log
#   python -m roles seed | python -m budget migrate | python -m evaluation migrate | python -m gateway migrate
# No HEALTHCHECK here: one image serves four processes on four ports, so compose and Kubernetes probe
# each one (/healthz, /readyz) where the port is known.
#
# The image holds what runs and nothing else: the runtime lock (requirements.txt, every release pinned and
# hashed, from the apps' own pyproject.toml dependencies) and the five packages. The tests, linters and
# deployment validators (requirements-dev.txt) and the build backend (requirements-build.txt) stay out.

# Pinned by digest (the multi-architecture index of python:3.11-slim-bookworm, Python 3.11.16): a tag can
# be re-pointed, a digest cannot. Move it deliberately, as a reviewed change (deploy/README.md).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements.txt requirements-build.txt ./
# The runtime environment gets no pip of its own: the base image's pip installs into it (--python).
# --require-hashes: every file must match a hash of the lock; --no-deps: the lock is the whole closure.
RUN python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install --require-hashes --no-deps -r requirements.txt
# A separate environment with the pinned build backend turns the five packages into wheels; it is left
# behind in this stage.
RUN python -m venv /opt/build \
 && /opt/build/bin/python -m pip install --require-hashes --no-deps -r requirements-build.txt
COPY services/ services/
COPY gateway/ gateway/
# Regular installs (not editable): the runtime stage carries no source tree. "./" makes pip read each
# argument as a path, never as a name to look up on an index.
RUN /opt/build/bin/python -m pip wheel --no-deps --no-build-isolation --wheel-dir /wheels \
    ./services/kit ./services/roles ./services/budget ./services/evaluation ./gateway \
 && python -m pip --python /opt/venv/bin/python install --no-deps --no-index /wheels/*.whl

FROM ${PYTHON_IMAGE}
# Bytecode was compiled at install time; the root filesystem is read-only under Kubernetes.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
RUN groupadd --system --gid 10001 arrs \
 && useradd --system --uid 10001 --gid arrs --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin arrs
COPY --from=build /opt/venv /opt/venv
# Owned by root and not writable by the app user: a service started without its <PREFIX>DATABASE_URL
# fails at once instead of quietly creating a SQLite file here.
WORKDIR /app
# Numeric, so Kubernetes can check runAsNonRoot without resolving a user name.
USER 10001:10001
EXPOSE 8000 8001 8002 8003
CMD ["python", "-c", "import sys; sys.exit('arrs-platform: give the command to run, e.g. uvicorn --factory gateway.main:app --host 0.0.0.0 --port 8000 (see deploy/README.md)')"]
