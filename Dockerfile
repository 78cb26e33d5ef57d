# Otto's container image: one small runtime image with the `otto-server` binary, run as
# `serve` (the HTTP API) or `worker` (background jobs). Build with BuildKit:
#   docker build -t otto .
#   docker run -p 8000:8000 otto                      # the embedded default (SQLite in /app/data)
#   docker run -e DATABASE_URL=... -e REDIS_URL=... otto worker
# or from a release binary already built on the host (Debian 12 / glibc 2.36 or older),
# without the Rust image (what `make image` does with podman, and CI):
#   cargo build --release --locked -p otto-server --bin otto-server
#   docker build --build-arg BINARY_FROM=prebuilt -t otto .

# Where the binary comes from: `build` compiles it in the Rust image, `prebuilt` copies
# target/release/otto-server from the build context. Pass it explicitly to buildah and
# podman, which ignore this default when they choose stages.
ARG BINARY_FROM=build

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target directory between builds; the binary
# is copied out because the target directory is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_INCREMENTAL=0 cargo build --release --locked -p otto-server --bin otto-server \
    && cp target/release/otto-server /usr/local/bin/otto-server

FROM scratch AS prebuilt
COPY target/release/otto-server /usr/local/bin/otto-server

FROM ${BINARY_FROM} AS binary

FROM debian:bookworm-slim AS runtime
# ca-certificates: the providers' TLS roots; curl: the HEALTHCHECK. No package lists,
# caches or logs stay behind.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
        /var/log/apt /var/log/dpkg.log /var/log/alternatives.log \
    && useradd --system --user-group --uid 10001 --home-dir /app --create-home otto \
    && install -d -o otto -g otto -m 0700 /app/data
COPY --from=binary /usr/local/bin/otto-server /usr/local/bin/otto-server
USER otto
WORKDIR /app
# The embedded default keeps its SQLite database and API token key in /app/data: mount
# a volume there (the image's directory, owned by otto, seeds a new named volume), so
# the root filesystem can be read-only (`--read-only`).
ENV HOST=0.0.0.0 \
    PORT=8000 \
    OTTO_WORKER_PORT=9101 \
    OTTO_DATA_DIR=/app/data
# serve's metrics listen on 127.0.0.1:9100 (OTTO_METRICS_ADDR) inside the container;
# to scrape from outside, set OTTO_METRICS_ADDR=0.0.0.0:9100 and OTTO_METRICS_TOKEN,
# and publish that port only to the monitoring network (docs/operations.md).
EXPOSE 8000 9101
# Liveness: serve answers /health on PORT, a worker on OTTO_WORKER_PORT (the deploy
# example checks each process type on its own port). Podman keeps a HEALTHCHECK only
# in the docker image format (`podman build --format docker`).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
    CMD curl -fsS --max-time 2 "http://127.0.0.1:${PORT}/health" \
        || curl -fsS --max-time 2 "http://127.0.0.1:${OTTO_WORKER_PORT}/health" || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["otto-server"]
CMD ["serve"]
