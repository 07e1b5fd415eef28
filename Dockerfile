# syntax=docker/dockerfile:1
# One image for every Baton service; the command picks the service:
#   docker run baton serve routing --port 8003
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Metadata first so the dependency layer is cached until pyproject.toml changes.
COPY pyproject.toml README.md ./
COPY baton ./baton
COPY shared ./shared
COPY services ./services
# Build a wheel, then install it (not the source tree) so the runtime venv holds no sources
# beyond the package and every .pyc is compiled here: the runtime filesystem is read-only.
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install /wheels/*.whl \
    && python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE} AS runtime
ARG BATON_UID=10001
LABEL org.opencontainers.image.title="baton" \
      org.opencontainers.image.description="Event-driven lead routing" \
      org.opencontainers.image.source="https://github.com/baton-dev/baton" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid "${BATON_UID}" baton \
    && useradd --system --uid "${BATON_UID}" --gid baton --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin baton
COPY --from=builder /opt/venv /opt/venv
# HOME and TMPDIR point at /tmp, the only writable path (an emptyDir in Kubernetes).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    BATON_LOG_FORMAT=json
WORKDIR /tmp
USER ${BATON_UID}:${BATON_UID}
EXPOSE 8001 8002 8003 8004
# The image does not know which service the command starts, so the check passes when any
# Baton port answers /healthz (liveness only: no database or broker involved).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request\nfor port in (8001, 8002, 8003, 8004):\n    try:\n        urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=1)\n        sys.exit(0)\n    except OSError:\n        pass\nsys.exit(1)"]
ENTRYPOINT ["baton"]
CMD ["serve", "ingest"]
