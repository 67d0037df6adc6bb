# The smart_trader image: the code location, the Dagster webserver and daemon, the sandbox and
# the webhook receiver, all from the locked dependencies (uv.lock). Everything is installed at
# build time; a container starts the installed commands directly and needs no network.
FROM python:3.11.11-slim-bookworm

ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PYTHONUNBUFFERED=1
WORKDIR /opt/smart_trader

# The locked third-party dependencies first (a layer that survives code changes), then the
# project itself, installed non-editable.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY smart_trader ./smart_trader
RUN uv sync --frozen --no-dev --no-editable

# A non-root user owns only the instance folder (compute logs, the in-process sandbox state,
# the receiver's spool: a named volume mounted there starts with this owner).
RUN useradd --system --create-home --uid 10001 dagster \
    && mkdir -p /opt/dagster/home/storage /opt/dagster/home/sandbox \
        /opt/dagster/home/receiver_spool \
    && cp smart_trader/deploy/dagster.yaml /opt/dagster/home/dagster.yaml \
    && chown -R dagster /opt/dagster/home
ENV PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    SMART_TRADER_SANDBOX_STATE_DIR=/opt/dagster/home/sandbox
USER dagster

EXPOSE 3000 4000 8900
# The code location as a gRPC code server; docker-compose.yml gives each service its command.
CMD ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", "4000", "--module-name", "smart_trader.definitions"]
