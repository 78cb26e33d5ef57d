# Otto's container image: one small runtime image with the `otto-server` binary, run as
# `serve` (the HTTP API) or `worker` (background jobs). Build with BuildKit:
#   docker build -t otto .
#   docker run -p 8000:8000 otto                      # the embedded default (SQLite in /app/data)
#   docker run -e DATABASE_URL=... -e REDIS_URL=... otto worker

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target directory between builds; the binary
# is copied out because the target directory is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_INCREMENTAL=0 cargo build --release --locked -p otto-server --bin otto-server \
    && cp target/release/otto-server /usr/local/bin/otto-server

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --create-home otto
COPY --from=build /usr/local/bin/otto-server /usr/local/bin/otto-server
USER otto
WORKDIR /app
ENV HOST=0.0.0.0 \
    PORT=8000 \
    OTTO_WORKER_PORT=9101 \
    OTTO_DATA_DIR=/app/data
# serve's metrics listen on 127.0.0.1:9100 (OTTO_METRICS_ADDR) inside the container;
# to scrape from outside, set OTTO_METRICS_ADDR=0.0.0.0:9100 and OTTO_METRICS_TOKEN,
# and publish that port only to the monitoring network (docs/operations.md).
EXPOSE 8000 9101
# Liveness of `serve`; a worker answers /health on OTTO_WORKER_PORT instead (the
# deploy example checks each process type on its own port).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" || curl -fsS "http://127.0.0.1:${OTTO_WORKER_PORT}/health" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["otto-server"]
CMD ["serve"]
